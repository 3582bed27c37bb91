// The hotstate client: `import Hotstate from "hotstate/client"`.
import { Connection, type Status, type UrlSource, type WebSocketConstructor } from "./connection.js";
import { Emitter, safeCall } from "./emitter.js";
import { disconnectedError, HotstateError } from "./errors.js";
import type { Overlay } from "./optimistic.js";
import { envelope, PROTOCOL_VERSION, type Frame } from "./protocol.js";
import { Calls, type CallOptions } from "./rpc.js";
import type { ArgsOf, ArgsParam, EventData, EventName, FunctionName, ResultOf, SchemaLike, StateOf, StoreName, TypedCallOptions } from "./schema.js";
import { Handle, StoreRecord, type Host, type StoreHandle } from "./subscription.js";
import { Binding, type ZustandLike } from "./zustand.js";

export type { Status, UrlSource, WebSocketConstructor, WebSocketLike } from "./connection.js";
export type { CallOptions } from "./rpc.js";
export type { StoreHandle } from "./subscription.js";
export type {
  ArgsOf,
  ArgsParam,
  EventData,
  EventName,
  FunctionName,
  LifecycleData,
  ResultOf,
  SchemaLike,
  StateOf,
  StoreName,
  StoresOf,
  TypedCallOptions,
} from "./schema.js";
export type { BoundState, ZustandLike } from "./zustand.js";
export { HotstateError } from "./errors.js";

/** HotstateOptions configure a client; every field has a default. */
export interface HotstateOptions {
  /** reconnect after losing the connection. Default true. */
  reconnect?: boolean;
  /** reconnectDelayMs is the first retry's upper bound. Default 1000. */
  reconnectDelayMs?: number;
  /** reconnectMaxMs caps the retry delay, which doubles per failed attempt. Default 10000. */
  reconnectMaxMs?: number;
  /** rpcTimeoutMs is how long call waits for an answer. Default 10000. */
  rpcTimeoutMs?: number;
  /** WebSocket is the constructor to use; default globalThis.WebSocket. In Node 20 pass the ws package. */
  WebSocket?: WebSocketConstructor;
  /**
   * getToken is called before every connection attempt, the first and each
   * reconnection, and its result is added to the URL as the query parameter
   * `token` (a browser's WebSocket cannot send headers). Nothing is added
   * when it returns null or undefined. When it throws or rejects, the
   * client emits the error and retries with the usual backoff.
   */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
}

/**
 * Lifecycle events, emitted on the same channels as server events:
 * "connected" (socket open), "disconnected" ({code, reason}),
 * "reconnecting" ({attempt, delayMs}), "error" (an Error) and
 * "storeDeleted" (the store's name).
 */
export type LifecycleEvent = "connected" | "disconnected" | "reconnecting" | "error" | "storeDeleted";

/** HotstateClient is one connection to a hotstate server and everything held over it. */
export interface HotstateClient {
  /** clientId is the id the server gave this connection, once it has greeted it. */
  readonly clientId: string | undefined;
  /** status tells where the connection stands. */
  readonly status: Status;
  /**
   * connect opens the connection; subscriptions made earlier are sent once
   * it is open. Given a function, the client calls it for the URL of every
   * attempt, reconnections included.
   */
  connect(url: UrlSource): void;
  /** ready resolves when the socket is open. Store data may not have arrived yet. */
  ready(): Promise<void>;
  /** subscribe returns a handle on the store name; onChange gets every state it shows, the first snapshot included. */
  subscribe<T = unknown>(name: string, onChange?: (state: T) => void): StoreHandle<T>;
  /** getState returns the state of a store some handle subscribes to, overlays applied. */
  getState<T = unknown>(name: string): T | undefined;
  /** call runs a server function and resolves with its result. */
  call<R = unknown, S = any>(name: string, args?: unknown, options?: CallOptions<S>): Promise<R>;
  /** on listens to a server event or lifecycle event and returns a function that stops listening. */
  on(channel: LifecycleEvent | (string & {}), fn: (data: any) => void): () => void;
  /** onStatus calls fn with every change of status and returns a function that stops it. */
  onStatus(fn: (status: Status) => void): () => void;
  /** bindZustand keeps {status, stores} of a Zustand store up to date and returns a function that stops it. */
  bindZustand(store: ZustandLike): () => void;
  /** destroy closes the connection for good. */
  destroy(): void;
  /** Types only: tells an untyped client from a typed one. */
  readonly "~schema"?: undefined;
}

/**
 * TypedClient is a client that knows the server's stores, functions and
 * events from S, a Schema generated from the Go server (core/tsgen):
 * store, function and event names are checked, and states, arguments,
 * results, event data and optimistic functions typed by name. It is the
 * same client as HotstateClient at run time; Hotstate<Schema>() makes one.
 */
export interface TypedClient<S extends SchemaLike> {
  /** clientId is the id the server gave this connection, once it has greeted it. */
  readonly clientId: string | undefined;
  /** status tells where the connection stands. */
  readonly status: Status;
  /** connect is HotstateClient.connect. */
  connect(url: UrlSource): void;
  /** ready resolves when the socket is open. Store data may not have arrived yet. */
  ready(): Promise<void>;
  /** subscribe returns a handle on the store name; onChange gets every state it shows, the first snapshot included. */
  subscribe<N extends StoreName<S>>(name: N, onChange?: (state: StateOf<S, N>) => void): StoreHandle<StateOf<S, N>>;
  /** getState returns the state of a store some handle subscribes to, overlays applied. */
  getState<N extends StoreName<S>>(name: N): StateOf<S, N> | undefined;
  /** call runs a server function and resolves with its result. */
  call<N extends FunctionName<S>>(name: N, ...args: ArgsParam<S, N>): Promise<ResultOf<S, N>>;
  /** call with options shows the call's expected effect on the store options.store until it settles. */
  call<N extends FunctionName<S>, K extends StoreName<S>>(name: N, args: ArgsOf<S, N>, options: TypedCallOptions<S, K>): Promise<ResultOf<S, N>>;
  /** on listens to a server event or lifecycle event and returns a function that stops listening. */
  on<N extends EventName<S>>(channel: N, fn: (data: EventData<S, N>) => void): () => void;
  /** onStatus calls fn with every change of status and returns a function that stops it. */
  onStatus(fn: (status: Status) => void): () => void;
  /** bindZustand keeps {status, stores} of a Zustand store (of BoundState<S>) up to date and returns a function that stops it. */
  bindZustand(store: ZustandLike): () => void;
  /** destroy closes the connection for good. */
  destroy(): void;
  /** Types only: the schema, which no value holds. */
  readonly "~schema"?: S;
}

class Client implements HotstateClient, Host {
  clientId: string | undefined;
  #conn: Connection;
  #calls: Calls;
  #events = new Emitter();
  #stores = new Map<string, StoreRecord>();
  #bindings = new Set<Binding>();
  #statusListeners = new Set<(status: Status) => void>();
  #readyWaiters: Array<[() => void, (err: Error) => void]> = [];
  #destroyed = false;
  #maxMs: number;

  constructor(opts: HotstateOptions) {
    this.#maxMs = opts.reconnectMaxMs ?? 10000;
    this.#conn = new Connection(
      {
        reconnect: opts.reconnect ?? true,
        reconnectDelayMs: opts.reconnectDelayMs ?? 1000,
        reconnectMaxMs: this.#maxMs,
        WebSocket: opts.WebSocket,
        getToken: opts.getToken,
      },
      {
        open: () => this.#opened(),
        frame: (f) => this.#frame(f),
        bad: (err, bytes) => this.#bad(err, bytes),
        lost: (info, wasOpen, retrying) => this.#lost(info, wasOpen, retrying),
        retry: (info) => this.#events.emit("reconnecting", info),
        status: (s) => {
          this.#bindings.forEach((b) => b.status(s));
          for (const fn of [...this.#statusListeners]) safeCall(fn, s);
        },
        error: (err) => this.error(err),
      },
    );
    this.#calls = new Calls(
      {
        send: (bytes) => this.#conn.send(bytes),
        overlay: (store, o, add) => this.#overlay(store, o, add),
      },
      opts.rpcTimeoutMs ?? 10000,
    );
  }

  get status(): Status {
    return this.#conn.status;
  }

  connect(url: UrlSource): void {
    if (this.#destroyed) throw new Error("hotstate: client destroyed");
    this.#conn.connect(url);
  }

  ready(): Promise<void> {
    if (this.#conn.isOpen) return Promise.resolve();
    if (this.#destroyed) return Promise.reject(disconnectedError());
    return new Promise((resolve, reject) => this.#readyWaiters.push([resolve, reject]));
  }

  subscribe<T = unknown>(name: string, onChange?: (state: T) => void): StoreHandle<T> {
    let rec = this.#stores.get(name);
    if (!rec) {
      rec = new StoreRecord(name, this);
      this.#stores.set(name, rec);
      if (!this.#destroyed) this.send(rec.subFrame());
    }
    return new Handle<T>(rec, onChange);
  }

  getState<T = unknown>(name: string): T | undefined {
    return this.#stores.get(name)?.view as T | undefined;
  }

  call<R = unknown, S = any>(name: string, args?: unknown, options?: CallOptions<S>): Promise<R> {
    if (this.#destroyed) return Promise.reject(disconnectedError());
    return this.#calls.call<R>(name, args, options);
  }

  on(channel: string, fn: (data: any) => void): () => void {
    return this.#events.on(channel, fn);
  }

  onStatus(fn: (status: Status) => void): () => void {
    // A wrapper, as in Emitter.on: the same function added twice counts twice.
    const entry = (s: Status) => fn(s);
    this.#statusListeners.add(entry);
    return () => {
      this.#statusListeners.delete(entry);
    };
  }

  bindZustand(store: ZustandLike): () => void {
    const b = new Binding(store, {
      status: () => this.status,
      views: () => {
        const views: Record<string, unknown> = {};
        for (const [name, rec] of this.#stores) if (rec.has) views[name] = rec.view;
        return views;
      },
    });
    this.#bindings.add(b);
    return () => {
      this.#bindings.delete(b);
    };
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#conn.close();
    this.#calls.failAll(disconnectedError());
    for (const [, reject] of this.#readyWaiters.splice(0)) reject(disconnectedError());
    for (const rec of this.#stores.values()) rec.end();
    this.#stores.clear();
    this.#bindings.clear();
    this.#statusListeners.clear();
    this.#events.clear();
  }

  // Host, for the store records.

  send(frame: Frame): void {
    this.#conn.send(frame);
  }

  changed(rec: StoreRecord): void {
    for (const b of this.#bindings) b.store(rec.name, rec.view, rec.has);
  }

  release(rec: StoreRecord): void {
    // Wait a moment: a component that unmounts and mounts again in one go
    // (React's StrictMode, a route change) keeps the subscription.
    queueMicrotask(() => {
      if (rec.handles.size > 0 || this.#stores.get(rec.name) !== rec) return;
      rec.cancel();
      this.#stores.delete(rec.name);
      this.send({ t: 2, s: rec.name });
      if (rec.has) for (const b of this.#bindings) b.store(rec.name, undefined, false);
    });
  }

  error(err: unknown): void {
    this.#events.emit("error", err);
  }

  #opened(): void {
    for (const rec of this.#stores.values()) this.send(rec.subFrame());
    this.#calls.flush();
    for (const [resolve] of this.#readyWaiters.splice(0)) resolve();
    this.#events.emit("connected");
  }

  #lost(info: { code: number; reason: string }, wasOpen: boolean, retrying: boolean): void {
    this.clientId = undefined;
    this.#calls.lost();
    // The next connection subscribes to every store anyway.
    for (const rec of this.#stores.values()) rec.cancel();
    // Without a retry coming, only another connect could open the socket.
    if (!retrying) for (const [, reject] of this.#readyWaiters.splice(0)) reject(disconnectedError());
    if (wasOpen) this.#events.emit("disconnected", info);
  }

  #overlay(store: string, o: Overlay, add: boolean): void {
    const rec = this.#stores.get(store);
    if (!rec) return;
    rec.overlays = add ? [...rec.overlays, o] : rec.overlays.filter((x) => x !== o);
    rec.refresh();
  }

  #frame(f: Frame): void {
    switch (f.t) {
      case 16:
        this.clientId = f.c;
        if (f.p !== PROTOCOL_VERSION) {
          this.error(new HotstateError(`server speaks protocol ${f.p}, this client ${PROTOCOL_VERSION}`, "protocol"));
          this.#conn.drop(1002, "unsupported protocol version");
          return;
        }
        this.#conn.healthy();
        return;
      case 17:
        this.#stores.get(f.s)?.onSnap(f);
        return;
      case 18:
        this.#stores.get(f.s)?.onPatch(f);
        return;
      case 19:
        this.#calls.onRes(f);
        return;
      case 20: {
        const rec = this.#stores.get(f.s);
        if (!rec) return;
        this.#end(rec, new HotstateError(`store "${f.s}" was deleted`, "deleted", f.s));
        this.#events.emit("storeDeleted", f.s);
        return;
      }
      case 21:
        this.#events.emit(f.n, f.d);
        return;
      case 22: {
        const x = f.x ?? { c: "error", m: "unknown error" };
        const err = new HotstateError(String(x.m), String(x.c), f.s);
        const rec = this.#stores.get(f.s!);
        if (rec) this.#refused(rec, err);
        else this.error(err);
        return;
      }
    }
  }

  /**
   * bad handles a frame that could not be decoded. One for a store the
   * client holds is that store's trouble: a snapshot it cannot read is a
   * refusal of the store, a lost patch calls for a fresh snapshot.
   */
  #bad(err: unknown, bytes: ArrayBuffer | Uint8Array): void {
    const { t, s } = envelope(bytes);
    const rec = this.#stores.get(s as string);
    if (rec && t === 17) return this.#refused(rec, err as Error);
    if (rec && t === 18 && rec.has && !rec.stale) rec.resync();
    this.error(err);
  }

  /**
   * refused is the one path for a store the server would not serve: a
   * refusal that passes (a rate limit, too many calls at once) is asked
   * again after a backoff; any other ends the store's handles.
   */
  #refused(rec: StoreRecord, err: Error): void {
    const code = (err as HotstateError).code;
    if (code === "rate_limited" || code === "busy" || code === "unavailable") return rec.retry(this.#maxMs);
    this.#end(rec, err, true);
    // A refused resync, or a snapshot that could not be read, leaves the
    // server holding the subscription.
    this.send({ t: 2, s: rec.name });
    this.error(err);
  }

  /** end forgets a store the client no longer holds and stops its handles. */
  #end(rec: StoreRecord, err: Error, refused?: boolean): void {
    this.#stores.delete(rec.name);
    rec.end(err, refused);
    if (rec.has) for (const b of this.#bindings) b.store(rec.name, undefined, false);
  }
}

/**
 * Hotstate creates a client. Given a URL (or a function returning one) it
 * connects at once; given options, or nothing, it waits for connect so that
 * subscriptions and listeners can be set up first. Given a schema type,
 * Hotstate<Schema>(), the client is a TypedClient.
 */
export default function Hotstate(options?: HotstateOptions): HotstateClient;
export default function Hotstate(url: UrlSource, options?: HotstateOptions): HotstateClient;
export default function Hotstate<S extends SchemaLike>(options?: HotstateOptions): TypedClient<S>;
export default function Hotstate<S extends SchemaLike>(url: UrlSource, options?: HotstateOptions): TypedClient<S>;
export default function Hotstate(urlOrOptions?: UrlSource | HotstateOptions, options?: HotstateOptions): HotstateClient {
  if (typeof urlOrOptions !== "string" && typeof urlOrOptions !== "function") return new Client(urlOrOptions ?? {});
  const client = new Client(options ?? {});
  client.connect(urlOrOptions);
  return client;
}
