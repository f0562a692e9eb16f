/**
 * The link endpoints for files of rooms homed on this node, used by the nodes
 * of their members (worker/remote-files.ts). Files stay here; their bytes
 * travel the link as framed, signed streams (durable-objects/shared/link-stream.ts):
 *
 * - `POST /link/v1/rooms/{id}/files?user=&name=&type=[&size=]`: an upload of
 *   a member homed on the calling node. Its headers are signed with the
 *   streamed-body marker (its body cannot be hashed before it is sent), its
 *   bytes by the trailer; the file is registered only once that verifies.
 *   Checked and stored exactly as a local upload (store-upload.ts); answers
 *   the same Attachment, 201.
 * - `GET /link/v1/files/{id}?user=[&range=][&head=1]`: a download for such a
 *   member; answers the file's metadata in a signed header and its bytes
 *   (or the range) framed, ending in a signed trailer.
 *
 * Mounted on /link/v1 before the other link endpoints (index.ts): their
 * middleware reads a whole body (≤ 4 MiB) to check its hash, which an upload's
 * must not be. Each endpoint here checks its own signature; every id from
 * outside is checked (resolveLocalRoom) before any object is touched.
 */
import { log } from "../../durable-objects/shared/log";
import { Hono, type Context } from "hono";
import { clusterOf, nodeKey, type Cluster } from "../../durable-objects/shared/cluster";
import { LINK_HEADERS, LINK_PROTOCOL_VERSION, STREAMED_BODY, signResponse, signStreamTrailer, verifyRequest, verifyStreamTrailer } from "../../durable-objects/shared/link-auth";
import { FramedReader, STREAM_CONTENT_TYPE, STREAM_META_HEADER, framedStream, streamMetaText } from "../../durable-objects/shared/link-stream";
import { AppError, notFound } from "../../durable-objects/shared/app-error";
import { b64url } from "../../durable-objects/shared/bytes";
import { limitsOf } from "../../durable-objects/shared/env";
import type { Caller } from "../../durable-objects/shared/identity";
import { FILE_ID_RE, USER_ID_RE, homeNode, roomOfFile } from "../../protocol/ids";
import { RequestBody } from "../upload-body";
import { checkUploadType, storeUpload, tooLarge } from "../store-upload";
import { cleanFilename } from "./room-files";
import { openStoredFile } from "./files";
import { guard, linkAuth, linkError, refuse, resolveLocalRoom } from "./link";
import { linkReply, type LinkEnv } from "./link-reply";
import type { RemoteFileMeta } from "../remote-files";

/** A member homed on the calling node, as the room sees them (the room needs only the id for files). */
function memberOfCaller(c: Context<LinkEnv>, userId: string | undefined): Caller {
  if (!userId || !USER_ID_RE.test(userId) || homeNode(userId) !== c.get("linkFrom")) throw new AppError("forbidden", "a node acts only for its own users");
  return { userId, sessionId: "", username: "", displayName: "", isAdmin: false };
}

export const linkFiles = new Hono<LinkEnv>()
  .post("/rooms/:id/files", async (c) => {
    const cluster = clusterOf(c.env);
    if (!cluster || !c.env.NODE_PRIVATE_KEY) return refuse(404, "not_found", "no such endpoint");
    const url = new URL(c.req.url);
    const verdict = await verifyRequest(cluster, guard, { method: "POST", path: url.pathname + url.search, headers: c.req.raw.headers, body: null, bodyHash: STREAMED_BODY });
    if (!verdict.ok) {
      log("warn", "link.upload_refused", { why: verdict.why, from: (c.req.header(LINK_HEADERS.from) ?? "?").slice(0, 64), path: url.pathname.slice(0, 300) });
      return refuse(401, "unauthorized", `not a signed request of a node of this cluster (${verdict.why})`);
    }
    c.set("linkFrom", verdict.from);
    c.set("linkNonce", verdict.nonce);
    // The most a legitimate upload sends: the file plus its frames' headers (4 bytes per
    // frame; frames are a chunk of the member's upload each, rarely under a few KiB).
    const body = new RequestBody(c.req.raw, 2 * limitsOf(c.env).maxFileBytes + 1024 * 1024);
    try {
      return await receiveUpload(c, cluster, body);
    } catch (err) {
      // As for a local upload: answered only after the rest of the body is read.
      await body.discardRest();
      throw err;
    }
  })
  .get("/files/:id", linkAuth(), async (c) => {
    const caller = memberOfCaller(c, c.req.query("user"));
    const id = c.req.param("id");
    const roomId = FILE_ID_RE.test(id) ? roomOfFile(id) : null;
    const room = roomId ? await resolveLocalRoom(c.env, roomId) : null;
    if (!room) throw notFound("file");
    const meta = await room.fileForDownload(caller, id);
    if (!meta) throw notFound("file");
    const head = c.req.query("head") === "1";
    const opened = await openStoredFile(c.env, meta, { head, range: c.req.query("range") });
    const key = await nodeKey(c.env);
    const described: RemoteFileMeta = { name: meta.name, size: meta.size, contentType: meta.contentType, sha256: meta.sha256, range: opened.range };
    const metaText = b64url(new TextEncoder().encode(JSON.stringify(described)));
    const headers = {
      "content-type": STREAM_CONTENT_TYPE,
      [STREAM_META_HEADER]: metaText,
      [LINK_HEADERS.version]: String(LINK_PROTOCOL_VERSION),
      [LINK_HEADERS.signature]: await signResponse(key, { nonce: c.get("linkNonce"), status: opened.status, from: c.env.NODE_NAME, to: c.get("linkFrom"), body: streamMetaText(metaText) }),
    };
    if (!opened.body) return new Response(null, { status: opened.status, headers });
    const reader = opened.body.getReader();
    const bytes = framedStream(
      async () => {
        const { done, value } = await reader.read();
        return done ? null : value;
      },
      (size, sha256) => signStreamTrailer(key, { kind: "response", nonce: c.get("linkNonce"), from: c.env.NODE_NAME, to: c.get("linkFrom"), size, sha256 }),
      (reason) => reader.cancel(reason),
    );
    return new Response(bytes, { status: opened.status, headers });
  });

linkFiles.onError(linkError);

/** Check an upload as a local one is checked, then store it through the same path. */
async function receiveUpload(c: Context<LinkEnv>, cluster: Cluster, body: RequestBody): Promise<Response> {
  const caller = memberOfCaller(c, c.req.query("user"));
  const roomId = c.req.param("id") ?? "";
  const room = await resolveLocalRoom(c.env, roomId);
  if (!room) throw notFound();
  await room.checkMember(caller); // before a single byte is stored
  const max = limitsOf(c.env).maxFileBytes;
  const declared = c.req.query("size");
  if (declared !== undefined && !/^\d{1,15}$/.test(declared)) throw new AppError("invalid_request", "size: the file's length in bytes");
  if (declared !== undefined && Number(declared) > max) throw tooLarge(c.env);
  const type = (c.req.query("type") ?? "").toLowerCase();
  checkUploadType(c.env, type);
  if (!body.hasBody) throw new AppError("invalid_request", "no file in the request");
  const framed = new FramedReader(
    () => body.read(),
    (size, sha256, signature) => verifyStreamTrailer(cluster, { kind: "request", nonce: c.get("linkNonce"), from: c.get("linkFrom"), to: cluster.self, size, sha256, signature }),
    max,
  );
  const attachment = await storeUpload(c.env, room, caller, roomId, {
    type,
    // Cleaned again here: the home never takes another node's word for what is safe to store.
    name: cleanFilename(c.req.query("name") ?? ""),
    length: declared === undefined ? null : Number(declared),
    next: () => framed.next(),
  });
  return linkReply(c, 201, attachment);
}
