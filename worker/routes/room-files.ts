/**
 * `/rooms/{id}/files`: a streamed upload into a room (downloads: files.ts).
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
import { readQuery } from "../http";
import { reply } from "../reply";
import { AppError } from "../../durable-objects/shared/app-error";
import { deleteStoredFile } from "../../durable-objects/shared/file-store";
import { newFileId } from "../../protocol/ids";
import { cleanName, NAME_LIMITS } from "../../protocol/names";
import { AttachmentSchema } from "../../protocol/models";
import { UploadQuery } from "../../protocol/rest";
import { limitsOf } from "../../durable-objects/shared/env";
import { resolveRoom } from "../../durable-objects/shared/objects";
import { FORM_OVERHEAD_BYTES, mediaType, openUpload, RequestBody } from "../upload-body";
import { requireFiles } from "./files";
import { roomParam } from "./room-param";

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

export const roomFiles = new Hono<AppEnv>()
  .post("/", async (c) => {
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
  });

/**
 * Store an upload: membership first (before a single byte is stored), then the
 * type, then the bytes, streamed to the store under a generated name, counted and
 * hashed on the way; metadata only once the bytes are stored.
 */
async function receiveUpload(c: Context<AppEnv>, body: RequestBody): Promise<Response> {
  const caller = c.get("caller");
  const limits = limitsOf(c.env);
  const roomId = roomParam(c);
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
  const name = cleanFilename(readQuery(c, UploadQuery).name ?? source.filename ?? "");
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
    return reply(c, AttachmentSchema, attachment, 201);
  } catch (err) {
    await deleteStoredFile(c.env, storageKey).catch(() => {});
    throw err;
  }
}

