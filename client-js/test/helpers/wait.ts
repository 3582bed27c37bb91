// Waiting on conditions with a deadline instead of sleeping.
import type { HotstateClient } from "../../src/client.js";

export async function waitFor<T>(
  check: () => T | undefined | false | null,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** nextEvent resolves with the data of the next event on channel. */
export function nextEvent<T = unknown>(client: HotstateClient, channel: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for event ${channel}`));
    }, timeoutMs);
    const off = client.on(channel, (data: T) => {
      clearTimeout(timer);
      off();
      resolve(data);
    });
  });
}
