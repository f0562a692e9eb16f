/**
 * `/admin/audit` (admins): the node-wide audit trail, newest first, filtered
 * and paged (protocol/audit.ts AuditQuery). It reads the directory's copy of
 * every object's chain (durable-objects/directory/audit-copy.ts), so a page
 * costs one object call however many rooms the node has.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { AuditPageSchema, AuditQuery } from "../../protocol/audit";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { requireAdmin } from "../middleware/auth";

export const adminAudit = new Hono<AppEnv>().get("/", requireAdmin(), async (c) => {
  const q = readQuery(c, AuditQuery);
  return reply(c, AuditPageSchema, await directory(c.env).auditPage(q));
});
