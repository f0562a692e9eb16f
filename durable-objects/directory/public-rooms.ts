/**
 * The public room directory, paged and searched by name.
 *
 * Order: name, then id — ids are unique, so the order is total and a cursor
 * (the last row's name and id) pages stably even through many equal names and
 * while rooms are created or renamed between pages. Each page is one range
 * scan of the `rooms_by_name` index, O(page), however deep the cursor.
 *
 * Search: `q` is a case-insensitive substring of the name, in any script
 * ("上海" finds "上海分行", "ÄRZTE" finds "Ärzte"). Names are compared in their
 * folded form (`foldName`, stored as `name_fold`); SQLite's own LIKE and
 * lower() fold ASCII only. A substring cannot use a b-tree, so a search walks
 * the public rooms in name order until it has a page: fine for a branch's
 * directory (thousands of rooms), and the cursor bounds each request.
 */
import { and, asc, eq, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { AppError } from "../shared/app-error";
import { ROOM_ID_RE } from "../../protocol/ids";
import type { PublicRoom } from "../../protocol/rest";
import * as schema from "./schema";

/** How names and queries are compared: compatibility forms unified (full-width Ａ = A), then lower case. */
export function foldName(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

export interface PublicRoomsPage {
  rooms: PublicRoom[];
  nextCursor: string | null;
}

/** One page of public group rooms (after `cursor`, whose name folds to contain `q`). */
export function pagePublicRooms(db: DrizzleSqliteDODatabase<typeof schema>, query: { q?: string; limit: number; cursor?: string }): PublicRoomsPage {
  const r = schema.rooms;
  const where = [eq(r.kind, "group"), eq(r.visibility, "public")];
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    where.push(sql`(${r.name}, ${r.id}) > (${after.name}, ${after.id})`);
  }
  const q = query.q ? foldName(query.q) : "";
  if (q) where.push(sql`instr(${r.nameFold}, ${q}) > 0`);
  const rows = db
    .select({ id: r.id, name: r.name, createdAt: r.createdAt, memberCount: r.memberCount, topic: r.topic })
    .from(r)
    .where(and(...where))
    .orderBy(asc(r.name), asc(r.id))
    .limit(query.limit + 1)
    .all();
  const more = rows.length > query.limit;
  const rooms = more ? rows.slice(0, query.limit) : rows;
  const last = rooms[rooms.length - 1];
  return { rooms, nextCursor: more ? encodeCursor(last.name, last.id) : null };
}

/** The cursor is opaque to clients: base64url of `[name, id]` (UTF-8 JSON). */
function encodeCursor(name: string, id: string): string {
  return jsonCursor([name, id]);
}

function decodeCursor(cursor: string): { name: string; id: string } {
  const value = jsonOfCursor(cursor);
  if (!Array.isArray(value) || value.length !== 2) throw badCursor();
  const [name, id] = value;
  if (typeof name !== "string" || name.length > 200 || typeof id !== "string" || !ROOM_ID_RE.test(id)) throw badCursor();
  return { name, id };
}

/** `invalid_request` for a cursor the directory did not give out. */
export const badCursor = () => new AppError("invalid_request", "cursor: not a cursor this directory gave out (pass nextCursor back unchanged)");

/** An opaque cursor for `value`: base64url of its UTF-8 JSON (the admin room list's cursors too: admin-rooms.ts). */
export function jsonCursor(value: unknown): string {
  let bin = "";
  for (const b of new TextEncoder().encode(JSON.stringify(value))) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The value a `jsonCursor` holds, unchecked (the caller checks its shape); anything else is `badCursor`. */
export function jsonOfCursor(cursor: string): unknown {
  try {
    const bin = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw badCursor();
  }
}
