/**
 * The one place where ids become Durable Object stubs.
 *
 * Why this matters: workerd creates an object's SQLite file (plus -wal and
 * -shm, three open file handles while it lives) the moment a stub for a new
 * name is used, whatever the object then decides. An id made up by a client
 * (`r_<anything>@local` in a URL, a token naming a random user, a device
 * frame naming a room) must therefore be refused *before* any stub is made,
 * or every forged id costs the node a file and handles (an outside probe ran a
 * node out of file handles with 400 GETs).
 *
 * So there are two kinds of lookup, and only two:
 *
 * - `resolveRoom` / `resolveUser` / `existingUsers`: for ids from outside (URLs,
 *   bodies, query strings, tokens, socket frames). Format and home node are
 *   checked first, then existence in the node's directory — the object that
 *   registers every room and user *before* their own object is first touched.
 *   Ids known to exist are remembered per isolate (ids are never deleted), so
 *   the message path pays a Map lookup, not an RPC; a forged id costs one
 *   indexed SELECT in the directory's file, which is always open anyway.
 * - `storedRoom` / `storedUser`: for ids the node itself stored (room members,
 *   inbox rows, presence watchers, the directory's own rows) or just registered.
 *   Never pass them anything that came from outside.
 *
 * `test/architecture.test.ts` fails if `idFromName` appears anywhere else.
 */
import type { Env } from "./env";
import type { RoomObject } from "../room/room-object";
import { ROOM_ID_RE, USER_ID_RE, homeNode } from "../../protocol/ids";
import { notFound } from "./app-error";

const DIRECTORY_NAME = "directory";

export const directoryStub = (env: Env) => env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));

/**
 * The object that keeps this node's link to another node (its state, heartbeats,
 * queue). Only names from the cluster file reach it (see shared/cluster.ts).
 */
export const linkStub = (env: Env, node: string) => env.LINKS.get(env.LINKS.idFromName(`link:${node}`));

/**
 * A room object by an id the node itself stored or just registered in the
 * directory. A room homed on another node is served here by this node's
 * mirror of it (durable-objects/mirror/), which answers the same calls.
 */
export const storedRoom = (env: Env, roomId: string): RoomStub =>
  homeNode(roomId) === env.NODE_NAME ? env.ROOMS.get(roomObjectId(env, roomId)) : (env.MIRRORS.get(mirrorObjectId(env, roomId)) as unknown as RoomStub);

/** The home room itself (never a mirror): for the link endpoints that serve other nodes. */
export const homeRoom = (env: Env, roomId: string) => env.ROOMS.get(roomObjectId(env, roomId));

/** This node's mirror of a room homed elsewhere (only for ids of peers' rooms). */
export const storedMirror = (env: Env, roomId: string) => env.MIRRORS.get(mirrorObjectId(env, roomId));

/**
 * Both kinds answer the room calls the routes make (info, history, send, …);
 * a mirror's `send` may also answer `{queued}` (see MirrorObject.send).
 */
export type RoomStub = DurableObjectStub<RoomObject>;

/** A user object by an id the node itself stored or just registered in the directory. */
export const storedUser = (env: Env, userId: string) => env.USERS.get(userObjectId(env, userId));

/**
 * Object ids are derived by hashing the name (a SHA-256 in the runtime): a room
 * delivering to its members' inboxes would pay one per delivery, so they are
 * kept. Bounded: the map is simply dropped when it grows past the cap.
 */
const objectIds = new Map<string, DurableObjectId>();
const OBJECT_ID_CACHE = 50_000;

function roomObjectId(env: Env, roomId: string): DurableObjectId {
  return cachedId(`r|${roomId}`, () => env.ROOMS.idFromName(roomId));
}

function mirrorObjectId(env: Env, roomId: string): DurableObjectId {
  return cachedId(`m|${roomId}`, () => env.MIRRORS.idFromName(roomId));
}

function userObjectId(env: Env, userId: string): DurableObjectId {
  return cachedId(`u|${userId}`, () => env.USERS.idFromName(userId));
}

/** The hex id that names a room's file (`objects/<uniqueKey>/<hex>.sqlite`), for log lines. Creates nothing. */
export const roomFileId = (env: Env, roomId: string): string => roomObjectId(env, roomId).toString();

function cachedId(key: string, make: () => DurableObjectId): DurableObjectId {
  let id = objectIds.get(key);
  if (!id) {
    if (objectIds.size >= OBJECT_ID_CACHE) objectIds.clear();
    id = make();
    objectIds.set(key, id);
  }
  return id;
}

/** Ids the directory confirmed, per isolate. Only positive answers are kept: ids are never deleted. */
const known = new Set<string>();
const KNOWN_CAP = 200_000;

function remember(id: string): void {
  if (known.size >= KNOWN_CAP) known.clear();
  known.add(id);
}

/** A well-formed id of this node's own. */
function isLocal(env: Env, re: RegExp, id: unknown): id is string {
  return typeof id === "string" && re.test(id) && homeNode(id) === env.NODE_NAME;
}

/** A well-formed id of this node or of another node of its cluster. */
function isOfCluster(env: Env, re: RegExp, id: unknown): id is string {
  if (typeof id !== "string" || !re.test(id)) return false;
  const home = homeNode(id);
  return home === env.NODE_NAME || !!env.CLUSTER?.nodes.some((n) => n.name === home);
}

/** Which of `ids` the directory has registered (asked once for all that are not known yet). */
async function confirm(env: Env, ids: string[]): Promise<Set<string>> {
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length) for (const id of await directoryStub(env).existingIds(unknown)) remember(id);
  return new Set(ids.filter((id) => known.has(id)));
}

/**
 * The room object for an id from outside, or `not_found` — without touching
 * any object for an id that is malformed, of another node, or unregistered.
 * `what` names the thing asked for in that answer (a file's room: "file"), so
 * an unknown id answers exactly like a thing the caller may not see.
 */
export async function resolveRoom(env: Env, roomId: string, what = "room"): Promise<RoomStub> {
  // A room of another node is known here once its home pushed it to this node's mirror.
  if (!isOfCluster(env, ROOM_ID_RE, roomId) || !(await confirm(env, [roomId])).has(roomId)) throw notFound(what);
  return storedRoom(env, roomId);
}

/** The user object for an id from outside, or null when no such user is registered here. */
export async function resolveUser(env: Env, userId: string) {
  if (!isLocal(env, USER_ID_RE, userId) || !(await confirm(env, [userId])).has(userId)) return null;
  return storedUser(env, userId);
}

/** The ids among `ids` (from outside) that name registered users of this node, in their order, without duplicates. */
export async function existingUsers(env: Env, ids: readonly string[]): Promise<string[]> {
  const candidates = [...new Set(ids)].filter((id) => isLocal(env, USER_ID_RE, id));
  if (candidates.length === 0) return [];
  const found = await confirm(env, candidates);
  return candidates.filter((id) => found.has(id));
}

/** Is `id` shaped like a user id of this node? (A format check only: existence is the directory's to say.) */
export function isLocalUserId(env: Env, id: string): boolean {
  return isLocal(env, USER_ID_RE, id);
}
