// One store as the client holds it: the server's state, the view with
// optimistic overlays on top, and the handles that read it. However many
// handles there are, the server sees one subscription.
import { backoffDelay } from "./backoff.js";
import { disconnectedError } from "./errors.js";
import { safeCall } from "./emitter.js";
import { overlay, type Overlay } from "./optimistic.js";
import { applyPatch } from "./patch.js";
import { subFrame, type PatchFrame, type SnapFrame, type SubFrame } from "./protocol.js";

/** StoreHandle is what subscribe returns: one independent reader of a store. */
export interface StoreHandle<T = unknown> {
  readonly name: string;
  /** getState returns the state with optimistic updates applied, undefined before the first snapshot. */
  getState(): T | undefined;
  /** getServerState returns the last state the server confirmed. */
  getServerState(): T | undefined;
  /** hasData tells whether a snapshot has arrived. */
  hasData(): boolean;
  /** ready resolves with the state once a snapshot has arrived and rejects if the server refuses the store. */
  ready(): Promise<T>;
  /** unsubscribe stops this handle's updates; the last handle of a store ends its subscription. */
  unsubscribe(): void;
  /**
   * getError returns what ended the handle: the server refused the store
   * (a HotstateError with its code), sent a snapshot of it that cannot be
   * decoded, or deleted it; or the client was destroyed. It is undefined
   * while the handle lives.
   */
  getError(): Error | undefined;
}

/** Host is what a record needs from the client. */
export interface Host {
  send(frame: SubFrame): void;
  changed(rec: StoreRecord): void;
  release(rec: StoreRecord): void;
  error(err: unknown): void;
}

type Waiter = [resolve: (state: any) => void, reject: (err: Error) => void];

export class StoreRecord {
  readonly name: string;
  readonly handles = new Set<Handle<any>>();
  server: unknown;
  view: unknown;
  has = false;
  // stale: the state may not be resumed from; a snapshot is on its way.
  stale = false;
  epoch = "";
  version = 0;
  error: Error | undefined;
  // refused: the server will not serve the store, so whatever it showed
  // before is no longer ready.
  refused = false;
  overlays: Overlay[] = [];
  #waiters: Waiter[] = [];
  #host: Host;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;

  constructor(name: string, host: Host) {
    this.name = name;
    this.#host = host;
  }

  /** subFrame asks to resume from the state held, or for a snapshot. */
  subFrame(): SubFrame {
    return this.has && !this.stale ? subFrame(this.name, this.epoch, this.version) : subFrame(this.name);
  }

  onSnap(f: SnapFrame): void {
    this.server = f.d;
    this.epoch = f.e;
    this.version = f.v;
    this.has = true;
    this.stale = false;
    this.#attempt = 0;
    this.refresh();
    for (const [resolve] of this.#waiters.splice(0)) resolve(this.view);
  }

  onPatch(f: PatchFrame): void {
    if (!this.has || this.stale) return; // a snapshot is on its way
    if (f.e === this.epoch && f.v <= this.version) return; // a duplicate
    if (f.e !== this.epoch || f.v !== this.version + 1) return this.resync();
    let next: unknown;
    try {
      next = applyPatch(this.server, f.o);
    } catch (err) {
      this.#host.error(err);
      return this.resync();
    }
    this.server = next;
    this.version = f.v;
    this.refresh();
  }

  /** resync drops the claim to the state held and asks for a snapshot. */
  resync(): void {
    this.stale = true;
    this.#host.send(this.subFrame());
  }

  /**
   * retry asks for the store again after a backoff, once the server has
   * refused it for now. Another refusal before then changes nothing: the
   * same request answers both.
   */
  retry(maxMs: number): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#host.send(this.subFrame());
    }, backoffDelay(this.#attempt++, 100, maxMs));
  }

  /** cancel drops a pending retry and starts the backoff over. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#attempt = 0;
  }

  /**
   * end stops every handle: the store was deleted, or refused (then ready
   * rejects even after a snapshot), or the client destroyed.
   */
  end(err: Error = disconnectedError(), refused = false): void {
    this.cancel();
    this.error = err;
    this.refused = refused;
    for (const [, reject] of this.#waiters.splice(0)) reject(err);
    this.handles.clear();
  }

  /** refresh recomputes the view and tells whoever reads it if it changed. */
  refresh(): void {
    const view = this.has ? overlay(this.server, this.overlays, (e) => this.#host.error(e)) : undefined;
    if (view === this.view) return;
    this.view = view;
    for (const h of this.handles) h.deliver();
    this.#host.changed(this);
  }

  ready(): Promise<any> {
    if (this.has && !this.refused) return Promise.resolve(this.view);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.#waiters.push([resolve, reject]));
  }

  drop(h: Handle<any>): void {
    if (this.handles.delete(h) && this.handles.size === 0) this.#host.release(this);
  }
}

export class Handle<T = unknown> implements StoreHandle<T> {
  readonly name: string;
  #rec: StoreRecord;
  #onChange: ((state: T) => void) | undefined;
  #seen: unknown;

  constructor(rec: StoreRecord, onChange?: (state: T) => void) {
    this.name = rec.name;
    this.#rec = rec;
    this.#onChange = onChange;
    rec.handles.add(this);
    // A store that already has data shows it to the new handle too.
    if (rec.has) queueMicrotask(() => this.deliver());
  }

  getState(): T | undefined {
    return this.#rec.view as T | undefined;
  }

  getServerState(): T | undefined {
    return this.#rec.server as T | undefined;
  }

  hasData(): boolean {
    return this.#rec.has;
  }

  ready(): Promise<T> {
    return this.#rec.ready();
  }

  unsubscribe(): void {
    this.#rec.drop(this);
  }

  getError(): Error | undefined {
    return this.#rec.error;
  }

  deliver(): void {
    const rec = this.#rec;
    if (this.#onChange && rec.has && rec.handles.has(this) && rec.view !== this.#seen) {
      this.#seen = rec.view;
      safeCall(this.#onChange, rec.view as T);
    }
  }
}
