/**
 * Node links: how one node proves to another that a request (and its answer)
 * is its own.
 *
 * Every node has an Ed25519 key pair, made at its first start (ops/node-key.mjs);
 * the cluster file lists each node's name, URL and public key. A request from
 * one node to another carries, in headers, who sends it, to whom, when, a
 * random nonce and a signature over all of that plus the method, the path with
 * its query and the SHA-256 of the body. The receiver checks the signature
 * against the sender's key *from the cluster file*, refuses timestamps more
 * than a minute off and any nonce it has seen in that window (replay), and
 * refuses requests addressed to another node (a request captured on one link
 * cannot be replayed on another). Answers are signed the same way, bound to the
 * request's nonce, so a man in the middle of a plain-HTTP link can neither
 * forge a request nor alter an answer. (TLS between nodes, where configured,
 * adds confidentiality; the signatures do not depend on it.)
 *
 * Versioning: `x-outpost-link` carries the link protocol version; a receiver
 * answers any version it knows, and ignores unknown fields in bodies.
 */
import { b64url, fromB64url } from "./bytes";

export const LINK_PROTOCOL_VERSION = 1;
/** How far a sender's clock may be from the receiver's. */
export const LINK_MAX_SKEW_MS = 60_000;

/**
 * The body-hash field of a request whose body is streamed (a file upload): its
 * hash cannot be known before the first byte leaves, so the headers are signed
 * with this marker instead and the bytes are covered by a signed trailer at the
 * end of the body (link-stream.ts, `signStreamTrailer`). Never equal to a real
 * hash (base64url has no spaces or colons), so a streamed request's signature
 * can never pass for an ordinary request with some body, or the other way round:
 * the ordinary endpoints always hash the bytes they received.
 */
export const STREAMED_BODY = "streamed body: outpost-link-stream-1";

export const LINK_HEADERS = {
  version: "x-outpost-link",
  from: "x-outpost-link-from",
  to: "x-outpost-link-to",
  time: "x-outpost-link-time",
  nonce: "x-outpost-link-nonce",
  signature: "x-outpost-link-signature",
} as const;

export interface ClusterNode {
  name: string;
  /** how the other nodes reach this one (a proxy or VPN may sit in between) */
  url: string;
  /** base64url of the raw 32-byte Ed25519 public key */
  publicKey: string;
  /** false: pushes to this node go as HTTP requests, not over channels (ops/cluster.mjs) */
  channels?: boolean;
}

export interface Cluster {
  /** this node's name */
  self: string;
  nodes: ClusterNode[];
}

const encoder = new TextEncoder();

// WebCrypto takes ArrayBuffer-backed views: every buffer handed to it is one (copied if need be).
type Bytes = Uint8Array<ArrayBuffer>;
const own = (b: Uint8Array): Bytes => (b.buffer instanceof ArrayBuffer ? (b as Bytes) : new Uint8Array(b));

async function sha256b64(body: Uint8Array): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", own(body))));
}

function bytesOf(body: Uint8Array | string | null | undefined): Uint8Array {
  if (body === null || body === undefined) return new Uint8Array(0);
  return typeof body === "string" ? encoder.encode(body) : body;
}

/** What a request's signature covers, one field per line; the first line names the scheme. */
function requestText(f: { method: string; path: string; from: string; to: string; time: string; nonce: string; bodyHash: string }): Uint8Array {
  return encoder.encode(["outpost-link-request-1", f.method.toUpperCase(), f.path, f.from, f.to, f.time, f.nonce, f.bodyHash].join("\n"));
}

function responseText(f: { nonce: string; status: number; from: string; to: string; bodyHash: string }): Uint8Array {
  return encoder.encode(["outpost-link-response-1", f.nonce, String(f.status), f.from, f.to, f.bodyHash].join("\n"));
}

export async function importPrivateKey(pkcs8b64: string): Promise<CryptoKey> {
  const raw = fromB64url(pkcs8b64);
  if (!raw) throw new Error("the node's private key is not base64url");
  return crypto.subtle.importKey("pkcs8", own(raw), { name: "Ed25519" }, false, ["sign"]);
}

const publicKeys = new Map<string, Promise<CryptoKey>>();

/** A peer's public key from the cluster file, imported once per isolate. */
export function importPublicKey(b64: string): Promise<CryptoKey> {
  let key = publicKeys.get(b64);
  if (!key) {
    const raw = fromB64url(b64);
    key = raw && raw.length === 32 ? crypto.subtle.importKey("raw", own(raw), { name: "Ed25519" }, false, ["verify"]) : Promise.reject(new Error("bad public key"));
    publicKeys.set(b64, key);
  }
  return key;
}

async function sign(key: CryptoKey, text: Uint8Array): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, own(text))));
}

async function verify(publicKey: string, signature: string, text: Uint8Array): Promise<boolean> {
  const sig = fromB64url(signature);
  if (!sig || sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, await importPublicKey(publicKey), own(sig), own(text));
  } catch {
    return false;
  }
}

/**
 * Headers that sign a request from `from` to `to`.
 *
 * @example
 *   const headers = await signRequest(key, { from: "beijing", to: "shanghai", method: "POST", path: "/link/v1/ping", body });
 *   await fetch(`${peer.url}/link/v1/ping`, { method: "POST", headers, body });
 */
export async function signRequest(
  key: CryptoKey,
  r: { from: string; to: string; method: string; path: string; body?: Uint8Array | string | null; now?: number; bodyHash?: typeof STREAMED_BODY },
): Promise<Record<string, string>> {
  const time = String(r.now ?? Date.now());
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
  const bodyHash = r.bodyHash ?? (await sha256b64(bytesOf(r.body)));
  const signature = await sign(key, requestText({ method: r.method, path: r.path, from: r.from, to: r.to, time, nonce, bodyHash }));
  return {
    [LINK_HEADERS.version]: String(LINK_PROTOCOL_VERSION),
    [LINK_HEADERS.from]: r.from,
    [LINK_HEADERS.to]: r.to,
    [LINK_HEADERS.time]: time,
    [LINK_HEADERS.nonce]: nonce,
    [LINK_HEADERS.signature]: signature,
  };
}

/** Nonces seen lately (per isolate: a self-hosted node is one isolate). */
export class ReplayGuard {
  private seen = new Map<string, number>();
  /** True the first time a nonce is offered within the window; false for a replay. */
  fresh(nonce: string, now: number): boolean {
    if (this.seen.has(nonce)) return false;
    if (this.seen.size > 50_000) for (const [n, at] of this.seen) if (now - at > 2 * LINK_MAX_SKEW_MS) this.seen.delete(n);
    this.seen.set(nonce, now);
    return true;
  }
}

export type LinkRefusal = "not_signed" | "unknown_node" | "wrong_node" | "stale" | "replay" | "bad_signature" | "bad_version";

/**
 * Check a request that claims to come from another node of `cluster`. Returns
 * the sender's name and the request nonce (to sign the answer with), or why it
 * was refused. `body` is the exact bytes received.
 */
export async function verifyRequest(
  cluster: Cluster,
  guard: ReplayGuard,
  r: { method: string; path: string; headers: Headers; body: Uint8Array | string | null; now?: number; bodyHash?: typeof STREAMED_BODY },
): Promise<{ ok: true; from: string; nonce: string } | { ok: false; why: LinkRefusal }> {
  const h = (name: string) => r.headers.get(name);
  const from = h(LINK_HEADERS.from);
  const to = h(LINK_HEADERS.to);
  const time = h(LINK_HEADERS.time);
  const nonce = h(LINK_HEADERS.nonce);
  const signature = h(LINK_HEADERS.signature);
  const version = h(LINK_HEADERS.version);
  if (!from || !to || !time || !nonce || !signature || !version) return { ok: false, why: "not_signed" };
  if (!/^\d{1,3}$/.test(version) || Number(version) < 1) return { ok: false, why: "bad_version" };
  const peer = cluster.nodes.find((n) => n.name === from);
  if (!peer || from === cluster.self) return { ok: false, why: "unknown_node" };
  if (to !== cluster.self) return { ok: false, why: "wrong_node" };
  const now = r.now ?? Date.now();
  if (!/^\d{1,15}$/.test(time) || Math.abs(now - Number(time)) > LINK_MAX_SKEW_MS) return { ok: false, why: "stale" };
  if (nonce.length > 64) return { ok: false, why: "not_signed" };
  const bodyHash = r.bodyHash ?? (await sha256b64(bytesOf(r.body)));
  if (!(await verify(peer.publicKey, signature, requestText({ method: r.method, path: r.path, from, to, time, nonce, bodyHash })))) {
    return { ok: false, why: "bad_signature" };
  }
  // Only after the signature: an attacker must not be able to burn nonces.
  if (!guard.fresh(`${from}|${nonce}`, now)) return { ok: false, why: "replay" };
  return { ok: true, from, nonce };
}

/** The signature header of an answer to the request that carried `nonce`. */
export async function signResponse(key: CryptoKey, r: { nonce: string; status: number; from: string; to: string; body: Uint8Array | string | null }): Promise<string> {
  return sign(key, responseText({ nonce: r.nonce, status: r.status, from: r.from, to: r.to, bodyHash: await sha256b64(bytesOf(r.body)) }));
}

/** Check an answer from `from` (its key from the cluster file) to our request with `nonce`. */
export async function verifyResponse(
  cluster: Cluster,
  r: { nonce: string; status: number; from: string; signature: string | null; body: Uint8Array | string | null },
): Promise<boolean> {
  const peer = cluster.nodes.find((n) => n.name === r.from);
  if (!peer || !r.signature) return false;
  const text = responseText({ nonce: r.nonce, status: r.status, from: r.from, to: cluster.self, bodyHash: await sha256b64(bytesOf(r.body)) });
  return verify(peer.publicKey, r.signature, text);
}

/** What a streamed body's trailer signs: the bytes' size and SHA-256, bound to the request (its nonce) and the direction. */
function trailerText(f: { kind: "request" | "response"; nonce: string; from: string; to: string; size: number; sha256: string }): Uint8Array {
  return encoder.encode(["outpost-link-stream-1", f.kind, f.nonce, f.from, f.to, String(f.size), f.sha256].join("\n"));
}

/**
 * The 64-byte signature that ends a streamed body (link-stream.ts): `sha256` is
 * the base64url SHA-256 of the `size` bytes streamed, `nonce` the request's.
 */
export async function signStreamTrailer(key: CryptoKey, f: { kind: "request" | "response"; nonce: string; from: string; to: string; size: number; sha256: string }): Promise<Uint8Array> {
  const sig = await sign(key, trailerText(f));
  return fromB64url(sig)!;
}

/** Check a streamed body's trailer, signed by `from` (its key from the cluster file). */
export async function verifyStreamTrailer(
  cluster: Cluster,
  f: { kind: "request" | "response"; nonce: string; from: string; to: string; size: number; sha256: string; signature: Uint8Array },
): Promise<boolean> {
  const peer = cluster.nodes.find((n) => n.name === f.from);
  if (!peer || f.to !== cluster.self) return false;
  return verify(peer.publicKey, b64url(f.signature), trailerText(f));
}
