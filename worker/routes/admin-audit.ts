/**
 * `/admin/audit` (admins): the node-wide audit trail, newest first, filtered
 * and paged (protocol/audit.ts AuditQuery). It reads the directory's copy of
 * every object's chain (durable-objects/directory/audit-copy.ts), so a page
 * costs one object call however many rooms the node has — and one more for
 * the names of the rooms and people its records mention (admin-names.ts): an
 * admin is often not a member of the rooms they audit.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { AuditPageSchema, AuditQuery } from "../../protocol/audit";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { requireAdmin } from "../middleware/auth";
import { namesFor } from "../admin-names";

export const adminAudit = new Hono<AppEnv>().get("/", requireAdmin(), async (c) => {
  const q = readQuery(c, AuditQuery);
  const page = await directory(c.env).auditPage(q);
  const names = await namesFor(c.env, page.records.flatMap((r) => [r.actor, r.roomId, r.userId].filter((id): id is string => id !== null)));
  return reply(c, AuditPageSchema, { ...page, names: Object.entries(names).map(([id, name]) => ({ id, name })) });
});
