/**
 * A user's own database (their "inbox" object): sessions and the rooms they
 * are in. Run `npm run db:generate` after changing it.
 */
import { sqliteTable, text, integer, index, uniqueIndex } from "drizzle-orm/sqlite-core";

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
  lastSeq: integer("last_seq").notNull().default(0),
  lastReadSeq: integer("last_read_seq").notNull().default(0),
  unread: integer("unread").notNull().default(0),
  mentions: integer("mentions").notNull().default(0),
  /** JSON of LastMessage, or null */
  lastMessage: text("last_message"),
  /** inbox position of the last change to this row (for resume) */
  pos: integer("pos").notNull().default(0),
  /** the user muted the room: its mentions and DMs make no notifications (counts are still kept) */
  muted: integer("muted", { mode: "boolean" }).notNull().default(false),
});

/** Rooms the user left or was removed from, by inbox position, so a resuming device learns of it. */
export const removedRooms = sqliteTable("removed_rooms", {
  roomId: text("room_id").primaryKey(),
  pos: integer("pos").notNull(),
});

/** Mentions and DMs, kept so a person who was away sees what they missed. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kind: text("kind", { enum: ["mention", "dm"] }).notNull(),
    roomId: text("room_id").notNull(),
    messageId: text("message_id").notNull(),
    seq: integer("seq").notNull(),
    senderId: text("sender_id").notNull(),
    preview: text("preview").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("notifications_message").on(t.roomId, t.messageId)],
);

/**
 * Other users' inboxes that want this user's presence changes. A watcher has
 * no expiry: it is dropped when it answers a change with "no device here
 * watches them any more" (presence.ts), so the list cleans itself.
 */
export const watchers = sqliteTable("watchers", {
  userId: text("user_id").primaryKey(),
});

/** This object's audit chain (shared/audit-schema.ts). */
export { auditLog } from "../shared/audit-schema";
