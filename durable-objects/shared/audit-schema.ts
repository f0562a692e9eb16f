/**
 * The `audit_log` table every object kind has (room, user, directory): one
 * hash chain per object file. Declared once here and exported from each
 * object's schema.ts, so drizzle-kit writes the same table into each kind's
 * migrations (`<n>_audit_log.sql`). See shared/audit.ts for how rows are
 * written and ops/audit.mjs for how they are checked.
 */
import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

export const auditLog = sqliteTable(
  "audit_log",
  {
    /** position in this object's chain: 1, 2, … with no gap */
    seq: integer("seq").primaryKey(),
    at: integer("at").notNull(),
    /** a user id, or "system" */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    roomId: text("room_id"),
    userId: text("user_id"),
    /** small JSON object; never message text, passwords or tokens */
    detail: text("detail").notNull(),
    /** hash of the record before (64 zeros for seq 1) */
    prevHash: text("prev_hash").notNull(),
    /** SHA-256 (hex) of the canonical encoding of this record with prevHash (shared/audit-hash.ts) */
    hash: text("hash").notNull(),
  },
  (t) => [index("audit_log_at").on(t.at)],
);
