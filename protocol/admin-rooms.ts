/**
 * The administrators' list of this node's rooms (`GET /api/v1/admin/rooms`):
 * every room homed here, private ones and DMs included, searched by name and
 * paged — what the audit screen's room filter picks from. An auditor is
 * usually not a member of the rooms they look into, so their own room list
 * cannot name them.
 *
 * A module of its own, beside audit.ts, not in rest.ts/responses.ts: the SDK
 * imports the answer's schema on first use, so this admin-only shape stays out
 * of a web client's first screen (test/browser/budget.test.ts).
 */
import { z } from "zod";
import { RoomKindSchema, VisibilitySchema } from "./models";

/**
 * `q`: a case-insensitive substring of the room's name in any script (a DM's
 * name is its two people's, "A & B"), or one room's whole id; `cursor`: the
 * previous page's `nextCursor`, opaque.
 */
export const AdminRoomsQuery = z.strictObject({
  q: z.string().max(120, "at most 120 characters").optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(1024).regex(/^[A-Za-z0-9_-]+$/, "not a cursor").optional(),
});
export type AdminRoomsQueryInput = z.infer<typeof AdminRoomsQuery>;

/** One room as the directory knows it: no room object is asked, so listing costs one call however many rooms there are. */
export const AdminRoomSchema = z.strictObject({
  id: z.string(),
  /** a group room's name; a DM's two people's display names, sorted, "A & B" (as the audit page's `names`) */
  name: z.string(),
  kind: RoomKindSchema,
  visibility: VisibilitySchema,
  createdAt: z.number(),
  createdBy: z.string(),
  /** members, as the room last told the directory (null: a room older than the count that has not told it yet) */
  memberCount: z.number().int().nullable(),
});
export type AdminRoom = z.infer<typeof AdminRoomSchema>;

/**
 * Group rooms by name (then id), then DMs (by id). `nextCursor` null: the last
 * page. A search walks at most a few thousand DMs per request, so a page of
 * a search may hold fewer rooms than `limit` — even none — and still have a
 * `nextCursor`: follow it to search on.
 */
export const AdminRoomPageSchema = z.strictObject({ rooms: z.array(AdminRoomSchema), nextCursor: z.string().nullable() });
export type AdminRoomPage = z.infer<typeof AdminRoomPageSchema>;
