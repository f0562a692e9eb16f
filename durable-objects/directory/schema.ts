/**
 * The node's directory (one object per node): accounts, the room directory,
 * login throttling, node identity. Run `npm run db:generate` after changing it.
 */
import { sqliteTable, text, integer, uniqueIndex, index } from "drizzle-orm/sqlite-core";

export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    displayName: text("display_name").notNull(),
    /** PBKDF2-SHA256: `pbkdf2$<iterations>$<salt b64>$<hash b64>` */
    passwordHash: text("password_hash").notNull(),
    isAdmin: integer("is_admin", { mode: "boolean" }).notNull(),
    active: integer("active", { mode: "boolean" }).notNull(),
    createdAt: integer("created_at").notNull(),
    /**
     * Position in this node's directory feed: bumped (from the `dir_version`
     * setting) by every change other nodes should learn (created, renamed,
     * deactivated, reactivated, admin flag). See replication.ts.
     */
    version: integer("version").notNull().default(0),
    /**
     * The person's avatar: the SHA-256 (hex) of its stored bytes, which are kept
     * under `avatars/<user key>/<hash>` in the file store (worker/avatars.ts); null: none.
     */
    avatar: text("avatar"),
  },
  (t) => [uniqueIndex("users_username").on(t.username), index("users_by_version").on(t.version)],
);

/**
 * The accounts of the cluster's other nodes, as their home nodes last said
 * (replication.ts): enough for the people picker, DMs, invites and @mentions
 * across branches. No password hash: a person signs in at their home node.
 */
export const remoteUsers = sqliteTable(
  "remote_users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    displayName: text("display_name").notNull(),
    homeNode: text("home_node").notNull(),
    isAdmin: integer("is_admin", { mode: "boolean" }).notNull(),
    active: integer("active", { mode: "boolean" }).notNull(),
    /** the home node's feed position of this row */
    version: integer("version").notNull(),
    /** the avatar's hash as the home node last said (its bytes stay there); null: none */
    avatar: text("avatar"),
  },
  (t) => [index("remote_users_username").on(t.username), index("remote_users_home").on(t.homeNode, t.version)],
);

export const rooms = sqliteTable(
  "rooms",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["group", "dm"] }).notNull(),
    visibility: text("visibility", { enum: ["public", "private"] }).notNull(),
    /** for DMs: the two user ids sorted and joined, so there is one DM per pair */
    dmKey: text("dm_key"),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    /**
     * The name folded for search (NFKC, lower case: see public-rooms.ts), so the
     * public directory matches names case-insensitively in every script, not only
     * ASCII as SQLite's own LIKE/lower() do. Rows from before it existed are
     * filled in when the directory wakes.
     */
    nameFold: text("name_fold").notNull().default(""),
    /**
     * Members, as the room last reported (durable-objects/room/members.ts), for the
     * public directory; null until a room that existed before this column reports.
     */
    memberCount: integer("member_count"),
    /** The room's topic for the public directory ("" when it has none). */
    topic: text("topic").notNull().default(""),
  },
  (t) => [
    uniqueIndex("rooms_dm_key").on(t.dmKey),
    // The public directory, paged in (name, id) order.
    index("rooms_by_name").on(t.kind, t.visibility, t.name, t.id),
    // The room quota: a user's rooms of the last 24 hours.
    index("rooms_by_creator").on(t.createdBy, t.createdAt),
  ],
);

/** Failed logins per key (`u:<username>` or `ip:<address>`) in the current window. */
export const loginFailures = sqliteTable("login_failures", {
  key: text("key").primaryKey(),
  count: integer("count").notNull(),
  windowStart: integer("window_start").notNull(),
});

/**
 * Rooms homed on other nodes that have a mirror here (durable-objects/mirror/):
 * registered when the home first pushes, before the mirror is touched, so an id
 * of another node's room reaches a mirror only once its home said so.
 */
export const mirrors = sqliteTable("mirrors", {
  id: text("id").primaryKey(),
  registeredAt: integer("registered_at").notNull(),
});

/**
 * One-time invite links (admin → new colleague): only the SHA-256 of the token
 * is stored, so a copy of the directory's file signs no one in. Single use
 * (`used_at`), and a new link for the same account replaces the old one.
 */
export const invites = sqliteTable(
  "invites",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [index("invites_by_user").on(t.userId)],
);

/**
 * Sessions this node serves for people of other nodes who signed in here
 * (visitors: durable-objects/directory/visitors.ts). The session itself was
 * issued by the person's home node, which checked the password; this row lets
 * this node authenticate it without the link (only the SHA-256 of the token's
 * secret is kept). `checked_at`: when the home last confirmed it; `rooms`: the
 * rooms of this node where it opened sockets (closed when it ends).
 */
export const visitorSessions = sqliteTable(
  "visitor_sessions",
  {
    secretHash: text("secret_hash").primaryKey(),
    userId: text("user_id").notNull(),
    sessionId: text("session_id").notNull(),
    username: text("username").notNull(),
    displayName: text("display_name").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    checkedAt: integer("checked_at").notNull(),
    rooms: text("rooms").notNull().default("[]"),
  },
  (t) => [index("visitor_sessions_by_user").on(t.userId)],
);
