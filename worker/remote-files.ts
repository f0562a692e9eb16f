/**
 * Files of rooms homed on another node, for this node's members. Files stay
 * on the room's home node: an upload is streamed there through the link as it
 * arrives, a download is streamed back from there (durable-objects/shared/
 * link-stream.ts: signed, framed, verified), and nothing of either is written
 * to this node's disk — so a room with residency "home" keeps its files home
 * too. The home decides (membership, limits, who may see an unshared upload)
 * exactly as for its own members; this node has already checked what it can
 * (the session, membership per its mirror, the declared size, the type), so a
 * refusal it can see costs no WAN traffic.
 *
 * While the link is down both answer `503 room_unreachable`, and the link is
 * counted as failing at once (as for every other forwarded action).
 */
import { errorText, log } from "../durable-objects/shared/log";
import type { Env } from "../durable-objects/shared/env";
import { limitsOf } from "../durable-objects/shared/env";
import { AppError } from "../durable-objects/shared/app-error";
import { LinkError } from "../durable-objects/shared/cluster";
import { linkDownload, linkUpload } from "../durable-objects/shared/link-stream";
import { linkStub } from "../durable-objects/shared/objects";
import { unreachable } from "../durable-objects/mirror/forward";
import type { ByteRange } from "../durable-objects/shared/file-store";
import type { Caller } from "../durable-objects/shared/identity";
import { ERROR_STATUS, type ErrorCode } from "../protocol/errors";
import { homeNode } from "../protocol/ids";
import { AttachmentSchema, type Attachment } from "../protocol/models";
import { tooLarge, type UploadBytes } from "./store-upload";
import type { FileMeta } from "./routes/files";

/** What the home sends (signed) before a download's bytes. */
export interface RemoteFileMeta extends FileMeta {
  range: ByteRange | null;
}

function linkFailed(env: Env, roomId: string, err: LinkError): AppError {
  const home = homeNode(roomId)!;
  log("error", "link.file_transfer_failed", { peer: home, error: errorText(err) });
  void linkStub(env, home).noteResult(home, false).catch(() => {});
  return unreachable(roomId);
}

/** The home's refusal, as the same error a local refusal would be; a refusal of this node itself is the link's trouble. */
function homeRefusal(roomId: string, status: number, body: unknown): AppError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" ? error.code : "";
  const message = typeof error?.message === "string" ? error.message : `the home node answered ${status}`;
  // 401/403 mean the home did not accept this node's word for the user: an operator's
  // problem (cluster file, keys), not the person's, and never "you are signed out".
  if (code === "unauthorized" || code === "forbidden" || !(code in ERROR_STATUS)) {
    log("error", "link.file_transfer_refused", { peer: homeNode(roomId), room: roomId, status, code, error: message.slice(0, 300) });
    return unreachable(roomId);
  }
  return new AppError(code as ErrorCode, message);
}

/**
 * Stream an upload (checked here: membership, size declared, type) to the
 * room's home and answer what the home stored. Counted on the way against
 * this node's own limit as well; the home counts against its own.
 */
export async function forwardUpload(env: Env, roomId: string, caller: Caller, upload: UploadBytes): Promise<Attachment> {
  const max = limitsOf(env).maxFileBytes;
  const query = new URLSearchParams({ user: caller.userId, name: upload.name, type: upload.type });
  if (upload.length !== null) query.set("size", String(upload.length));
  let size = 0;
  let answer;
  try {
    answer = await linkUpload(env, homeNode(roomId)!, `/link/v1/rooms/${encodeURIComponent(roomId)}/files?${query}`, async () => {
      const chunk = await upload.next();
      if (chunk && (size += chunk.byteLength) > max) throw tooLarge(env);
      return chunk;
    });
  } catch (err) {
    if (err instanceof LinkError) throw linkFailed(env, roomId, err);
    if (err instanceof AppError) throw err; // the upload's own refusal: too large, a malformed form
    // The client's body failed (it went away): the home got a body without its trailer and kept nothing.
    throw new AppError("storage_error", "the upload did not complete; nothing was kept");
  }
  if (answer.status !== 201) throw homeRefusal(roomId, answer.status, answer.body);
  const attachment = AttachmentSchema.safeParse(answer.body);
  if (!attachment.success) throw homeRefusal(roomId, 502, null);
  return attachment.data;
}

/**
 * A download of file `fileId` of a room homed elsewhere, streamed from its
 * home for `userId`: the status (200, 206, 416; a HEAD: 200 and no body), the
 * file's metadata and range (signed by the home), and its bytes as a stream of
 * known length, so the answer carries Content-Length as a local one does. A
 * body cut or altered on the way errors before its last chunk: the client sees
 * a failed download, never a complete wrong one.
 */
export async function remoteDownload(
  env: Env,
  roomId: string,
  fileId: string,
  userId: string,
  ask: { head: boolean; range: string | undefined },
): Promise<{ status: number; meta: FileMeta; range: ByteRange | null; body: ReadableStream<Uint8Array> | null }> {
  const query = new URLSearchParams({ user: userId });
  if (ask.range !== undefined) query.set("range", ask.range.slice(0, 200));
  if (ask.head) query.set("head", "1");
  let answer;
  try {
    answer = await linkDownload<RemoteFileMeta>(env, homeNode(roomId)!, `/link/v1/files/${encodeURIComponent(fileId)}?${query}`);
  } catch (err) {
    if (err instanceof LinkError) throw linkFailed(env, roomId, err);
    throw err;
  }
  if (answer.kind === "json") throw homeRefusal(roomId, answer.status, answer.body);
  const { meta, status } = answer;
  const length = status === 206 && meta.range ? meta.range.end - meta.range.start + 1 : status === 200 && !ask.head ? meta.size : 0;
  if (!answer.body || length === 0 || ask.head || status === 416) {
    await answer.body?.cancel();
    return { status, meta, range: meta.range, body: null };
  }
  const fixed = new FixedLengthStream(length);
  // A failure on the way errors the answer (the client sees the download fail); nothing to log per chunk.
  void answer.body.pipeTo(fixed.writable).catch((err) => log("error", "link.download_failed", { peer: homeNode(roomId), room: roomId, file: fileId, error: errorText(err) }));
  return { status, meta, range: meta.range, body: fixed.readable };
}
