// Optimistic overlays: pending calls' guesses of their own effect, shown
// on top of the server's state until the call settles. The server's state
// is never changed by them, so dropping an overlay is the whole rollback.

/** Overlay is the optimistic function of one pending call. */
export interface Overlay {
  readonly id: number;
  readonly fn: (state: any) => unknown;
}

/**
 * overlay returns server with every overlay applied in call order. An
 * overlay that throws is skipped and passed to onError. The functions must
 * not mutate their argument: it is the server's state or a previous
 * overlay's result, both of which the caller may still hold.
 */
export function overlay(
  server: unknown,
  overlays: readonly Overlay[],
  onError: (err: unknown) => void,
): unknown {
  let state = server;
  for (const o of overlays) {
    try {
      state = o.fn(state);
    } catch (err) {
      onError(err);
    }
  }
  return state;
}
