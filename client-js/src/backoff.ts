/**
 * backoffDelay returns how long to wait before reconnection attempt number
 * `attempt` (0 for the first retry): a uniformly random time between 0 and
 * min(maxMs, baseMs * 2^attempt), the "full jitter" scheme, which keeps a
 * crowd of clients that lost the same server from returning in step.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}
