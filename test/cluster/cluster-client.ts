/**
 * What every cluster test does from outside: call a node's REST API as someone,
 * and wait until something holds (a cluster converges in heartbeats and pushes,
 * so the tests poll for the state they expect, with a bound).
 */
import type { UntypedBody } from "../untyped-body";
import type { TestCluster } from "./cluster-harness";

export interface CallResult {
  status: number;
  body: UntypedBody;
}

/**
 * One REST call to `node` of `cluster` with a bearer token; `body` goes as JSON,
 * `raw` as bytes of its type. A node that does not answer (killed, or slower than
 * `timeoutMs`) gives status 0 instead of throwing: chaos tests expect that.
 */
export async function callNode(
  cluster: TestCluster,
  node: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  options: { raw?: { type: string; data: Buffer }; timeoutMs?: number } = {},
): Promise<CallResult> {
  const raw = options.raw;
  try {
    const res = await fetch(`${cluster.nodes[node].url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : raw ? { "content-type": raw.type } : {}) },
      body: body !== undefined ? JSON.stringify(body) : raw ? new Uint8Array(raw.data) : undefined,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch {
    return { status: 0, body: null };
  }
}

/** Poll `fn` until it gives a truthy value (returned), or fail naming `what` after `withinMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T | null | undefined | false>, withinMs = 10_000, everyMs = 100): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
