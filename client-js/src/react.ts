// React bindings: `import { useStore } from "hotstate/react"`. React 18 and
// 19: the newest hooks used, useSyncExternalStore and useInsertionEffect,
// came with 18. Selection with an equality function is written here rather
// than taken from use-sync-external-store, so that React stays the only
// thing this entry needs.
import { useCallback, useEffect, useInsertionEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type {
  ArgsOf,
  ArgsParam,
  CallOptions,
  EventData,
  EventName,
  FunctionName,
  HotstateClient,
  ResultOf,
  SchemaLike,
  StateOf,
  Status,
  StoreName,
  TypedCallOptions,
  TypedClient,
} from "./client.js";

/** Equality tells whether two selections are the same for rendering purposes. */
export type Equality<U> = (a: U, b: U) => boolean;

const identity = <T>(state: T): T => state;

/**
 * shallow compares two values one level deep: arrays by their elements,
 * plain objects by their own keys, each with Object.is. Pass it to useStore
 * for a selector that builds an object or array on every call.
 */
export function shallow<U>(a: U, b: U): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * useSelection is useSyncExternalStore with a selector: the selector runs
 * again only when the state's identity changes, and a result isEqual to
 * the previous one is replaced by the previous one, so the component
 * re-renders only for a selection that really changed.
 */
function useSelection<S, U>(subscribe: (notify: () => void) => () => void, read: () => S, select: (state: S) => U, isEqual: Equality<U>): U {
  // The selection last committed: a render with a new selector function
  // (an inline arrow, every render) still hands back an equal old result.
  const committed = useRef<{ value: U } | undefined>(undefined);
  const get = useMemo(() => {
    let last: { state: S; value: U } | undefined;
    return (): U => {
      const state = read();
      if (last && Object.is(last.state, state)) return last.value;
      let value = select(state);
      const prev = last ?? committed.current;
      if (prev && isEqual(prev.value, value)) value = prev.value;
      last = { state, value };
      return value;
    };
  }, [read, select, isEqual]);
  const value = useSyncExternalStore(subscribe, get, get);
  useEffect(() => {
    committed.current = { value };
  });
  return value;
}

/**
 * useStoreSubscription returns the subscribe function of useSelection for
 * a store. With takeOver, the subscription a suspended render of the
 * component started can go once the component holds its own.
 */
function useStoreSubscription(client: HotstateClient, name: string, takeOver = false): (notify: () => void) => () => void {
  return useCallback(
    (notify: () => void) => {
      const handle = client.subscribe(name, notify);
      if (takeOver) suspensions.get(client)?.get(name)?.release();
      return () => handle.unsubscribe();
    },
    [client, name, takeOver],
  );
}

/**
 * useStore subscribes the component to the store name while it is mounted
 * and returns the store's state, optimistic updates included, or undefined
 * until the first snapshot arrives. With a selector it returns the
 * selector's result instead, and re-renders only when that result changes:
 * by identity, or by isEqual when given (shallow, say, for a selector that
 * builds a new object). The selector runs again only when the state
 * changes, and patches keep the identity of every part of the state they
 * do not touch, so selecting a part (s => s?.items) costs nothing when
 * other parts change.
 */
export function useStore<S extends SchemaLike, N extends StoreName<S>, U = StateOf<S, N> | undefined>(
  client: TypedClient<S>,
  name: N,
  selector?: (state: StateOf<S, N> | undefined) => U,
  isEqual?: Equality<U>,
): U;
export function useStore<T = unknown, U = T | undefined>(
  client: HotstateClient,
  name: string,
  selector?: (state: T | undefined) => U,
  isEqual?: Equality<U>,
): U;
export function useStore<T = unknown, U = T | undefined>(
  client: HotstateClient,
  name: string,
  selector: (state: T | undefined) => U = identity as (state: T | undefined) => U,
  isEqual: Equality<U> = Object.is,
): U {
  const subscribe = useStoreSubscription(client, name);
  const read = useCallback(() => client.getState<T>(name), [client, name]);
  return useSelection(subscribe, read, selector, isEqual);
}

/** useSubscription is another name for useStore. */
export const useSubscription = useStore;

/**
 * usePresence returns who is in the store instance name, as the server
 * lists it in the store "presence:" + name: member key to metadata, or
 * undefined until the first snapshot. It re-renders as members come and go.
 */
export function usePresence<S extends SchemaLike, N extends StoreName<S>, M = unknown>(
  client: TypedClient<S>,
  name: N,
): Record<string, M> | undefined;
export function usePresence<M = unknown>(client: HotstateClient, name: string): Record<string, M> | undefined;
export function usePresence<M = unknown>(client: HotstateClient, name: string): Record<string, M> | undefined {
  return useStore<Record<string, M>>(client, "presence:" + name);
}

// How long a store a suspended render subscribed to is held for it once
// its first snapshot (or refusal) is in, when no component takes it over:
// the render may have been abandoned. A refusal is thrown to the error
// boundary for as long.
const HOLD_MS = 5000;

interface Suspension {
  promise: Promise<void>;
  error?: Error;
  release(): void;
}

// Suspended renders have no component instance to keep anything in, so the
// subscriptions they start are kept per client and store name.
const suspensions = new WeakMap<HotstateClient, Map<string, Suspension>>();

function suspension(client: HotstateClient, name: string): Suspension {
  let byName = suspensions.get(client);
  if (!byName) suspensions.set(client, (byName = new Map()));
  let s = byName.get(name);
  if (s) return s;
  const handle = client.subscribe(name);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const release = (): void => {
    clearTimeout(timer);
    if (byName.get(name) === entry) byName.delete(name);
    handle.unsubscribe();
  };
  const hold = (): void => {
    timer = setTimeout(release, HOLD_MS);
  };
  const entry: Suspension = {
    promise: handle.ready().then(hold, (err: Error) => {
      entry.error = err;
      hold();
    }),
    release,
  };
  byName.set(name, entry);
  return entry;
}

const NONE: unique symbol = Symbol("no data");

/**
 * useSuspenseStore is useStore for a component under a Suspense boundary:
 * it suspends until the store's first snapshot is in, so it always returns
 * the selection of a state, never undefined. A store the server refuses is
 * thrown to the nearest error boundary. The store is subscribed from the
 * first render on, not only after the component mounts.
 */
export function useSuspenseStore<S extends SchemaLike, N extends StoreName<S>, U = StateOf<S, N>>(
  client: TypedClient<S>,
  name: N,
  selector?: (state: StateOf<S, N>) => U,
  isEqual?: Equality<U>,
): U;
export function useSuspenseStore<T = unknown, U = T>(client: HotstateClient, name: string, selector?: (state: T) => U, isEqual?: Equality<U>): U;
export function useSuspenseStore<T = unknown, U = T>(
  client: HotstateClient,
  name: string,
  selector: (state: T) => U = identity as (state: T) => U,
  isEqual: Equality<U> = Object.is,
): U {
  const subscribe = useStoreSubscription(client, name, true);
  const read = useCallback(() => client.getState<T>(name), [client, name]);
  const select = useCallback((s: T | undefined) => (s === undefined ? NONE : selector(s)), [selector]);
  const equal = useCallback((a: U | typeof NONE, b: U | typeof NONE) => (a === NONE || b === NONE ? a === b : isEqual(a, b)), [isEqual]);
  const value = useSelection(subscribe, read, select, equal);
  if (value !== NONE) return value;
  const s = suspension(client, name);
  throw s.error ?? s.promise;
}

/** CallState is what useCall returns. */
export interface CallState<R, A, S> {
  /** call runs the function, as client.call does, and returns its promise; a rejection nobody awaits is not reported as unhandled. */
  call(args?: A, options?: CallOptions<S>): Promise<R>;
  /** pending is true while a call made through this hook is in flight. */
  pending: boolean;
  /** error is the latest call's error, once it failed. */
  error: Error | undefined;
  /** data is the latest call's result, once it succeeded. */
  data: R | undefined;
  /** reset clears error and data; calls in flight no longer set them. */
  reset(): void;
}

/** TypedCallState is what useCall returns for a typed client: the function N of S. */
export interface TypedCallState<S extends SchemaLike, N extends FunctionName<S>> extends Omit<CallState<ResultOf<S, N>, ArgsOf<S, N>, unknown>, "call"> {
  /** call runs the function, as client.call does. */
  call(...args: ArgsParam<S, N>): Promise<ResultOf<S, N>>;
  /** call with options shows the call's expected effect on the store options.store until it settles. */
  call<K extends StoreName<S>>(args: ArgsOf<S, N>, options: TypedCallOptions<S, K>): Promise<ResultOf<S, N>>;
}

/**
 * useCall gives a component a server function to call with the state of
 * its calls: pending, and the error or result of the latest one. Each call
 * clears error and data until it settles.
 */
export function useCall<S extends SchemaLike, N extends FunctionName<S>>(client: TypedClient<S>, name: N): TypedCallState<S, N>;
export function useCall<R = unknown, A = unknown, S = any>(client: HotstateClient, name: string): CallState<R, A, S>;
export function useCall<R = unknown, A = unknown, S = any>(client: HotstateClient, name: string): CallState<R, A, S> {
  const [state, setState] = useState<{ inFlight: number; error?: Error; data?: R }>({ inFlight: 0 });
  // latest numbers the calls: only the latest one's outcome is shown.
  const latest = useRef(0);
  const call = useCallback(
    (args?: A, options?: CallOptions<S>): Promise<R> => {
      const id = ++latest.current;
      setState((s) => ({ inFlight: s.inFlight + 1 }));
      const settle = (error?: Error, data?: R) =>
        setState((s) => (id === latest.current ? { inFlight: s.inFlight - 1, error, data } : { ...s, inFlight: s.inFlight - 1 }));
      const p = client.call<R, S>(name, args, options);
      p.then(
        (data) => settle(undefined, data),
        (err: Error) => settle(err),
      );
      return p;
    },
    [client, name],
  );
  const reset = useCallback(() => {
    latest.current++;
    setState((s) => ({ inFlight: s.inFlight }));
  }, []);
  return { call, pending: state.inFlight > 0, error: state.error, data: state.data, reset };
}

/**
 * useEvent calls handler with the data of every event on channel, a
 * server event or a lifecycle one, while the component is mounted. The
 * latest handler is called, so an inline function does not make it
 * listen again on every render.
 */
export function useEvent<S extends SchemaLike, N extends EventName<S>>(client: TypedClient<S>, channel: N, handler: (data: EventData<S, N>) => void): void;
export function useEvent<D = any>(client: HotstateClient, channel: string, handler: (data: D) => void): void;
export function useEvent<D = any>(client: HotstateClient, channel: string, handler: (data: D) => void): void {
  const ref = useRef(handler);
  useInsertionEffect(() => {
    ref.current = handler;
  });
  useEffect(() => client.on(channel, (data: D) => ref.current(data)), [client, channel]);
}

/** useStatus returns the connection's status and re-renders the component when it changes. */
export function useStatus(client: HotstateClient | TypedClient<any>): Status {
  const subscribe = useCallback((notify: () => void) => client.onStatus(notify), [client]);
  const get = () => client.status;
  return useSyncExternalStore(subscribe, get, get);
}
