/**
 * Shapes the server sends: the objects inside REST responses and frames.
 * Server-to-client schemas are strict (no undeclared fields), in the spirit of
 * Zulip's event schemas: the server checks its REST answers against them
 * (worker/reply.ts) and the tests parse every frame they receive with them, so a
 * server that starts leaking a field it should not is caught.
 *
 * Clients parse the same schemas leniently (`lenient()` in protocol/lenient.ts:
 * unknown fields are dropped), so a newer node that adds a field never breaks
 * an older client.
 */
import { z } from "zod";

export const RoleSchema = z.enum(["owner", "admin", "member"]);
export type Role = z.infer<typeof RoleSchema>;

export const VisibilitySchema = z.enum(["public", "private"]);
export const RoomKindSchema = z.enum(["group", "dm"]);

export const UserSchema = z.strictObject({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  isAdmin: z.boolean(),
  active: z.boolean(),
  /**
   * The person's avatar, when they chose one: the SHA-256 (hex) of its bytes,
   * served at `GET /api/v1/users/{id}/avatar?v=<hash>`. Absent when there is
   * none (and from nodes that predate avatars): clients draw the first letter.
   */
  avatar: z.string().regex(/^[0-9a-f]{64}$/).nullable().optional(),
});
export type User = z.infer<typeof UserSchema>;

/** An account as its node's administrators see it (`GET /api/v1/accounts`). */
export const AccountSchema = UserSchema.extend({
  createdAt: z.number(),
  /** false while the account waits for its owner to choose a password through an invite link */
  passwordSet: z.boolean(),
});
export type Account = z.infer<typeof AccountSchema>;

/** The signed-in user as a sign-in answer names them. */
export const SessionUserSchema = UserSchema.pick({ id: true, username: true, displayName: true, isAdmin: true });
export type SessionUser = z.infer<typeof SessionUserSchema>;

/** One signed-in device or API client of a user (never its token). */
export const SessionSchema = z.strictObject({
  id: z.string(),
  createdAt: z.number(),
  lastUsedAt: z.number(),
  expiresAt: z.number(),
  /** as the client sent it at sign-in, cut to 200 characters */
  userAgent: z.string(),
});
export type Session = z.infer<typeof SessionSchema>;

export const MentionsSchema = z.strictObject({
  users: z.array(z.string()),
  all: z.boolean(),
});
export type Mentions = z.infer<typeof MentionsSchema>;

export const ReactionSchema = z.strictObject({
  emoji: z.string(),
  users: z.array(z.string()),
});

/** A file shared with a message (bytes at GET /api/v1/files/{id}). */
export const AttachmentSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  size: z.number().int(),
  contentType: z.string(),
  sha256: z.string(),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

export const MessageSchema = z.strictObject({
  id: z.string(),
  roomId: z.string(),
  seq: z.number().int(),
  clientId: z.string(),
  senderId: z.string(),
  text: z.string(),
  replyTo: z.string().nullable(),
  mentions: MentionsSchema,
  reactions: z.array(ReactionSchema),
  attachments: z.array(AttachmentSchema),
  createdAt: z.number(),
  editedAt: z.number().nullable(),
  /** set when recalled; `text` is then empty and `mentions`/`reactions` cleared (a tombstone) */
  deletedAt: z.number().nullable(),
  /**
   * Bumped by every change (edit, delete, reaction), so a client applying events
   * in any order keeps the newest copy. Equal to the room's event sequence at the time.
   */
  version: z.number().int(),
});
export type Message = z.infer<typeof MessageSchema>;

export const MemberSchema = z.strictObject({
  userId: z.string(),
  username: z.string(),
  displayName: z.string(),
  role: RoleSchema,
  joinedAt: z.number(),
});
export type Member = z.infer<typeof MemberSchema>;

export const RoomSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  /** one line about the room ("" when none); any member may set it. Added later: a node from before sends none */
  topic: z.string().default(""),
  kind: RoomKindSchema,
  visibility: VisibilitySchema,
  createdAt: z.number(),
  createdBy: z.string(),
  lastSeq: z.number().int(),
  memberCount: z.number().int(),
  /** the caller's role, when the caller is a member */
  role: RoleSchema.nullable(),
  /**
   * The retention policy in force (the room's own, else the node's default):
   * messages older than this many days are removed; null keeps them forever.
   * Only in `GET /rooms/{id}` and the admin retention answer; absent from older nodes.
   */
  retentionDays: z.number().int().positive().nullable().optional(),
  /**
   * Whether `retentionDays` is the room's own policy (true) or the node's
   * default it follows (false): the settings screen must not show a room whose
   * own policy equals the default as following it. Present with retentionDays.
   */
  retentionOwn: z.boolean().optional(),
});
export type Room = z.infer<typeof RoomSchema>;

/**
 * A legal hold (node administrators: /api/v1/admin/holds): nothing of the held
 * room, or nothing the held person sent in any room of this node, is deleted
 * by retention, recall or erasure while it lasts.
 */
export const LegalHoldSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(["room", "user"]),
  /** the room id or user id it holds */
  targetId: z.string(),
  /**
   * The room's name (a DM: its two people's names) or the person's display
   * name, as the node knows it now, so an admin who is not in the room sees
   * what it is; null when the node no longer knows the target. Absent from
   * older nodes.
   */
  targetName: z.string().nullable().optional(),
  reason: z.string(),
  createdBy: z.string(),
  createdAt: z.number(),
});
export type LegalHold = z.infer<typeof LegalHoldSchema>;

/**
 * An erasure (GDPR) of a person of this node (`POST /api/v1/admin/users/{id}/erase`):
 * `running` until every room of the node has been done (a crash resumes it) and
 * every other node of the cluster has erased them from its rooms, then `done`.
 */
export const ErasureSchema = z.strictObject({
  userId: z.string(),
  state: z.enum(["running", "done"]),
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  startedBy: z.string(),
  roomsTotal: z.number().int(),
  roomsDone: z.number().int(),
  /** other nodes of the cluster that have not yet confirmed erasing them from their rooms (retried with back-off) */
  nodesPending: z.array(z.string()),
});
export type Erasure = z.infer<typeof ErasureSchema>;

/** Where a member who shares receipts has read up to. */
export const ReceiptSchema = z.strictObject({ userId: z.string(), seq: z.number().int() });
export type Receipt = z.infer<typeof ReceiptSchema>;

/** A room in the public directory. */
export const PublicRoomSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  createdAt: z.number(),
  /** members, as the room last told the directory (null: not yet known for a room older than the count; absent from older nodes) */
  memberCount: z.number().int().nullable().default(null),
  /** "" when the room has none (absent from older nodes) */
  topic: z.string().default(""),
});
export type PublicRoom = z.infer<typeof PublicRoomSchema>;

export const SearchHitSchema = z.strictObject({
  message: MessageSchema,
  /** a window of the text around the match; `highlights` are [start, end) offsets into it */
  snippet: z.strictObject({ text: z.string(), highlights: z.array(z.tuple([z.number().int(), z.number().int()])) }),
  /** lower is better (FTS5 bm25) */
  score: z.number(),
});
export type SearchHit = z.infer<typeof SearchHitSchema>;
