/**
 * A mirror's SQLite file: this node's copy of a room homed on another node
 * (durable-objects/mirror/mirror-object.ts). It holds what the home pushed:
 * the room, its members, every message as the home last described it, read
 * positions, and a search index over the messages for this node's members.
 * Run `npm run db:generate` after changing it.
 */
import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, index, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Key/value: the room (JSON), its members (JSON), pushed positions, last contact. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/** Every message as the home last pushed it (a protocol Message as JSON), by the room's seq. */
export const messages = sqliteTable(
  "messages",
  {
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    version: integer("version").notNull(),
    body: text("body").notNull(),
  },
  (t) => [uniqueIndex("messages_id").on(t.id)],
);

/** Read positions of members who send receipts, as the home last pushed them. */
export const reads = sqliteTable("reads", {
  userId: text("user_id").primaryKey(),
  seq: integer("seq").notNull(),
});

/**
 * Sends of this node's members into the room, by idempotency key (sender +
 * session + clientId): `queued` until the home answers, then the home's answer
 * (`stored` with the message's seq, or `refused` with the reason), so a client
 * that repeats a send — after a reconnect, a reload — hears the same outcome
 * and nothing is queued twice. The rowid is the order the sends were made in.
 */
export const sends = sqliteTable(
  "sends",
  {
    clientKey: text("client_key").primaryKey(),
    state: text("state", { enum: ["queued", "stored", "refused"] }).notNull(),
    /** the home's answer (LinkSendResult JSON), once there is one */
    result: text("result"),
    at: integer("at").notNull(),
    /**
     * How it goes to the home: `channel` (on the room's channel, this row its
     * only record until answered), or `queue` (the link's queue; rows written
     * before channels carried sends have none, and went there too).
     */
    via: text("via", { enum: ["channel", "queue"] }),
    /** the send itself (LinkSendItem JSON) while it goes on the channel: handed to the link's queue if the channel fails it */
    item: text("item"),
  },
  // The sends still waiting for an answer, found without reading every send ever made.
  (t) => [index("sends_waiting").on(t.via).where(sql`state = 'queued'`)],
);
