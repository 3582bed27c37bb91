// Mirrors the client into a Zustand store, or anything with setState.
import type { Status } from "./connection.js";
import type { SchemaLike, StoresOf } from "./schema.js";

/** ZustandLike is the part of a Zustand store (or the hook `create` returns) the client writes to. */
export interface ZustandLike {
  setState(partial: any): void;
}

/**
 * BoundState is what bindZustand writes: the connection status and every
 * store's state by name; BoundState<Schema> types each store's state.
 */
export interface BoundState<S extends SchemaLike = SchemaLike> {
  status: Status;
  stores: StoresOf<S>;
}

export interface Source {
  status(): Status;
  views(): Record<string, unknown>;
}

/**
 * Binding writes { status, stores } into a Zustand store whenever either
 * changes. stores is a new object on each change and keeps the identity of
 * every store's state that did not change.
 */
export class Binding {
  #target: ZustandLike;
  #stores: Record<string, unknown>;

  constructor(target: ZustandLike, src: Source) {
    this.#target = target;
    this.#stores = src.views();
    target.setState({ status: src.status(), stores: this.#stores } satisfies BoundState);
  }

  status(status: Status): void {
    this.#target.setState({ status });
  }

  store(name: string, view: unknown, present: boolean): void {
    const stores = { ...this.#stores };
    if (present) stores[name] = view;
    else delete stores[name];
    this.#stores = stores;
    this.#target.setState({ stores });
  }
}
