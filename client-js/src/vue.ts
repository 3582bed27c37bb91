// Vue 3 composables: `import { useStore } from "hotstate/vue"`. Call them
// in setup() (or inside an effectScope): they stop when it is disposed.
import { getCurrentScope, onScopeDispose, shallowRef, toValue, watch, type MaybeRefOrGetter, type ShallowRef } from "vue";
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
  StoreHandle,
  StoreName,
  TypedCallOptions,
  TypedClient,
} from "./client.js";

const identity = <T>(state: T): T => state;

/** disposed runs fn when the current effect scope ends; outside one, the caller stops nothing and nothing is stopped. */
function disposed(fn: () => void): void {
  if (getCurrentScope()) onScopeDispose(fn);
}

/**
 * useStore subscribes to the store name, which may be a ref or a getter
 * (subscribing anew when it changes), and returns a shallowRef of the
 * store's state, optimistic updates included, or undefined until the
 * first snapshot arrives. With a selector the ref holds its result and
 * changes only when the result's identity does, or, given isEqual, when
 * isEqual says so. The state is never made deeply reactive: it is
 * immutable, and every change replaces the parts it touched.
 */
export function useStore<S extends SchemaLike, N extends StoreName<S>, U = StateOf<S, N> | undefined>(
  client: TypedClient<S>,
  name: MaybeRefOrGetter<N>,
  selector?: (state: StateOf<S, N> | undefined) => U,
  isEqual?: (a: U, b: U) => boolean,
): Readonly<ShallowRef<U>>;
export function useStore<T = unknown, U = T | undefined>(
  client: HotstateClient,
  name: MaybeRefOrGetter<string>,
  selector?: (state: T | undefined) => U,
  isEqual?: (a: U, b: U) => boolean,
): Readonly<ShallowRef<U>>;
export function useStore<T = unknown, U = T | undefined>(
  client: HotstateClient,
  name: MaybeRefOrGetter<string>,
  selector: (state: T | undefined) => U = identity as (state: T | undefined) => U,
  isEqual: (a: U, b: U) => boolean = Object.is,
): Readonly<ShallowRef<U>> {
  const ref = shallowRef(selector(undefined));
  const show = (state: T | undefined): void => {
    const next = selector(state);
    if (!isEqual(ref.value, next)) ref.value = next;
  };
  let handle: StoreHandle<T> | undefined;
  const stop = watch(
    () => toValue(name),
    (n) => {
      handle?.unsubscribe();
      handle = client.subscribe<T>(n, show);
      show(handle.getState());
    },
    { immediate: true },
  );
  disposed(() => {
    stop();
    handle?.unsubscribe();
  });
  return ref;
}

/** CallState is what useCall returns. */
export interface CallState<R, A, S> {
  /** call runs the function, as client.call does, and returns its promise; a rejection nobody awaits is not reported as unhandled. */
  call(args?: A, options?: CallOptions<S>): Promise<R>;
  /** pending is true while a call made through this composable is in flight. */
  pending: Readonly<ShallowRef<boolean>>;
  /** error is the latest call's error, once it failed. */
  error: Readonly<ShallowRef<Error | undefined>>;
  /** data is the latest call's result, once it succeeded. */
  data: Readonly<ShallowRef<R | undefined>>;
  /** reset clears error and data; calls in flight no longer set them. */
  reset(): void;
}

/**
 * usePresence returns a shallowRef of who is in the store instance name,
 * as the server lists it in the store "presence:" + name: member key to
 * metadata, or undefined until the first snapshot.
 */
export function usePresence<S extends SchemaLike, N extends StoreName<S>, M = unknown>(
  client: TypedClient<S>,
  name: MaybeRefOrGetter<N>,
): Readonly<ShallowRef<Record<string, M> | undefined>>;
export function usePresence<M = unknown>(client: HotstateClient, name: MaybeRefOrGetter<string>): Readonly<ShallowRef<Record<string, M> | undefined>>;
export function usePresence<M = unknown>(
  client: HotstateClient,
  name: MaybeRefOrGetter<string>,
): Readonly<ShallowRef<Record<string, M> | undefined>> {
  return useStore<Record<string, M>>(client, () => "presence:" + toValue(name));
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
 * its calls as refs: pending, and the error or result of the latest one.
 * Each call clears error and data until it settles.
 */
export function useCall<S extends SchemaLike, N extends FunctionName<S>>(client: TypedClient<S>, name: N): TypedCallState<S, N>;
export function useCall<R = unknown, A = unknown, S = any>(client: HotstateClient, name: string): CallState<R, A, S>;
export function useCall<R = unknown, A = unknown, S = any>(client: HotstateClient, name: string): CallState<R, A, S> {
  const pending = shallowRef(false);
  const error = shallowRef<Error | undefined>();
  const data = shallowRef<R | undefined>();
  let inFlight = 0;
  // latest numbers the calls: only the latest one's outcome is shown.
  let latest = 0;
  const reset = (): void => {
    latest++;
    error.value = data.value = undefined;
  };
  const call = (args?: A, options?: CallOptions<S>): Promise<R> => {
    reset();
    const id = latest;
    pending.value = ++inFlight > 0;
    const settle = (err?: Error, result?: R): void => {
      pending.value = --inFlight > 0;
      if (id !== latest) return;
      error.value = err;
      data.value = result;
    };
    const p = client.call<R, S>(name, args, options);
    p.then(
      (result) => settle(undefined, result),
      (err: Error) => settle(err),
    );
    return p;
  };
  return { call, pending, error, data, reset };
}

/**
 * useEvent calls handler with the data of every event on channel (a ref
 * or getter may change it), a server event or a lifecycle one, until the
 * scope ends.
 */
export function useEvent<S extends SchemaLike, N extends EventName<S>>(
  client: TypedClient<S>,
  channel: MaybeRefOrGetter<N>,
  handler: (data: EventData<S, N>) => void,
): void;
export function useEvent<D = any>(client: HotstateClient, channel: MaybeRefOrGetter<string>, handler: (data: D) => void): void;
export function useEvent<D = any>(client: HotstateClient, channel: MaybeRefOrGetter<string>, handler: (data: D) => void): void {
  let off: (() => void) | undefined;
  const stop = watch(
    () => toValue(channel),
    (ch) => {
      off?.();
      off = client.on(ch, handler);
    },
    { immediate: true },
  );
  disposed(() => {
    stop();
    off?.();
  });
}

/** useStatus returns a ref of the connection's status. */
export function useStatus(client: HotstateClient | TypedClient<any>): Readonly<ShallowRef<Status>> {
  const status = shallowRef(client.status);
  disposed(client.onStatus((s) => (status.value = s)));
  return status;
}
