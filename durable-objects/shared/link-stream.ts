/**
 * Streamed bodies on a node link: a file's bytes going home with an upload, or
 * coming back with a download, without ever being held whole in memory or
 * written to the disk of the node they pass through.
 *
 * Why a framed body with a signed trailer. Every other link request signs the
 * SHA-256 of its body in its headers (link-auth.ts); a streamed body's hash is
 * known only after its last byte, and fetch cannot send HTTP trailers. The
 * alternatives were worse: buffering a file to hash it first (files may be
 * large), or signing only the headers plus a declared length (a man in the
 * middle of a plain-HTTP link could then swap the bytes for others of the same
 * length). So the headers are signed with a marker in place of the body hash
 * (`STREAMED_BODY`), and the body is a sequence of frames:
 *
 *     [u32 big-endian length n > 0][n bytes] … [u32 0][64-byte Ed25519 signature]
 *
 * The final signature covers the direction, the request's nonce, sender,
 * addressee, the payload's size and its SHA-256 (`signStreamTrailer`). The
 * receiver hashes what it reads and accepts the payload only once the trailer
 * verifies: an upload is registered only then (until then its bytes are a
 * temporary the store deletes on failure), and a download's last chunk is held
 * back until then, so a client never receives a *complete* answer whose bytes
 * were altered or cut on the way — it sees the download fail. A replay is
 * refused by the request's nonce as for any link request; a trailer cannot be
 * moved to another request or direction because it names both.
 */
import type { Env } from "./env";
import { b64url, fromB64url } from "./bytes";
import { clusterOf, LinkError, nodeKey, peerNamed, LINK_TIMEOUT_MS, type LinkAnswer } from "./cluster";
import { LINK_HEADERS, STREAMED_BODY, signRequest, signStreamTrailer, verifyResponse, verifyStreamTrailer } from "./link-auth";
import { AppError } from "./app-error";

/** The content type of a framed body. */
export const STREAM_CONTENT_TYPE = "application/x-outpost-link-stream";
/** A download answer's signed description of the bytes that follow (base64url of JSON). */
export const STREAM_META_HEADER = "x-outpost-link-stream-meta";
/** Frames are at most this long (bigger chunks are split): a receiver never buffers more. */
const MAX_FRAME = 1024 * 1024;
/** An upload that sends nothing for this long (client stalled, link dead without a reset) is given up. */
const STALL_MS = 30_000;

/** What a streamed answer's signature covers in place of its body: the marker and the meta header. */
export function streamMetaText(meta: string): string {
  return `${STREAMED_BODY}\n${meta}`;
}

/**
 * Frame the bytes `next` gives (null at their end) and end with the signed
 * trailer; `sign` gets the payload's size and base64url SHA-256.
 */
export function framedStream(next: () => Promise<Uint8Array | null>, sign: (size: number, sha256: string) => Promise<Uint8Array>, cancel?: (reason: unknown) => Promise<void>): ReadableStream<Uint8Array> {
  const digest = new crypto.DigestStream("SHA-256");
  const hash = digest.getWriter();
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const chunk = await next();
        if (chunk === null) {
          await hash.close();
          const signature = await sign(size, b64url(new Uint8Array(await digest.digest)));
          const tail = new Uint8Array(4 + signature.byteLength); // a zero length, then the signature
          tail.set(signature, 4);
          controller.enqueue(tail);
          controller.close();
          return;
        }
        if (chunk.byteLength === 0) continue;
        for (let off = 0; off < chunk.byteLength; off += MAX_FRAME) {
          const piece = chunk.subarray(off, off + MAX_FRAME);
          const header = new Uint8Array(4);
          new DataView(header.buffer).setUint32(0, piece.byteLength);
          size += piece.byteLength;
          await hash.write(piece);
          controller.enqueue(header);
          controller.enqueue(piece);
        }
        return;
      }
    },
    // The reader went away (a client that stopped downloading): let go of the source.
    cancel: (reason) => cancel?.(reason),
  });
}

/**
 * Reads a framed body (`read` gives its raw chunks, null at its end). `next()`
 * gives the payload's bytes, holding the last chunk back until the trailer is
 * verified; it throws `invalid_request` for a body that is malformed, cut short
 * or longer than `maxPayload`, and `unauthorized` for a trailer that does not
 * verify (bytes altered on the way).
 */
export class FramedReader {
  private buf: Uint8Array = new Uint8Array(0);
  private remaining = 0;
  private done = false;
  private held: Uint8Array | null = null;
  private size = 0;
  private readonly digest = new crypto.DigestStream("SHA-256");
  private readonly hash = this.digest.getWriter();

  constructor(
    private readonly read: () => Promise<Uint8Array | null>,
    private readonly verify: (size: number, sha256: string, signature: Uint8Array) => Promise<boolean>,
    private readonly maxPayload = Number.MAX_SAFE_INTEGER,
  ) {}

  /** The payload's next bytes, or null once the whole payload arrived and its trailer verified. */
  async next(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = await this.nextRaw();
      if (chunk === null) {
        const last = this.held;
        this.held = null;
        return last;
      }
      const out = this.held;
      this.held = chunk;
      if (out) return out;
    }
  }

  /** The payload as a stream (for a download's answer); it errors when the body is cut or altered. */
  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.next();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    });
  }

  private async fill(): Promise<boolean> {
    const chunk = await this.read();
    if (chunk === null) return false;
    if (this.buf.byteLength === 0) this.buf = chunk;
    else {
      const joined = new Uint8Array(this.buf.byteLength + chunk.byteLength);
      joined.set(this.buf);
      joined.set(chunk, this.buf.byteLength);
      this.buf = joined;
    }
    return true;
  }

  private async take(n: number): Promise<Uint8Array> {
    while (this.buf.byteLength < n) if (!(await this.fill())) throw cut();
    const out = this.buf.slice(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  private async nextRaw(): Promise<Uint8Array | null> {
    if (this.done) return null;
    if (this.remaining === 0) {
      const length = new DataView((await this.take(4)).buffer).getUint32(0);
      if (length === 0) {
        const signature = await this.take(64);
        if (this.buf.byteLength > 0 || (await this.fill())) throw new AppError("invalid_request", "bytes after the streamed body's trailer");
        await this.hash.close();
        const sha256 = b64url(new Uint8Array(await this.digest.digest));
        if (!(await this.verify(this.size, sha256, signature))) throw new AppError("unauthorized", "the streamed body's signature does not match its bytes (altered on the way)");
        this.done = true;
        return null;
      }
      if (length > MAX_FRAME) throw new AppError("invalid_request", "a streamed body's frame is too long");
      this.remaining = length;
    }
    if (this.buf.byteLength === 0 && !(await this.fill())) throw cut();
    const n = Math.min(this.buf.byteLength, this.remaining);
    const chunk = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.remaining -= n;
    this.size += n;
    if (this.size > this.maxPayload) throw new AppError("too_large", `the streamed body exceeds ${this.maxPayload} bytes`);
    await this.hash.write(chunk);
    return chunk;
  }
}

const cut = () => new AppError("invalid_request", "the streamed body ended before its trailer (cut on the way)");

/**
 * A streamed upload to node `to`: the request is signed with `STREAMED_BODY`,
 * the bytes `next` gives are framed and end with a trailer signed by this node;
 * resolves with the home's signed JSON answer, or throws a LinkError (the link
 * failed, the answer is not signed by `to`) or whatever `next` threw.
 *
 * No overall timeout (a big file on a slow WAN takes its time): the request is
 * given up when the link takes no bytes for STALL_MS, or its answer does not
 * come within STALL_MS of the last byte. Time spent waiting for the client's
 * next bytes does not count: a slow client is not a failing link.
 */
export async function linkUpload<T = unknown>(env: Env, to: string, path: string, next: () => Promise<Uint8Array | null>): Promise<LinkAnswer<T>> {
  const cluster = clusterOf(env);
  const peer = peerNamed(env, to);
  if (!cluster || !peer || !env.PEERS) throw new LinkError(to, "not_in_cluster", "no such node in the cluster file");
  const key = await nodeKey(env);
  const headers = await signRequest(key, { from: cluster.self, to, method: "POST", path, bodyHash: STREAMED_BODY });
  const nonce = headers[LINK_HEADERS.nonce];
  const stalled = new AbortController();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const pause = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  const arm = () => {
    pause();
    timer = setTimeout(() => stalled.abort(new Error("the link took no bytes for too long")), STALL_MS);
  };
  arm();
  let sourceError: unknown = null;
  const body = framedStream(
    async () => {
      pause();
      try {
        return await next();
      } catch (err) {
        sourceError = err;
        throw err;
      } finally {
        arm();
      }
    },
    (size, sha256) => signStreamTrailer(key, { kind: "request", nonce, from: cluster.self, to, size, sha256 }),
  );
  let res: Response;
  let answer: string;
  try {
    res = await env.PEERS.fetch(`${peer.url}${path}`, { method: "POST", headers: { ...headers, "content-type": STREAM_CONTENT_TYPE }, body, signal: stalled.signal });
    answer = await res.text();
  } catch (err) {
    if (sourceError) throw sourceError;
    throw new LinkError(to, "unreachable", (err as Error).message);
  } finally {
    pause();
  }
  // The upload itself failed (too large, a malformed form, the client gone): the home saw
  // a body cut short, kept nothing and may have answered already; the cause is ours.
  if (sourceError) throw sourceError;
  const ok = await verifyResponse(cluster, { nonce, status: res.status, from: to, signature: res.headers.get(LINK_HEADERS.signature), body: answer });
  if (!ok) throw new LinkError(to, "bad_signature", `HTTP ${res.status}, answer not signed by ${to}`);
  try {
    return { status: res.status, body: (answer ? JSON.parse(answer) : null) as T };
  } catch {
    throw new LinkError(to, "bad_signature", "answer is not JSON");
  }
}

/** A streamed download's answer: the signed meta and the verified bytes, or a signed JSON error. */
export type StreamAnswer<M> = { kind: "stream"; status: number; meta: M; body: ReadableStream<Uint8Array> | null } | { kind: "json"; status: number; body: unknown };

/**
 * A signed GET to node `to` whose answer may be streamed: then its status and
 * meta header are checked against the answer's signature and its bytes against
 * the trailer (a cut or altered body errors the stream before its last chunk).
 * The timeout covers the wait for the answer's headers only.
 */
export async function linkDownload<M>(env: Env, to: string, path: string): Promise<StreamAnswer<M>> {
  const cluster = clusterOf(env);
  const peer = peerNamed(env, to);
  if (!cluster || !peer || !env.PEERS) throw new LinkError(to, "not_in_cluster", "no such node in the cluster file");
  const headers = await signRequest(await nodeKey(env), { from: cluster.self, to, method: "GET", path, body: null });
  const nonce = headers[LINK_HEADERS.nonce];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("timeout")), LINK_TIMEOUT_MS);
  let res: Response;
  try {
    res = await env.PEERS.fetch(`${peer.url}${path}`, { method: "GET", headers, signal: controller.signal });
  } catch (err) {
    throw new LinkError(to, "unreachable", (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
  const signature = res.headers.get(LINK_HEADERS.signature);
  const metaHeader = res.headers.get(STREAM_META_HEADER);
  if (res.headers.get("content-type") === STREAM_CONTENT_TYPE && metaHeader !== null) {
    if (!(await verifyResponse(cluster, { nonce, status: res.status, from: to, signature, body: streamMetaText(metaHeader) }))) {
      await res.body?.cancel();
      throw new LinkError(to, "bad_signature", `HTTP ${res.status}, streamed answer not signed by ${to}`);
    }
    let meta: M;
    try {
      meta = JSON.parse(new TextDecoder().decode(fromB64url(metaHeader) ?? new Uint8Array(0)));
    } catch {
      await res.body?.cancel();
      throw new LinkError(to, "bad_signature", "the streamed answer's meta is not JSON");
    }
    if (!res.body) return { kind: "stream", status: res.status, meta, body: null };
    const reader = res.body.getReader();
    const framed = new FramedReader(
      async () => {
        const { done, value } = await reader.read();
        return done ? null : value;
      },
      (size, sha256, sig) => verifyStreamTrailer(cluster, { kind: "response", nonce, from: to, to: cluster.self, size, sha256, signature: sig }),
    );
    return { kind: "stream", status: res.status, meta, body: framed.stream() };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new LinkError(to, "unreachable", (err as Error).message);
  }
  if (!(await verifyResponse(cluster, { nonce, status: res.status, from: to, signature, body: text }))) throw new LinkError(to, "bad_signature", `HTTP ${res.status}, answer not signed by ${to}`);
  try {
    return { kind: "json", status: res.status, body: text ? JSON.parse(text) : null };
  } catch {
    throw new LinkError(to, "bad_signature", "answer is not JSON");
  }
}
