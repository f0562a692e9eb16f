/**
 * People's avatars: a small square picture each, chosen by its owner
 * (`PUT /api/v1/me/avatar`, removed with `DELETE`) and shown to everyone of
 * the organisation (`GET /api/v1/users/{id}/avatar?v=<hash>`).
 *
 * - The web client crops and scales the picture to 256×256 before it sends
 *   it, so a node takes at most `AVATAR_MAX_BYTES`; a bigger body is refused
 *   (413 `too_large`) before more than that is read.
 * - The type is decided by the bytes (PNG, JPEG or WebP signatures), never by
 *   the Content-Type the client sent: anything else is 415
 *   `unsupported_media_type`, so an SVG or HTML page can never be served as
 *   someone's avatar.
 * - Bytes are stored under `avatars/<user key>/<sha256>` in the node's file
 *   store (the same store as room files), and the directory's account row
 *   names the hash: the account and the bytes change in one step from
 *   everybody's point of view, and a URL with `?v=<hash>` names bytes that
 *   never change (so it is cached as immutable).
 * - Serving reads the directory only: an unknown or forged id touches no user
 *   object, creates no file and asks no other node (docs/RELIABILITY.md,
 *   "forged ids").
 * - People homed on another node: the hash comes with their account in the
 *   directory feed, the bytes stay at their home and are fetched over the
 *   link for each request this node gets (browsers cache them for good under
 *   `?v=<hash>`, so that is about once per viewer and picture). When the home
 *   cannot be reached the answer is 404 and the client draws the first letter.
 */
import { errorText, log } from "../durable-objects/shared/log";
import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { AppError } from "../durable-objects/shared/app-error";
import type { Env } from "../durable-objects/shared/env";
import { directoryStub } from "../durable-objects/shared/objects";
import { USER_ID_RE, homeNode } from "../protocol/ids";
import type { User } from "../protocol/models";
import { requireFiles } from "./routes/files";
import { LinkError, linkFetch } from "../durable-objects/shared/cluster";
import { fromB64url } from "../durable-objects/shared/bytes";
import { readBodyCapped } from "./http";

/** 256 KB: a 256×256 picture is far smaller as WebP or PNG; the cap only stops abuse. */
export const AVATAR_MAX_BYTES = 256 * 1024;

/**
 * One folder per person (the id's random part): a picture is only ever
 * deleted by its owner's own change, never because someone else replaced the
 * same bytes.
 */
const keyOf = (userId: string, hash: string) => `avatars/${userId.slice(2, 18)}/${hash}`;

/** The image type the bytes themselves say, or null for anything else. */
export function sniffImageType(b: Uint8Array): "image/png" | "image/jpeg" | "image/webp" | null {
  const at = (i: number, ...bytes: number[]) => bytes.every((x, k) => b[i + k] === x);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
  // RIFF <size> WEBP
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return "image/webp";
  return null;
}

const tooLarge = () => new AppError("too_large", `an avatar is limited to ${AVATAR_MAX_BYTES} bytes (crop or shrink it first)`);

const readCapped = (req: Request) => readBodyCapped(req, AVATAR_MAX_BYTES, tooLarge);

const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, "0")).join("");

/** Delete the bytes of a replaced or removed avatar (after the answer: waitUntil). */
async function forget(env: Env, userId: string, hash: string | null): Promise<void> {
  // The person may have gone back to this very picture meanwhile (a quick A → B → A).
  if (!hash || (await directoryStub(env).getUser(userId))?.avatar === hash) return;
  await requireFiles(env).delete(keyOf(userId, hash)).catch((err) => log("error", "avatar.delete_failed", { user: userId, error: errorText(err) }));
}

/** `PUT /me/avatar`: the caller's new avatar (the raw image as the body). */
export async function putAvatar(c: Context<AppEnv>): Promise<User> {
  const env = c.env;
  const store = requireFiles(env);
  const bytes = await readCapped(c.req.raw);
  if (bytes.byteLength === 0) throw new AppError("invalid_request", "the body is empty: send the image's bytes");
  if (!sniffImageType(bytes)) throw new AppError("unsupported_media_type", "an avatar must be a PNG, JPEG or WebP image");
  const hash = hex(await crypto.subtle.digest("SHA-256", bytes));
  // Bytes first, then the account names them: nobody is ever shown a hash with no bytes.
  const userId = c.get("caller").userId;
  await store.put(keyOf(userId, hash), new Blob([bytes]).stream(), bytes.byteLength);
  const { user, previous } = await directoryStub(env).setAvatar(userId, hash);
  if (previous !== hash) c.executionCtx.waitUntil(forget(env, userId, previous));
  return user;
}

/** `DELETE /me/avatar`: back to the first letter. */
export async function deleteAvatar(c: Context<AppEnv>): Promise<User> {
  const userId = c.get("caller").userId;
  const { user, previous } = await directoryStub(c.env).setAvatar(userId, null);
  c.executionCtx.waitUntil(forget(c.env, userId, previous));
  return user;
}

/** The stored bytes of a person of this node's avatar, or null when they are missing. */
export async function readStoredAvatar(env: Env, userId: string, hash: string): Promise<Uint8Array | null> {
  const stored = await requireFiles(env).get(keyOf(userId, hash));
  return stored?.body ? new Uint8Array(await new Response(stored.body).arrayBuffer()) : null;
}

/**
 * The avatar of a person homed on another node, from there over the link
 * (routes/link-avatars.ts); null when it has none or is not reachable: the
 * client draws the first letter meanwhile.
 */
async function fetchRemoteAvatar(env: Env, userId: string, hash: string): Promise<Uint8Array | null> {
  const home = homeNode(userId);
  if (!home) return null;
  try {
    const { status, body } = await linkFetch<{ avatar?: unknown; data?: unknown }>(env, home, "GET", `/link/v1/users/${encodeURIComponent(userId)}/avatar`);
    if (status !== 200 || body?.avatar !== hash || typeof body.data !== "string") return null;
    const bytes = fromB64url(body.data);
    // The bytes must be the ones the directory names (the home may have a newer picture already).
    return bytes && bytes.byteLength <= AVATAR_MAX_BYTES && hex(await crypto.subtle.digest("SHA-256", bytes)) === hash ? bytes : null;
  } catch (err) {
    if (err instanceof LinkError) return null;
    throw err;
  }
}

/** `GET /users/{id}/avatar?v=<hash>`: the picture, with headers that keep it a picture. */
export async function getAvatar(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const noAvatar = () => new AppError("not_found", "no such avatar");
  // The directory only (this node's people and, as replicated, the cluster's): an unknown
  // id touches no object and asks no other node.
  const user = USER_ID_RE.test(id) ? await directoryStub(c.env).getUser(id) : null;
  if (!user?.avatar) throw noAvatar();
  const current = c.req.query("v") === user.avatar;
  const etag = `"${user.avatar}"`;
  const headers = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    ETag: etag,
    // A URL naming the current hash names these bytes forever; any other asks again each time
    // (the person may change their picture). Private: it is for the signed-in organisation.
    "Cache-Control": current ? "private, max-age=31536000, immutable" : "private, no-cache",
  };
  // The browser's copy is still the picture: no bytes read or sent.
  if (c.req.header("if-none-match") === etag) return new Response(null, { status: 304, headers });
  const bytes = homeNode(id) === c.env.NODE_NAME ? await readStoredAvatar(c.env, id, user.avatar) : await fetchRemoteAvatar(c.env, id, user.avatar);
  if (!bytes) throw noAvatar();
  // Sniffed again on the way out: whatever is on the disk, only an image leaves as one.
  const type = sniffImageType(bytes);
  if (!type) throw noAvatar();
  return new Response(c.req.method === "HEAD" ? null : bytes, {
    headers: { ...headers, "Content-Type": type, "Content-Length": String(bytes.byteLength), "Content-Disposition": "inline" },
  });
}
