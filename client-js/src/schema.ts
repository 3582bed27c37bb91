// Types of the typed client, which knows a server's stores, functions and
// events by name from the Schema type hotstate's Go generator (core/tsgen)
// writes. Types only: nothing here exists at run time.

/**
 * SchemaLike is the shape of a generated Schema: stores by name (a family
 * by a template literal such as `Room:${string}`), functions by name with
 * their args and result, events by name with their data.
 */
export interface SchemaLike {
  stores: object;
  functions: object;
  events: object;
}

/** StoreName is every name a store of S may be subscribed by. */
export type StoreName<S extends SchemaLike> = keyof S["stores"] & string;

/** StateOf is the state of the store N of S. */
export type StateOf<S extends SchemaLike, N extends string> = N extends keyof S["stores"] ? S["stores"][N] : never;

/** FunctionName is every function name of S. */
export type FunctionName<S extends SchemaLike> = keyof S["functions"] & string;

/** ArgsOf is the type of the arguments of the function N of S. */
export type ArgsOf<S extends SchemaLike, N extends string> = N extends keyof S["functions"]
  ? S["functions"][N] extends { args: infer A }
    ? A
    : never
  : never;

/** ResultOf is the type of the result of the function N of S. */
export type ResultOf<S extends SchemaLike, N extends string> = N extends keyof S["functions"]
  ? S["functions"][N] extends { result: infer R }
    ? R
    : never
  : never;

/**
 * ArgsParam is the argument list of calling the function N of S: the
 * arguments may be left out when an empty object would do.
 */
export type ArgsParam<S extends SchemaLike, N extends string> = {} extends ArgsOf<S, N> ? [args?: ArgsOf<S, N>] : [args: ArgsOf<S, N>];

/**
 * LifecycleData is the data of the client's own lifecycle events, which
 * share the `on` namespace with server events.
 */
export interface LifecycleData {
  connected: undefined;
  disconnected: { code: number; reason: string };
  reconnecting: { attempt: number; delayMs: number };
  error: Error;
  storeDeleted: string;
}

/** EventName is every event of S, and the lifecycle events. */
export type EventName<S extends SchemaLike> = (keyof S["events"] & string) | keyof LifecycleData;

/** EventData is the data of the event N of S, or of the lifecycle event N. */
export type EventData<S extends SchemaLike, N extends string> = N extends keyof LifecycleData
  ? LifecycleData[N]
  : N extends keyof S["events"]
    ? S["events"][N]
    : never;

/** TypedCallOptions are CallOptions for the store K of S: optimistic gets and returns its state. */
export interface TypedCallOptions<S extends SchemaLike, K extends StoreName<S>> {
  /** store is the full name of the store the optimistic function changes. */
  store: K;
  /** optimistic returns the state to show until the call settles; it must not mutate its argument. */
  optimistic?: (state: StateOf<S, K>) => StateOf<S, K>;
}

/**
 * StoresOf is the stores field bindZustand writes for S: each store's
 * state by name, present while subscribed. Without a schema, any name.
 */
export type StoresOf<S extends SchemaLike> = SchemaLike extends S
  ? Record<string, unknown>
  : { [K in keyof S["stores"]]?: S["stores"][K] };
