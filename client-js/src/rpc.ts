// Function calls in flight: each is answered once, by its res frame, its
// timeout or the loss of the connection it was sent on, whichever comes
// first; the others then find nothing to settle.
import { disconnectedError, HotstateError, timeoutError } from "./errors.js";
import type { Overlay } from "./optimistic.js";
import { encodeFrame, rpcFrame, type ResFrame } from "./protocol.js";

/** CallOptions show a call's expected effect on a store before the server answers. */
export interface CallOptions<S = any> {
  /** store is the full name of the store the optimistic function changes. */
  store?: string;
  /** optimistic returns the state to show until the call settles; it must not mutate its argument. */
  optimistic?: (state: S) => S;
}

export interface CallHost {
  send(bytes: Uint8Array): boolean;
  overlay(store: string, o: Overlay, add: boolean): void;
}

interface Pending {
  bytes: Uint8Array;
  sent: boolean;
  timer: ReturnType<typeof setTimeout>;
  resolve(value: unknown): void;
  reject(err: Error): void;
  store?: string;
  overlay?: Overlay;
}

export class Calls {
  #pending = new Map<number, Pending>();
  #last = 0;
  #host: CallHost;
  #timeoutMs: number;

  constructor(host: CallHost, timeoutMs: number) {
    this.#host = host;
    this.#timeoutMs = timeoutMs;
  }

  call<R>(name: string, args: unknown, opts: CallOptions | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      do this.#last = (this.#last % 0xffffffff) + 1;
      while (this.#pending.has(this.#last));
      const id = this.#last;
      const bytes = encodeFrame(rpcFrame(id, name, args));
      const p: Pending = {
        bytes,
        sent: false,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(() => this.#settle(id, timeoutError()), this.#timeoutMs),
      };
      this.#pending.set(id, p);
      if (opts?.store !== undefined && opts.optimistic) {
        p.store = opts.store;
        p.overlay = { id, fn: opts.optimistic };
        this.#host.overlay(p.store, p.overlay, true);
      }
      p.sent = this.#host.send(bytes);
    });
  }

  /** flush sends the calls made while no socket was open, oldest first. */
  flush(): void {
    for (const p of this.#pending.values()) if (!p.sent) p.sent = this.#host.send(p.bytes);
  }

  onRes(f: ResFrame): void {
    if (f.x) this.#settle(f.i, new HotstateError(String(f.x.m), String(f.x.c)));
    else this.#settle(f.i, undefined, f.r ?? null);
  }

  /** lost fails the calls sent on a connection that is gone: their answers can no longer arrive. */
  lost(): void {
    for (const [id, p] of this.#pending) if (p.sent) this.#settle(id, disconnectedError());
  }

  /** failAll fails every call, sent or not. */
  failAll(err: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, err);
  }

  #settle(id: number, err: Error | undefined, value?: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (p.overlay) this.#host.overlay(p.store!, p.overlay, false);
    if (err) p.reject(err);
    else p.resolve(value);
  }
}
