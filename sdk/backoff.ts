/**
 * Reconnect delays: exponential growth with "equal jitter" (half fixed, half
 * random). The fixed half keeps a crowd of clients from hammering a node that
 * just came back; the random half spreads them out so they do not all return
 * in the same millisecond.
 *
 * @example
 *   backoffDelay(0) // 250..500 ms
 *   backoffDelay(5) // 4000..8000 ms
 *   backoffDelay(20) // capped: maxMs/2..maxMs
 */
export interface BackoffOptions {
  /** delay ceiling for attempt 0 (default 500 ms) */
  baseMs?: number;
  /** the largest delay ever returned (default 15 s) */
  maxMs?: number;
  /** 0 ≤ x < 1; injectable so tests are deterministic */
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 500, maxMs = 15_000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  const half = ceiling / 2;
  return Math.round(half + random() * half);
}
