/**
 * HotstateError is how the client reports a failure: `code` is one of the
 * protocol's error codes ("not_found", "error", "unknown_function", ...) or
 * one of the client's own, "timeout" and "disconnected".
 */
export class HotstateError extends Error {
  readonly code: string;
  /** The store the error is about, when there is one. */
  readonly store?: string;

  constructor(message: string, code: string, store?: string) {
    super(message);
    this.name = "HotstateError";
    this.code = code;
    if (store !== undefined) this.store = store;
  }
}

export const timeoutError = (): HotstateError => new HotstateError("RPC timeout", "timeout");
export const disconnectedError = (): HotstateError => new HotstateError("Disconnected", "disconnected");
