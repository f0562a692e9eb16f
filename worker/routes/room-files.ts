/**
 * `/rooms/{id}/files`: a streamed upload into a room (downloads: files.ts). A
 * room homed on another node gets the bytes streamed home through the link
 * (remote-files.ts), checked here first as far as this node can.
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
import { AppError, invalidField } from "../../durable-objects/shared/app-error";
import { homeNode } from "../../protocol/ids";
import { cleanName, NAME_LIMITS } from "../../protocol/names";
import { AttachmentSchema } from "../../protocol/models";
import { UploadQuery } from "../../protocol/rest";
import { limitsOf } from "../../durable-objects/shared/env";
import { resolveRoom } from "../../durable-objects/shared/objects";
import { FORM_OVERHEAD_BYTES, mediaType, openUpload, RequestBody } from "../upload-body";
import { requireFiles } from "./files";
import { roomParam } from "./room-param";
import { checkUploadType, storeUpload, tooLarge } from "../store-upload";
import { forwardUpload } from "../remote-files";

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
 * An upload: membership first (before a single byte is stored), then the size
 * it declares and its type, then the bytes — stored here for a room homed on
 * this node (store-upload.ts), or streamed to the room's home over the link for
 * a room homed elsewhere (remote-files.ts: nothing of it touches this node's disk).
 */
async function receiveUpload(c: Context<AppEnv>, body: RequestBody): Promise<Response> {
  const caller = c.get("caller");
  const limits = limitsOf(c.env);
  const roomId = roomParam(c);
  const query = readQuery(c, UploadQuery);
  const room = await resolveRoom(c.env, roomId);
  await room.checkMember(caller); // before a single byte is stored
  const remote = homeNode(roomId) !== c.env.NODE_NAME;
  if (!remote) requireFiles(c.env);
  const declared = body.declaredLength;
  const form = mediaType(c.req.header("content-type"), "") === "multipart/form-data";
  if (declared !== null && declared > limits.maxFileBytes + (form ? FORM_OVERHEAD_BYTES : 0)) throw tooLarge(c.env);
  if (query.size !== undefined && query.size > limits.maxFileBytes) throw tooLarge(c.env);
  if (query.size !== undefined && !form && declared !== null && declared !== query.size) {
    throw invalidField(`size says ${query.size} bytes, but the body's Content-Length is ${declared}`, "size");
  }
  if (!body.hasBody) throw new AppError("invalid_request", "send the file's bytes as the request body, or as a multipart/form-data file part");
  const source = await openUpload(c.req.raw, body);
  checkUploadType(c.env, source.type);
  const name = cleanFilename(query.name ?? source.filename ?? "");
  // The file's size when known in advance (checked again when stored): `?size=`, or a raw
  // body's Content-Length (a form's counts the form, not the file).
  const upload = { type: source.type, name, length: query.size ?? (!source.form && declared !== null ? declared : null), next: () => source.next() };
  const attachment = remote ? await forwardUpload(c.env, roomId, caller, upload) : await storeUpload(c.env, room, caller, roomId, upload);
  return reply(c, AttachmentSchema, attachment, 201);
}
