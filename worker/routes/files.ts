/**
 * Files: streamed upload into a room, download by current members only.
 *
 * Bytes go to the file store (durable-objects/shared/file-store.ts: the node's
 * disk, or an R2 bucket on Cloudflare) under a generated name (`<room
 * key>/<file key>`); the user's filename is metadata only and never reaches the
 * store. The upload (raw bytes, or the file part of a multipart/form-data body:
 * worker/upload-body.ts) is streamed (never held whole in memory), counted and
 * hashed on the way; a body that runs over the limit or is aborted is deleted
 * before the error is answered, and metadata is written only after the bytes
 * are safely stored. A crash mid-upload leaves the disk service's temporary
 * file, which the next start removes (ops/files-sweep.mjs); a running node
 * never leaves one.
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env";
import { AppError, notFound } from "../../durable-objects/shared/app-error";
import { deleteStoredFile, fileStoreOf, type FileStore } from "../../durable-objects/shared/file-store";
import { FILE_ID_RE, newFileId, roomOfFile } from "../../protocol/ids";
import { cleanName, NAME_LIMITS } from "../../protocol/names";
import { limitsOf, type Env } from "../../durable-objects/shared/env";
import { resolveRoom } from "../../durable-objects/shared/objects";
import { contentDisposition } from "../content-disposition";
import { FORM_OVERHEAD_BYTES, mediaType, openUpload, RequestBody } from "../upload-body";

/** Served inline (shown in the page) only these; everything else downloads as an attachment. */
const INLINE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function typeAllowed(type: string, allowed: string[]): boolean {
  return allowed.some((a) => a === "*/*" || a === type || (a.endsWith("*") && type.startsWith(a.slice(0, -1))));
}

/**
 * What a user called their file, made safe to store and show. File names come
 * from people's disks, so they are cleaned by the names rule (protocol/names.ts:
 * well-formed, NFC, no controls or text-hiding characters, trimmed) rather than
 * refused; then no path (only the last segment) and no leading dots (a hidden
 * file or `..` means nothing to the reader), ≤ 200 characters keeping the end
 * (the extension). Nothing visible left: "file".
 */
export function cleanFilename(raw: string): string {
  const base = cleanName(raw, { max: Infinity }).split(/[\\/]/).pop() ?? "";
  return cleanName(base.replace(/^[.\s]+/u, ""), { max: NAME_LIMITS.fileName, keep: "end" }) || "file";
}

function requireFiles(env: Env): FileStore {
  const store = fileStoreOf(env);
  if (!store) throw new AppError("storage_error", "file storage is not configured on this node (run it with npm start, or bind an R2 bucket as FILES_BUCKET)");
  return store;
}

export const files = new Hono<AppEnv>()
  .post("/rooms/:id/files", async (c) => {
    const limits = limitsOf(c.env);
    const body = new RequestBody(c.req.raw, limits.maxFileBytes + FORM_OVERHEAD_BYTES);
    try {
      return await receiveUpload(c, body);
    } catch (err) {
      // Every refusal (not a member, 415, 413, a malformed form, a failed write) is
      // answered only after the rest of the body is read, so the client can read it.
      await body.discardRest();
      throw err;
    }
  })
  .get("/files/:id", async (c) => {
    const id = c.req.param("id");
    const roomId = FILE_ID_RE.test(id) ? roomOfFile(id) : null;
    if (!roomId) throw notFound("file");
    const meta = await (await resolveRoom(c.env, roomId, "file")).fileForDownload(c.get("caller"), id);
    if (!meta) throw notFound("file");
    const store = requireFiles(c.env);
    const headers = new Headers({
      "Content-Type": INLINE_TYPES.has(meta.contentType) ? meta.contentType : "application/octet-stream",
      "Content-Disposition": contentDisposition(INLINE_TYPES.has(meta.contentType) ? "inline" : "attachment", meta.name),
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Accept-Ranges": "bytes",
      ETag: `"${meta.sha256}"`,
      "Cache-Control": "private, no-cache",
    });
    const damaged = () => new AppError("storage_error", "this file's stored bytes are damaged");
    // The store failing (not: the file missing) is the node's trouble, not the caller's.
    const unreadable = (err: unknown): never => {
      console.error("file read failed", (err as Error)?.message ?? err);
      throw new AppError("storage_error", "the node could not read this file right now; try again later");
    };
    if (c.req.method === "HEAD") {
      // A HEAD answers like the whole GET (a Range on it is ignored, as most servers do).
      const stored = await store.head(meta.storageKey).catch(unreadable);
      if (!stored) throw notFound("file");
      if (stored.size !== meta.size) throw damaged();
      headers.set("Content-Length", String(meta.size));
      return new Response(null, { status: 200, headers });
    }
    const range = parseRange(c.req.header("range"), meta.size);
    if (range === "invalid") {
      headers.set("Content-Range", `bytes */${meta.size}`);
      return new Response(null, { status: 416, headers });
    }
    // The store cuts the range itself and hands back a body of known length: workerd then
    // sends Content-Length. (A body sliced in JavaScript has no known length, so workerd
    // sent 206 answers chunked, with no Content-Length, whatever header was set.)
    const stored = await store.get(meta.storageKey, range ?? undefined).catch(unreadable);
    if (!stored) throw notFound("file");
    if (stored.size !== meta.size || !stored.body) {
      // The stored bytes do not match the size in the room's metadata.
      await stored.body?.cancel();
      throw damaged();
    }
    if (!range) {
      headers.set("Content-Length", String(meta.size));
      return new Response(stored.body, { status: 200, headers });
    }
    headers.set("Content-Range", `bytes ${range.start}-${range.end}/${meta.size}`);
    headers.set("Content-Length", String(range.end - range.start + 1));
    return new Response(stored.body, { status: 206, headers });
  });

/**
 * Store an upload: membership first (before a single byte is stored), then the
 * type, then the bytes, streamed to the store under a generated name, counted and
 * hashed on the way; metadata only once the bytes are stored.
 */
async function receiveUpload(c: Context<AppEnv>, body: RequestBody): Promise<Response> {
  const caller = c.get("caller");
  const limits = limitsOf(c.env);
  const roomId = c.req.param("id") ?? "";
  const room = await resolveRoom(c.env, roomId);
  await room.checkMember(caller); // before a single byte is stored
  const store = requireFiles(c.env);
  const tooLarge = () => new AppError("too_large", `files are limited to ${limits.maxFileBytes} bytes`);
  const declared = body.declaredLength;
  const form = mediaType(c.req.header("content-type"), "") === "multipart/form-data";
  if (declared !== null && declared > limits.maxFileBytes + (form ? FORM_OVERHEAD_BYTES : 0)) throw tooLarge();
  if (!body.hasBody) throw new AppError("invalid_request", "send the file's bytes as the request body, or as a multipart/form-data file part");
  const source = await openUpload(c.req.raw, body);
  if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(source.type) || !typeAllowed(source.type, limits.allowedFileTypes)) {
    throw new AppError("unsupported_media_type", `files of type ${source.type.slice(0, 100)} are not allowed on this node`);
  }
  const name = cleanFilename(c.req.query("name") ?? source.filename ?? "");
  const id = newFileId(roomId);
  const storageKey = `${roomId.slice(2, 18)}/${id.slice(2, 18)}`;

  // Count and hash while streaming to the store.
  let size = 0;
  let oversized = false;
  /** why the body was refused half-way (a malformed form, a second file): answered as is */
  let refusal: AppError | null = null;
  // Set only when the body ended properly: an abort is detected here, not left to the
  // store alone to notice.
  let complete = false;
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  const bytes = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | null;
      try {
        chunk = await source.next();
      } catch (err) {
        if (err instanceof AppError) refusal = err;
        throw err;
      }
      if (chunk === null) {
        complete = true;
        controller.close();
        return;
      }
      size += chunk.byteLength;
      if (size > limits.maxFileBytes) {
        oversized = true;
        throw new Error("too large");
      }
      await digestWriter.write(chunk);
      controller.enqueue(chunk);
    },
  });
  try {
    // A raw body's Content-Length is the file's size (checked again below); a form's is not.
    await store.put(storageKey, bytes, !source.form && declared !== null ? declared : null);
    if (!complete || oversized || refusal) throw new Error("upload ended early");
    if (!source.form && declared !== null && declared !== size) throw new Error("body shorter than its Content-Length");
  } catch (err) {
    await deleteStoredFile(c.env, storageKey).catch(() => {});
    if (oversized) throw tooLarge();
    if (refusal) throw refusal;
    console.error("upload failed", (err as Error).message);
    throw new AppError("storage_error", "the upload did not complete; nothing was kept");
  }
  await digestWriter.close();
  const sha256 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  try {
    const attachment = await room.registerFile(caller, { id, name, size, contentType: source.type, sha256, storageKey });
    return c.json(attachment, 201);
  } catch (err) {
    await deleteStoredFile(c.env, storageKey).catch(() => {});
    throw err;
  }
}

/** One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); multiple ranges are served whole. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | "invalid" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "invalid";
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "invalid";
  return { start, end };
}
