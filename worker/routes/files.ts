/**
 * Files: streamed upload into a room, download by current members only.
 *
 * Bytes go to the node's disk through the FILES `disk` service under a
 * generated name (`<room key>/<file key>`); the user's filename is metadata
 * only and never touches the filesystem. The upload is streamed (never held
 * whole in memory), counted and hashed on the way; a body that runs over the
 * limit or is aborted is deleted before the error is answered, and metadata
 * is written only after the bytes are safely on disk.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { AppError, notFound } from "../../durable-objects/shared/app-error";
import { deleteStoredFile } from "../../durable-objects/room/room-object";
import { FILE_ID_RE, newFileId, roomOfFile } from "../../protocol/ids";
import { cleanName, NAME_LIMITS } from "../../protocol/names";
import { limitsOf, type Env } from "../env";
import { roomObject } from "../stubs";

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

function requireFiles(env: Env): Fetcher {
  if (!env.FILES) throw new AppError("storage_error", "file storage is not configured on this node (run it with npm start)");
  return env.FILES;
}

function contentDisposition(kind: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export const files = new Hono<AppEnv>()
  .post("/rooms/:id/files", async (c) => {
    const caller = c.get("caller");
    const limits = limitsOf(c.env);
    const roomId = c.req.param("id");
    const room = roomObject(c.env, roomId);
    await room.checkMember(caller); // before a single byte is stored
    const disk = requireFiles(c.env);
    const type = (c.req.header("content-type") ?? "application/octet-stream").split(";")[0].trim().toLowerCase();
    if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type) || !typeAllowed(type, limits.allowedFileTypes)) {
      throw new AppError("unsupported_media_type", `files of type ${type.slice(0, 100)} are not allowed on this node`);
    }
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > limits.maxFileBytes) throw new AppError("too_large", `files are limited to ${limits.maxFileBytes} bytes`);
    if (!c.req.raw.body) throw new AppError("invalid_request", "send the file's bytes as the request body");
    const name = cleanFilename(c.req.query("name") ?? "");
    const id = newFileId(roomId);
    const storageKey = `${roomId.slice(2, 18)}/${id.slice(2, 18)}`;

    // Count and hash while streaming to disk.
    let size = 0;
    let tooLarge = false;
    // Set only when the client's body ended normally: the disk service may accept a
    // truncated body, so an abort is detected here rather than trusted to it.
    let complete = false;
    const digest = new crypto.DigestStream("SHA-256");
    const digestWriter = digest.getWriter();
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > limits.maxFileBytes) {
          tooLarge = true;
          controller.error(new Error("too large"));
          return;
        }
        await digestWriter.write(chunk);
        controller.enqueue(chunk);
      },
      flush() {
        complete = true;
      },
    });
    let stored: Response;
    try {
      stored = await disk.fetch(`http://files/${storageKey}`, { method: "PUT", body: c.req.raw.body.pipeThrough(counter) });
      if (!stored.ok) throw new Error(`disk answered ${stored.status}`);
      if (!complete || tooLarge) throw new Error(tooLarge ? "too large" : "upload ended early");
      if (declared !== undefined && Number(declared) !== size) throw new Error("body shorter than its Content-Length");
    } catch (err) {
      await deleteStoredFile(c.env, storageKey).catch(() => {});
      if (tooLarge) throw new AppError("too_large", `files are limited to ${limits.maxFileBytes} bytes`);
      console.error("upload failed", (err as Error).message);
      throw new AppError("storage_error", "the upload did not complete; nothing was kept");
    }
    await digestWriter.close();
    const sha256 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    try {
      const attachment = await room.registerFile(caller, { id, name, size, contentType: type, sha256, storageKey });
      return c.json(attachment, 201);
    } catch (err) {
      await deleteStoredFile(c.env, storageKey).catch(() => {});
      throw err;
    }
  })
  .get("/files/:id", async (c) => {
    const id = c.req.param("id");
    const roomId = FILE_ID_RE.test(id) ? roomOfFile(id) : null;
    if (!roomId) throw notFound("file");
    const meta = await roomObject(c.env, roomId).fileForDownload(c.get("caller"), id);
    if (!meta) throw notFound("file");
    const disk = requireFiles(c.env);
    const res = await disk.fetch(`http://files/${meta.storageKey}`);
    if (!res.ok || !res.body) throw notFound("file");
    const headers = new Headers({
      "Content-Type": INLINE_TYPES.has(meta.contentType) ? meta.contentType : "application/octet-stream",
      "Content-Disposition": contentDisposition(INLINE_TYPES.has(meta.contentType) ? "inline" : "attachment", meta.name),
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Accept-Ranges": "bytes",
      ETag: `"${meta.sha256}"`,
      "Cache-Control": "private, no-cache",
    });
    const range = parseRange(c.req.header("range"), meta.size);
    if (range === "invalid") {
      await res.body.cancel();
      headers.set("Content-Range", `bytes */${meta.size}`);
      return new Response(null, { status: 416, headers });
    }
    if (!range) {
      headers.set("Content-Length", String(meta.size));
      return new Response(res.body, { status: 200, headers });
    }
    headers.set("Content-Range", `bytes ${range.start}-${range.end}/${meta.size}`);
    headers.set("Content-Length", String(range.end - range.start + 1));
    return new Response(res.body.pipeThrough(slice(range.start, range.end + 1)), { status: 206, headers });
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

/** Pass through bytes [from, to) of a stream. */
function slice(from: number, to: number): TransformStream<Uint8Array, Uint8Array> {
  let at = 0;
  return new TransformStream({
    transform(chunk, controller) {
      const s = Math.max(0, from - at);
      const e = Math.min(chunk.byteLength, to - at);
      if (e > s) controller.enqueue(chunk.subarray(s, e));
      at += chunk.byteLength;
      if (at >= to) controller.terminate();
    },
  });
}
