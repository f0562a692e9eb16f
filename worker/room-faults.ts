/**
 * A room whose database is damaged answers 500 `room_unavailable` (not 503
 * "try again"), and the node's log names the room and its file. The rules for
 * telling a damaged file from a passing fault are in
 * durable-objects/shared/storage-faults.ts; this is the Worker's half.
 *
 * Only requests about one room are judged (its id is in the path, or it owns
 * the file asked for); everything else keeps the plain storage answers.
 */
import { log } from "../durable-objects/shared/log";
import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { asAppError } from "../durable-objects/shared/app-error";
import { isPermanentStorageFault, roomFaultLine } from "../durable-objects/shared/storage-faults";
import { resolveRoom, roomFileId } from "../durable-objects/shared/objects";
import { FILE_ID_RE, ROOM_ID_RE, homeNode, roomOfFile } from "../protocol/ids";

/** "internal error; reference = …": what JavaScript sees of a runtime-level failure. */
const OPAQUE = /^internal error; reference = /;

/** A damaged room is logged at most this often per Worker isolate (each request would otherwise add a line). */
const LOG_EVERY_MS = 60_000;
const loggedAt = new Map<string, number>();

/** The room a request is about, from its path (or `?room=` of a search in one room); null when it is not about one room. */
export function roomOfRequest(url: URL): string | null {
  const pathname = url.pathname;
  if (pathname === "/api/v1/search") {
    const id = url.searchParams.get("room");
    return id && ROOM_ID_RE.test(id) ? id : null;
  }
  const room = /^\/api\/v1\/rooms\/([^/]+)/.exec(pathname);
  if (room) {
    const id = safeDecode(room[1]);
    return id && ROOM_ID_RE.test(id) ? id : null;
  }
  const file = /^\/api\/v1\/files\/([^/]+)/.exec(pathname);
  const fileId = file && safeDecode(file[1]);
  return fileId && FILE_ID_RE.test(fileId) ? roomOfFile(fileId) : null;
}

/**
 * True when `err`, raised while serving a request about one room, means that
 * room's database is damaged; the room and its file are then logged.
 *
 * - `room_unavailable` from the room object, or a corruption error it let
 *   through (a query touched a damaged page): damaged.
 * - The opaque runtime error: a room whose file cannot be opened never
 *   starts, and a full disk failing a commit looks the same. So the room is
 *   asked once more with a request that touches no storage (a socket request
 *   without identity, answered 401 by a room that starts): if it cannot even
 *   start, its file is damaged; if it answers, the fault was passing (503).
 */
export async function isDamagedRoom(err: Error, c: Context<AppEnv>): Promise<boolean> {
  const roomId = roomOfRequest(new URL(c.req.url));
  if (!roomId || homeNode(roomId) !== c.env.NODE_NAME) return false;
  const app = asAppError(err);
  let damaged = app?.code === "room_unavailable" || (!app && isPermanentStorageFault(err));
  if (!damaged && !app && OPAQUE.test(err.message)) damaged = !(await roomStarts(c, roomId));
  if (damaged) logDamaged(c, roomId, err);
  return damaged;
}

async function roomStarts(c: Context<AppEnv>, roomId: string): Promise<boolean> {
  let room;
  try {
    room = await resolveRoom(c.env, roomId);
  } catch {
    return true; // not a registered room (or the directory failed): not this room's file
  }
  try {
    const res = await room.fetch("http://room/probe");
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function logDamaged(c: Context<AppEnv>, roomId: string, err: Error): void {
  const now = Date.now();
  if (now - (loggedAt.get(roomId) ?? 0) < LOG_EVERY_MS) return;
  loggedAt.set(roomId, now);
  if (loggedAt.size > 1000) loggedAt.clear(); // a bound, not a cache: at worst a line is repeated
  // The room object logs the SQLite error itself when it is the one that noticed.
  const reason = asAppError(err) ? "the room object hit a damaged page; its log line has the SQLite error" : err;
  log("error", "room.damaged", { room: roomId, message: roomFaultLine(roomId, roomFileId(c.env, roomId), reason) });
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}
