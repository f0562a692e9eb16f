/**
 * Every room homed on this node, for its administrators (GET
 * /api/v1/admin/rooms, protocol/admin-rooms.ts): the audit screen's room
 * filter picks from it, and an auditor is usually not a member of the rooms
 * they look into.
 *
 * Read from the directory's own `rooms` table only: no room object is asked
 * (and none created) however many rooms a page lists. The table also holds
 * the DMs of other nodes that have a mirror here (rooms-directory.ts
 * `registerMirror`): left out, by the id's node.
 *
 * Order: group rooms by (name, id), then DMs by id. A DM has no name of its
 * own — it is named by its two people when read ("A & B", admin-names.ts
 * `dmName`), so SQL can neither sort nor search DMs by name. Searching DMs
 * therefore names them in JS, a batch at a time in id order, and walks at
 * most MAX_SCANNED of them per request: a page of a search may come back
 * short (even empty) with a cursor to search on. Group rooms are searched in
 * SQL on their folded name (public-rooms.ts `foldName`: any script, any case).
 */
import { and, asc, eq, gt, like, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { AdminRoom, AdminRoomPage } from "../../protocol/admin-rooms";
import { ROOM_ID_RE, homeNode } from "../../protocol/ids";
import type { Accounts } from "./accounts";
import { dmName } from "./admin-names";
import { badCursor, foldName, jsonCursor, jsonOfCursor } from "./public-rooms";
import * as schema from "./schema";

type Db = DrizzleSqliteDODatabase<typeof schema>;

/** DMs named per statement while searching. */
const SCAN_BATCH = 200;
/** DMs a search walks per request at most (a few ms of naming), before it answers with what it has and a cursor. */
export const MAX_SCANNED = 4000;

const r = schema.rooms;
const COLUMNS = { id: r.id, name: r.name, kind: r.kind, visibility: r.visibility, dmKey: r.dmKey, createdAt: r.createdAt, createdBy: r.createdBy, memberCount: r.memberCount };
type Row = Pick<typeof schema.rooms.$inferSelect, "id" | "name" | "kind" | "visibility" | "dmKey" | "createdAt" | "createdBy" | "memberCount">;

/** Where a page starts: after a group room (by name and id), or after a DM's id ("": the first DM). */
type Position = { phase: "group"; after: { name: string; id: string } | null } | { phase: "dm"; after: string };

/**
 * One page of this node's rooms. `q` (trimmed by the caller): a substring of
 * the name, or one room's whole id. A cursor it did not give out is `invalid_request`.
 */
export function pageAdminRooms(db: Db, accounts: Accounts, node: string, query: { q?: string; limit: number; cursor?: string }): AdminRoomPage {
  // The id ends in "@<node>", and a node's name is [a-z0-9-] (protocol/node-name.mjs): no LIKE wildcard but the leading %.
  const here = like(r.id, `%@${node}`);
  const names = dmNamer(accounts);
  if (query.q && ROOM_ID_RE.test(query.q)) {
    const row = homeNode(query.q) === node ? db.select(COLUMNS).from(r).where(eq(r.id, query.q)).get() : undefined;
    return { rooms: row ? names([row]) : [], nextCursor: null };
  }
  const q = query.q ? foldName(query.q) : "";
  const at: Position = query.cursor === undefined ? { phase: "group", after: null } : positionOf(query.cursor);
  const rooms: AdminRoom[] = [];
  if (at.phase === "group") {
    const where = [eq(r.kind, "group"), here];
    if (at.after) where.push(sql`(${r.name}, ${r.id}) > (${at.after.name}, ${at.after.id})`);
    if (q) where.push(sql`instr(${r.nameFold}, ${q}) > 0`);
    const rows = db.select(COLUMNS).from(r).where(and(...where)).orderBy(asc(r.name), asc(r.id)).limit(query.limit + 1).all();
    if (rows.length > query.limit) {
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return { rooms: names(page), nextCursor: jsonCursor(["g", last.name, last.id]) };
    }
    rooms.push(...names(rows));
  }
  // The groups are done: the rest of the page is DMs (with limit 0 left, only whether there are any).
  const want = query.limit - rooms.length;
  let from = at.phase === "dm" ? at.after : "";
  for (let scanned = 0; ; ) {
    if (q && scanned >= MAX_SCANNED) return { rooms, nextCursor: jsonCursor(["d", from]) };
    const size = q ? SCAN_BATCH : want + 1;
    const batch = db.select(COLUMNS).from(r).where(and(eq(r.kind, "dm"), here, gt(r.id, from))).orderBy(asc(r.id)).limit(size).all();
    for (const room of names(batch)) {
      if (q && !foldName(room.name).includes(q)) {
        from = room.id;
        continue;
      }
      // One more than the page holds: there is a next page. It starts after `from`: the last DM
      // given, or a DM after it that did not match (no need to look at those again).
      if (rooms.length === query.limit) return { rooms, nextCursor: jsonCursor(["d", from]) };
      rooms.push(room);
      from = room.id;
    }
    scanned += batch.length;
    if (batch.length < size) return { rooms, nextCursor: null };
  }
}

/**
 * Rows as the answer gives them, DMs named by their two people. The names of
 * the people are kept across the calls of one page (a person is in many DMs).
 */
function dmNamer(accounts: Accounts): (rows: Row[]) => AdminRoom[] {
  const people = new Map<string, string>();
  return (rows) => {
    const unknown = [...new Set(rows.flatMap((row) => (row.kind === "dm" && row.dmKey ? row.dmKey.split("|") : [])))].filter((id) => !people.has(id));
    // Accounts.many looks at most 500 at a time.
    for (let i = 0; i < unknown.length; i += 500) for (const u of accounts.many(unknown.slice(i, i + 500))) people.set(u.id, u.displayName);
    return rows.map(({ dmKey, ...row }) => ({ ...row, name: row.kind === "dm" && dmKey ? dmName(dmKey.split("|"), people) : row.name }));
  };
}

function positionOf(cursor: string): Position {
  const v = jsonOfCursor(cursor);
  if (Array.isArray(v) && v.length === 3 && v[0] === "g" && typeof v[1] === "string" && v[1].length <= 200 && typeof v[2] === "string" && ROOM_ID_RE.test(v[2])) {
    return { phase: "group", after: { name: v[1], id: v[2] } };
  }
  if (Array.isArray(v) && v.length === 2 && v[0] === "d" && typeof v[1] === "string" && (v[1] === "" || ROOM_ID_RE.test(v[1]))) return { phase: "dm", after: v[1] };
  throw badCursor();
}
