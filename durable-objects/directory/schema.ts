/**
 * The node's directory (one object per node): accounts, the room directory,
 * login throttling, node identity. Run `npm run db:generate` after changing it.
 */
import { sqliteTable, text, integer, uniqueIndex, index, primaryKey } from "drizzle-orm/sqlite-core";

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

/** The directory's own audit chain (shared/audit-schema.ts). */
export { auditLog } from "../shared/audit-schema";

/**
 * The node-wide read copy of every object's audit chain (directory/audit-copy.ts):
 * what the admin listing reads. Keyed by (object, seq) so shipping is idempotent.
 */
export const auditCopy = sqliteTable(
  "audit_copy",
  {
    object: text("object").notNull(),
    seq: integer("seq").notNull(),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    roomId: text("room_id"),
    userId: text("user_id"),
    detail: text("detail").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_copy_key").on(t.object, t.seq),
    index("audit_copy_at").on(t.at),
    index("audit_copy_actor").on(t.actor, t.at),
    index("audit_copy_user").on(t.userId, t.at),
    index("audit_copy_room").on(t.roomId, t.at),
  ],
);

/** Per object: the newest record the directory has of its chain; what the signed checkpoint covers. */
export const auditHeads = sqliteTable("audit_heads", {
  object: text("object").primaryKey(),
  /** the room or user id the object is (or "directory") */
  name: text("name").notNull(),
  seq: integer("seq").notNull(),
  hash: text("hash").notNull(),
});

/**
 * Two-factor sign-in (mfa.ts): one row per account that began enrolling. The
 * TOTP secret is kept as the base32 the person's app holds (the node must
 * compute codes from it, so it cannot be hashed). `enabledAt` null: enrolment
 * started but not confirmed with a code yet, so sign-in does not ask for one.
 * `lastStep`: the 30-second step of the last code accepted; codes of that step
 * or earlier are refused (a code cannot be replayed within its window).
 */
export const mfa = sqliteTable("mfa", {
  userId: text("user_id").primaryKey(),
  secret: text("secret").notNull(),
  createdAt: integer("created_at").notNull(),
  enabledAt: integer("enabled_at"),
  lastStep: integer("last_step").notNull().default(-1),
});

/** Recovery codes: only their SHA-256 is stored; each is used once (`used_at`). */
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    userId: text("user_id").notNull(),
    codeHash: text("code_hash").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

/**
 * The second step of a sign-in with two factors: the password was right, the
 * code is still owed. Only the token's SHA-256 is stored; a few minutes, a few
 * tries, then it is gone.
 */
export const loginChallenges = sqliteTable("login_challenges", {
  tokenHash: text("token_hash").primaryKey(),
  userId: text("user_id").notNull(),
  username: text("username").notNull(),
  deviceId: text("device_id"),
  expiresAt: integer("expires_at").notNull(),
  attempts: integer("attempts").notNull().default(0),
});

/**
 * Accounts linked to the organisation's identity provider (sso-identities.ts):
 * the provider's stable subject (`iss` + `sub`), never the username or e-mail
 * it also sends, which can change hands.
 */
export const ssoIdentities = sqliteTable(
  "sso_identities",
  {
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    userId: text("user_id").notNull(),
    linkedAt: integer("linked_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] }), index("sso_identities_by_user").on(t.userId)],
);

/**
 * Single sign-ons under way: the `state` (its SHA-256), and the `nonce` and
 * PKCE verifier that belong to it, for ten minutes and one callback.
 */
export const ssoStates = sqliteTable("sso_states", {
  stateHash: text("state_hash").primaryKey(),
  nonce: text("nonce").notNull(),
  verifier: text("verifier").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

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
