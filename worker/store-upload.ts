/**
 * Storing an upload's bytes on this node, for a room homed here: from a local
 * member's request (routes/room-files.ts) or streamed home over the link for a
 * member of another node (routes/link-files.ts). Both pass the same checks and
 * this one path, so a file is stored the same way whoever sent it.
 *
 * The bytes go to the file store under a generated name, counted and hashed on
 * the way; a body that runs over the limit, is refused half-way or is aborted
 * is deleted before the error is answered, and the room's metadata is written
 * only after the bytes are safely stored.
 */
import { errorText, log } from "../durable-objects/shared/log";
import type { Env } from "../durable-objects/shared/env";
import { limitsOf } from "../durable-objects/shared/env";
import { AppError } from "../durable-objects/shared/app-error";
import { deleteStoredFile } from "../durable-objects/shared/file-store";
import type { Caller } from "../durable-objects/shared/identity";
import type { UploadedFile } from "../durable-objects/room/files";
import type { Attachment } from "../protocol/models";
import { newFileId } from "../protocol/ids";
import { requireFiles } from "./routes/files";

export function typeAllowed(type: string, allowed: string[]): boolean {
  return allowed.some((a) => a === "*/*" || a === type || (a.endsWith("*") && type.startsWith(a.slice(0, -1))));
}

/** Refuse a media type this node does not take (`unsupported_media_type`); the same rule for every upload. */
export function checkUploadType(env: Env, type: string): void {
  if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type) || !typeAllowed(type, limitsOf(env).allowedFileTypes)) {
    throw new AppError("unsupported_media_type", `files of type ${type.slice(0, 100)} are not allowed on this node`);
  }
}

const longerThanDeclared = (length: number) => new AppError("invalid_request", `the file is longer than its declared size (${length} bytes); nothing was kept`);
const shorterThanDeclared = (length: number, size: number) => new AppError("invalid_request", `the file ended after ${size} of its declared ${length} bytes; nothing was kept`);

export const tooLarge = (env: Env) => new AppError("too_large", `files are limited to ${limitsOf(env).maxFileBytes} bytes`);

export interface UploadBytes {
  /** the file's media type (already checked) */
  type: string;
  /** the cleaned filename */
  name: string;
  /** the file's exact size when known in advance (a raw body's Content-Length), else null */
  length: number | null;
  /** the file's next bytes, null at their proper end; AppErrors it throws are answered as they are */
  next(): Promise<Uint8Array | null>;
}

/**
 * Store the bytes and register them with `room` (homed on this node) for
 * `caller`, whose membership was checked before any byte was read.
 */
export async function storeUpload(env: Env, room: { registerFile(caller: Caller, f: UploadedFile): Promise<Attachment> }, caller: Caller, roomId: string, upload: UploadBytes): Promise<Attachment> {
  const limits = limitsOf(env);
  const store = requireFiles(env);
  const id = newFileId(roomId);
  const storageKey = `${roomId.slice(2, 18)}/${id.slice(2, 18)}`;

  // Count and hash while streaming to the store.
  let size = 0;
  let oversized = false;
  /** why the body was refused half-way (a malformed form, a second file, a bad link trailer): answered as is */
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
        chunk = await upload.next();
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
      if (upload.length !== null && size > upload.length) {
        refusal = longerThanDeclared(upload.length);
        throw refusal;
      }
      if (size > limits.maxFileBytes) {
        oversized = true;
        throw new Error("too large");
      }
      await digestWriter.write(chunk);
      controller.enqueue(chunk);
    },
  });
  try {
    await store.put(storageKey, bytes, upload.length);
    if (!complete || oversized || refusal) throw new Error("upload ended early");
    // The body ended properly but short of the size the client declared (`?size=`, or a
    // Content-Length): a client that stopped early, not a whole file. Nothing is kept.
    if (upload.length !== null && upload.length !== size) throw new Error("body shorter than its declared length");
  } catch (err) {
    await deleteStoredFile(env, storageKey).catch(() => {});
    // The store may notice the short body first (it was told the length).
    if (!refusal && complete && upload.length !== null && size < upload.length) refusal = shorterThanDeclared(upload.length, size);
    if (oversized) throw tooLarge(env);
    if (refusal) throw refusal;
    log("error", "upload.failed", { error: errorText(err) });
    throw new AppError("storage_error", "the upload did not complete; nothing was kept");
  }
  await digestWriter.close();
  const sha256 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  try {
    return await room.registerFile(caller, { id, name: upload.name, size, contentType: upload.type, sha256, storageKey });
  } catch (err) {
    await deleteStoredFile(env, storageKey).catch(() => {});
    throw err;
  }
}
