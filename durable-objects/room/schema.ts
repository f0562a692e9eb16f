/**
 * A room's own SQLite database (one file per room under the node's data dir).
 * Changing this file? Run `npm run db:generate` and commit the new migration:
 * rooms apply pending migrations when they wake.
 */
import { sqliteTable, text, integer, primaryKey, index, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Key/value settings of the room: id, name, kind, visibility, createdAt, createdBy. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const members = sqliteTable("members", {
  userId: text("user_id").primaryKey(),
  username: text("username").notNull(),
  displayName: text("display_name").notNull(),
  role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
  joinedAt: integer("joined_at").notNull(),
  /** read position: every message with seq <= this has been read by the member */
  lastReadSeq: integer("last_read_seq").notNull().default(0),
  /** whether others may see this member's read position (a personal setting, copied at each read) */
  sendReceipts: integer("send_receipts", { mode: "boolean" }).notNull().default(true),
});

export const messages = sqliteTable(
  "messages",
  {
    /** the room's sequence: strictly increasing, assigned at commit */
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    /** sender + session + the client's id: the idempotency key (Matrix txn-id semantics) */
    clientKey: text("client_key").notNull(),
    clientId: text("client_id").notNull(),
    senderId: text("sender_id").notNull(),
    text: text("text").notNull(),
    replyTo: text("reply_to"),
    /** JSON `{users:[…], all}` */
    mentions: text("mentions").notNull(),
    createdAt: integer("created_at").notNull(),
    editedAt: integer("edited_at"),
    deletedAt: integer("deleted_at"),
    /**
     * who recalled it (the author, or a room admin or owner): null for messages
     * that are not recalled, and for those recalled before this column existed
     * (a compliance export then says "unknown"). Read by the export only.
     */
    deletedBy: text("deleted_by"),
    /** room-wide change counter at the last change of this message */
    version: integer("version").notNull(),
    /** JSON array of Attachment (files shared with the message), or null */
    attachments: text("attachments"),
  },
  (t) => [uniqueIndex("messages_id").on(t.id), uniqueIndex("messages_client_key").on(t.clientKey), index("messages_version").on(t.version)],
);

export const reactions = sqliteTable(
  "reactions",
  {
    seq: integer("seq").notNull(),
    emoji: text("emoji").notNull(),
    userId: text("user_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.seq, t.emoji, t.userId] })],
);

/**
 * Changes other objects must hear about (a member's inbox: added, removed,
 * renamed), written in the same transaction as the change and delivered after
 * it; an alarm retries until the receiver has them. So a membership change is
 * never half-applied even if the inbox object is briefly unreachable.
 */
export const outbox = sqliteTable("outbox", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  userId: text("user_id").notNull(),
  /** JSON of an InboxUpdate (durable-objects/user/inbox-update.ts) */
  payload: text("payload").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Who a message mentions (`*` = @all), so mention counts are an index lookup. */
export const mentionIndex = sqliteTable(
  "mention_index",
  {
    seq: integer("seq").notNull(),
    userId: text("user_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.seq] }), index("mention_index_seq").on(t.seq)],
);

/**
 * Files shared in the room. The bytes live in the file store (the node's disk,
 * or R2 on Cloudflare: durable-objects/shared/file-store.ts) under a generated
 * name; the user's filename is only metadata.
 */
export const files = sqliteTable(
  "files",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256").notNull(),
    uploaderId: text("uploader_id").notNull(),
    createdAt: integer("created_at").notNull(),
    /** the message that shares it, once sent; a recall of that message deletes the file */
    messageSeq: integer("message_seq"),
    /** the key in the file store (`<room key>/<file key>`) */
    storageKey: text("storage_key").notNull(),
  },
  (t) => [index("files_message").on(t.messageSeq)],
);

/** This object's audit chain (shared/audit-schema.ts). */
export { auditLog } from "../shared/audit-schema";
/**
 * What a legal hold keeps of messages the room no longer shows (retention.ts,
 * erasure.ts, messages.ts recall): a copy of the message row as it was, with
 * the file rows it shared (their bytes stay in the file store while the copy
 * exists). Members never read this table; it is for the hold (an export, an
 * auditor) and is emptied once the hold that kept a row is released.
 * Added by the retention/legal-hold work (migration 0006_legal_hold_copies).
 */
export const heldMessages = sqliteTable("held_messages", {
  seq: integer("seq").primaryKey(),
  senderId: text("sender_id").notNull(),
  /** JSON of the message row as it was before it was recalled or erased */
  message: text("message").notNull(),
  /** JSON array of the file rows it shared (storage keys included) */
  files: text("files").notNull(),
  /** why it was kept: "recall" or "erasure" */
  reason: text("reason").notNull(),
  keptAt: integer("kept_at").notNull(),
});
