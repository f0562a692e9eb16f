/**
 * This node's place in the cluster, and the one way to talk to another node:
 * `linkFetch` signs the request with this node's key, sends it through the
 * PEERS binding (which allows exactly the cluster's addresses), and accepts
 * only an answer signed by the node it asked (durable-objects/shared/link-auth.ts).
 *
 * A node alone (no cluster file) has no CLUSTER binding: `clusterOf` is null,
 * and every id of another node stays unknown, as before federation.
 */
import type { Env } from "./env";
import { LINK_HEADERS, importPrivateKey, signRequest, verifyResponse, type Cluster, type ClusterNode } from "./link-auth";

export type { Cluster, ClusterNode };

/** How long a link request may take before the link counts as failing for it. */
export const LINK_TIMEOUT_MS = 4000;

export function clusterOf(env: Env): Cluster | null {
  const c = env.CLUSTER;
  return c && typeof c === "object" && Array.isArray(c.nodes) && typeof c.self === "string" ? c : null;
}

/** The other nodes of the cluster, in the file's order. */
export function peersOf(env: Env): ClusterNode[] {
  const c = clusterOf(env);
  return c ? c.nodes.filter((n) => n.name !== c.self) : [];
}

export function peerNamed(env: Env, name: string): ClusterNode | null {
  return peersOf(env).find((n) => n.name === name) ?? null;
}

let keyPromise: { pkcs8: string; key: Promise<CryptoKey> } | null = null;

/** This node's signing key, imported once per isolate. */
export function nodeKey(env: Env): Promise<CryptoKey> {
  const pkcs8 = env.NODE_PRIVATE_KEY;
  if (!pkcs8) return Promise.reject(new Error("this node has no private key (start it with npm start)"));
  if (!keyPromise || keyPromise.pkcs8 !== pkcs8) keyPromise = { pkcs8, key: importPrivateKey(pkcs8) };
  return keyPromise.key;
}

/** Why a link request got no usable answer. */
export class LinkError extends Error {
  constructor(
    readonly node: string,
    readonly reason: "unreachable" | "timeout" | "bad_signature" | "not_in_cluster",
    detail: string,
  ) {
    super(`link to ${node}: ${reason} (${detail})`);
  }
}

export interface LinkAnswer<T = unknown> {
  status: number;
  body: T;
}

/**
 * A signed request to node `to`; resolves with its signed answer (any status),
 * or throws a LinkError when the node cannot be reached or the answer is not
 * signed by it.
 *
 * @example
 *   const { status, body } = await linkFetch(env, "shanghai", "POST", "/link/v1/ping", { from: "beijing" });
 */
export async function linkFetch<T = unknown>(env: Env, to: string, method: string, path: string, body?: unknown, timeoutMs = LINK_TIMEOUT_MS): Promise<LinkAnswer<T>> {
  const cluster = clusterOf(env);
  const peer = peerNamed(env, to);
  if (!cluster || !peer || !env.PEERS) throw new LinkError(to, "not_in_cluster", "no such node in the cluster file");
  const text = body === undefined ? null : JSON.stringify(body);
  const headers = await signRequest(await nodeKey(env), { from: cluster.self, to, method, path, body: text });
  if (text !== null) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await env.PEERS.fetch(`${peer.url}${path}`, { method, headers, body: text, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error;
    throw new LinkError(to, e.name === "TimeoutError" ? "timeout" : "unreachable", e.message);
  }
  let answer: string;
  try {
    answer = await res.text();
  } catch (err) {
    throw new LinkError(to, "unreachable", (err as Error).message);
  }
  const ok = await verifyResponse(cluster, { nonce: headers[LINK_HEADERS.nonce], status: res.status, from: to, signature: res.headers.get(LINK_HEADERS.signature), body: answer });
  if (!ok) throw new LinkError(to, "bad_signature", `HTTP ${res.status}, answer not signed by ${to}`);
  let parsed: unknown = null;
  try {
    parsed = answer ? JSON.parse(answer) : null;
  } catch {
    throw new LinkError(to, "bad_signature", "answer is not JSON");
  }
  return { status: res.status, body: parsed as T };
}
