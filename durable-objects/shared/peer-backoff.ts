/**
 * When to try a peer node again after requests to it failed: 0.5 s after the
 * first failure, doubling to at most 10 s, and at once after a success.
 *
 * Why: a room under load changes many times a second. Retrying a failed push
 * on every change meant reading up to 500 messages, serialising and signing
 * them, and failing — hundreds of times a second while a branch was cut — and
 * since every object of a node shares one isolate, that starved the node's
 * own people (bench/notes.md, "a cut under load stalls the home"). A peer known
 * down is now tried on this schedule only; the heartbeat that sees it back
 * ends the wait at once (LinkObject tells the rooms that failed, `peerUp`).
 *
 * @example
 *   const backoff = new Backoff();
 *   if (backoff.waitMs("shanghai", Date.now()) > 0) return; // not yet
 *   try { await push(); backoff.succeeded("shanghai"); } catch { backoff.failed("shanghai", Date.now()); }
 */
export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 10_000;

export class Backoff {
  private readonly state = new Map<string, { failures: number; until: number }>();

  constructor(
    private readonly firstMs = BACKOFF_FIRST_MS,
    private readonly maxMs = BACKOFF_MAX_MS,
  ) {}

  /** A request to `node` failed: returns when the next try is due (ms since epoch). */
  failed(node: string, now: number): number {
    const failures = (this.state.get(node)?.failures ?? 0) + 1;
    const until = now + Math.min(this.maxMs, this.firstMs * 2 ** Math.min(failures - 1, 20));
    this.state.set(node, { failures, until });
    return until;
  }

  /** A request to `node` got through (or the link came back): no more waiting. */
  succeeded(node: string): void {
    this.state.delete(node);
  }

  /** How long before `node` may be tried again (0: now). */
  waitMs(node: string, now: number): number {
    const s = this.state.get(node);
    return s ? Math.max(0, s.until - now) : 0;
  }

  /** Has the last request to `node` failed? */
  isFailing(node: string): boolean {
    return this.state.has(node);
  }
}
