/**
 * `/files/{id}`: a download, for current members of the file's room only.
 *
 * Bytes live in the file store (durable-objects/shared/file-store.ts: the
 * node's disk, or an R2 bucket on Cloudflare) under a generated name; the
 * file id names its room, so the room's own object decides who may read it.
 * Uploads are `POST /rooms/{id}/files` (room-files.ts).
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { AppError, notFound } from "../../durable-objects/shared/app-error";
import { fileStoreOf, type FileStore } from "../../durable-objects/shared/file-store";
import { FILE_ID_RE, roomOfFile } from "../../protocol/ids";
import type { Env } from "../../durable-objects/shared/env";
import { resolveRoom } from "../../durable-objects/shared/objects";
import { contentDisposition } from "../content-disposition";

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
