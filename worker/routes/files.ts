/**
 * `/files/{id}`: a download, for current members of the file's room only.
 *
 * Bytes live in the file store (durable-objects/shared/file-store.ts: the
 * node's disk, or an R2 bucket on Cloudflare) under a generated name; the
 * file id names its room, so the room's own object decides who may read it.
 * Uploads are `POST /rooms/{id}/files` (room-files.ts). A file of a room homed
 * on another node is streamed from there through the link (remote-files.ts),
 * with the same headers.
 */
import { errorText, log } from "../../durable-objects/shared/log";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { AppError, asAppError, notFound } from "../../durable-objects/shared/app-error";
import { fileStoreOf, type ByteRange, type FileStore } from "../../durable-objects/shared/file-store";
import type { UploadedFile } from "../../durable-objects/room/files";
import { FILE_ID_RE, homeNode, roomOfFile } from "../../protocol/ids";
import type { Env } from "../../durable-objects/shared/env";
import { resolveRoom } from "../../durable-objects/shared/objects";
import { contentDisposition } from "../content-disposition";
import { remoteDownload } from "../remote-files";

/** Served inline (shown in the page) only these; everything else downloads as an attachment. */
const INLINE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function requireFiles(env: Env): FileStore {
  const store = fileStoreOf(env);
  if (!store) throw new AppError("storage_error", "file storage is not configured on this node (run it with npm start, or bind an R2 bucket as FILES_BUCKET)");
  return store;
}

export const files = new Hono<AppEnv>()
  .get("/:id", async (c) => {
    const id = c.req.param("id");
    const roomId = FILE_ID_RE.test(id) ? roomOfFile(id) : null;
    if (!roomId) throw notFound("file");
    const room = await resolveRoom(c.env, roomId, "file");
    const head = c.req.method === "HEAD";
    if (homeNode(roomId) !== c.env.NODE_NAME) {
      // A room homed elsewhere: this node's mirror knows who its members are (the
      // home checks again); the bytes stream from the home (remote-files.ts).
      await room.checkMember(c.get("caller")).catch((err) => {
        throw asAppError(err)?.code === "not_found" ? notFound("file") : err;
      });
      const remote = await remoteDownload(c.env, roomId, id, c.get("caller").userId, { head, range: c.req.header("range") });
      return new Response(remote.body, { status: remote.status, headers: downloadHeaders(remote.meta, remote.status, remote.range) });
    }
    const meta = await room.fileForDownload(c.get("caller"), id);
    if (!meta) throw notFound("file");
    const opened = await openStoredFile(c.env, meta, { head, range: c.req.header("range") });
    return new Response(opened.body, { status: opened.status, headers: downloadHeaders(meta, opened.status, opened.range) });
  });

/** What a download's headers are made of (the room's metadata of the file). */
export type FileMeta = Pick<UploadedFile, "name" | "size" | "contentType" | "sha256">;

/** The headers of a download answer, the same whichever node serves it. */
export function downloadHeaders(meta: FileMeta, status: number, range: ByteRange | null): Headers {
  const headers = new Headers({
    "Content-Type": INLINE_TYPES.has(meta.contentType) ? meta.contentType : "application/octet-stream",
    "Content-Disposition": contentDisposition(INLINE_TYPES.has(meta.contentType) ? "inline" : "attachment", meta.name),
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Accept-Ranges": "bytes",
    ETag: `"${meta.sha256}"`,
    // Never kept in the browser's cache: a shared or lost computer must not hold the
    // organisation's files (as before the avatar change let routes set their own).
    "Cache-Control": "no-store",
  });
  if (status === 416) headers.set("Content-Range", `bytes */${meta.size}`);
  else if (status === 206 && range) {
    headers.set("Content-Range", `bytes ${range.start}-${range.end}/${meta.size}`);
    headers.set("Content-Length", String(range.end - range.start + 1));
  } else headers.set("Content-Length", String(meta.size));
  return headers;
}

/**
 * The stored bytes of a file of a room homed here: the whole file (200), one
 * range (206), an unsatisfiable range (416, no body), or only the answer's
 * status for a HEAD (which ignores a Range, as most servers do).
 */
export async function openStoredFile(
  env: Env,
  meta: Omit<UploadedFile, "id">,
  ask: { head: boolean; range: string | undefined },
): Promise<{ status: 200 | 206 | 416; range: ByteRange | null; body: ReadableStream<Uint8Array> | null }> {
  const store = requireFiles(env);
  const damaged = () => new AppError("storage_error", "this file's stored bytes are damaged");
  // The store failing (not: the file missing) is the node's trouble, not the caller's.
  const unreadable = (err: unknown): never => {
    log("error", "file.read_failed", { error: errorText(err) });
    throw new AppError("storage_error", "the node could not read this file right now; try again later");
  };
  if (ask.head) {
    const stored = await store.head(meta.storageKey).catch(unreadable);
    if (!stored) throw notFound("file");
    if (stored.size !== meta.size) throw damaged();
    return { status: 200, range: null, body: null };
  }
  const range = parseRange(ask.range, meta.size);
  if (range === "invalid") return { status: 416, range: null, body: null };
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
  return { status: range ? 206 : 200, range, body: stored.body };
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
