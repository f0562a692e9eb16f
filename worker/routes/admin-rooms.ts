/**
 * `/admin/rooms` (admins): every room homed on this node, searched by name
 * and paged (protocol/admin-rooms.ts) — private rooms and DMs the admin is not
 * in included, since that is what an auditor filters the trail by (the audit
 * screen's room picker). One directory call per page
 * (durable-objects/directory/admin-rooms.ts): no room object is asked, and
 * nothing is created for a room id nobody registered.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { AdminRoomPageSchema, AdminRoomsQuery } from "../../protocol/admin-rooms";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { requireAdmin } from "../middleware/auth";

export const adminRooms = new Hono<AppEnv>().get("/", requireAdmin(), async (c) => {
  const q = readQuery(c, AdminRoomsQuery);
  return reply(c, AdminRoomPageSchema, await directory(c.env).adminRooms({ q: q.q?.trim() || undefined, limit: q.limit, cursor: q.cursor }));
});
