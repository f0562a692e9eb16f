/**
 * A user's own database (their "inbox" object): sessions and the rooms they
 * are in. Run `npm run db:generate` after changing it.
 */
import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

export const profile = sqliteTable("profile", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    /** SHA-256 of the token's secret part: a stolen database does not yield live tokens */
    secretHash: text("secret_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    userAgent: text("user_agent").notNull(),
  },
  (t) => [index("sessions_secret").on(t.secretHash)],
);

export const tickets = sqliteTable("tickets", {
  secretHash: text("secret_hash").primaryKey(),
  sessionId: text("session_id").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

export const rooms = sqliteTable("rooms", {
  roomId: text("room_id").primaryKey(),
  name: text("name").notNull(),
  kind: text("kind", { enum: ["group", "dm"] }).notNull(),
  visibility: text("visibility", { enum: ["public", "private"] }).notNull(),
  role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
  joinedAt: integer("joined_at").notNull(),
  /** for DMs: the other person */
  peerId: text("peer_id"),
});
