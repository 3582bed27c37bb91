export type Listener = (data?: any) => void;

/** report rethrows an error from user code later, so it reaches the host's error handler without breaking the client's own bookkeeping. */
export const report = (err: unknown): void => {
  setTimeout(() => {
    throw err;
  });
};

/** safeCall runs a user callback; an exception is reported, not propagated. */
export function safeCall<A>(fn: (arg: A) => void, arg: A): void {
  try {
    fn(arg);
  } catch (err) {
    report(err);
  }
}

/** Emitter is a minimal channel → listeners map. */
export class Emitter {
  #channels = new Map<string, Set<Listener>>();

  on(channel: string, fn: Listener): () => void {
    let set = this.#channels.get(channel);
    if (!set) this.#channels.set(channel, (set = new Set()));
    // A wrapper makes the same function registered twice count twice.
    const entry: Listener = (d) => fn(d);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  emit(channel: string, data?: unknown): void {
    const set = this.#channels.get(channel);
    if (set) for (const fn of [...set]) safeCall(fn, data);
  }

  clear(): void {
    this.#channels.clear();
  }
}
