/**
 * The compliance export (`GET /api/v1/admin/export`, `npm run export`): its
 * query and the records it writes. A zip holds JSON Lines files, one record
 * per line, each line one of the schemas below, and `manifest.json`
 * (`ExportManifestSchema`) naming every entry with its SHA-256. The layout is
 * described in docs/OPERATIONS.md ("Export"); `FORMAT_VERSION` changes when a
 * record changes incompatibly, so a reader written today can tell.
 */
import { z } from "zod";
import { ROOM_ID_RE, USER_ID_RE } from "./ids";
import { AttachmentSchema, MentionsSchema, RoleSchema, RoomKindSchema, SessionSchema, UserSchema, VisibilitySchema } from "./models";
import { InboxRoomSchema } from "./device";
import { SettingsSchema } from "./responses";

export const EXPORT_FORMAT = "outpost-export";
export const EXPORT_FORMAT_VERSION = 1;

/**
 * Exactly one of `room` (a room's whole history) or `user` (everything of one
 * person: a GDPR access request). `format`: `zip` (JSON Lines + files +
 * manifest) or `csv` (one row per message, for eDiscovery tools).
 */
export const ExportQuery = z
  .strictObject({
    room: z.string().regex(ROOM_ID_RE, "not a room id").optional(),
    user: z.string().regex(USER_ID_RE, "not a user id").optional(),
    format: z.enum(["zip", "csv"]).default("zip"),
  })
  .refine((q) => (q.room === undefined) !== (q.user === undefined), { message: "give exactly one of room or user", path: ["room"] });
export type ExportQuery = z.infer<typeof ExportQuery>;

/** The room's settings as stored (`room.json`). */
export const ExportRoomSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  topic: z.string(),
  kind: RoomKindSchema,
  visibility: VisibilitySchema,
  createdAt: z.number(),
  createdBy: z.string(),
  lastSeq: z.number().int(),
});
export type ExportRoom = z.infer<typeof ExportRoomSchema>;

/** A member now, with their role and read position (`members.jsonl`). */
export const ExportMemberSchema = z.strictObject({
  userId: z.string(),
  username: z.string(),
  displayName: z.string(),
  role: RoleSchema,
  joinedAt: z.number(),
  lastReadSeq: z.number().int(),
});
export type ExportMember = z.infer<typeof ExportMemberSchema>;

/**
 * One message (`messages.jsonl`), in seq order. Rooms keep the current text
 * and the time of the last edit, not earlier versions, so `editedAt` is all
 * there is of edits. A recalled message's text and files are gone (a recall
 * deletes them); `recalledBy` is null when it was recalled before rooms
 * recorded who did it.
 */
export const ExportMessageSchema = z.strictObject({
  roomId: z.string(),
  id: z.string(),
  seq: z.number().int(),
  senderId: z.string(),
  /** the sender's display name at the time of the export (members, else the directory; "" if unknown) */
  senderName: z.string(),
  createdAt: z.number(),
  text: z.string(),
  replyTo: z.string().nullable(),
  mentions: MentionsSchema,
  editedAt: z.number().nullable(),
  recalled: z.boolean(),
  recalledAt: z.number().nullable(),
  recalledBy: z.string().nullable(),
  reactions: z.array(z.strictObject({ emoji: z.string(), users: z.array(z.string()) })),
  /** files by id; their bytes are `files/<id>/<name>` in the zip */
  attachments: z.array(AttachmentSchema),
});
export type ExportMessage = z.infer<typeof ExportMessageSchema>;

/** A file uploaded to a room (`files.jsonl`); `messageSeq` null: uploaded but never sent. */
export const ExportFileSchema = z.strictObject({
  roomId: z.string(),
  id: z.string(),
  name: z.string(),
  size: z.number().int(),
  contentType: z.string(),
  sha256: z.string(),
  uploaderId: z.string(),
  createdAt: z.number(),
  messageSeq: z.number().int().nullable(),
  /** the entry in the zip holding the bytes; null when the bytes were missing from the file store */
  entry: z.string().nullable(),
});
export type ExportFile = z.infer<typeof ExportFileSchema>;

/** A reaction the person gave (`reactions.jsonl` of a user export). */
export const ExportReactionSchema = z.strictObject({
  roomId: z.string(),
  messageId: z.string(),
  seq: z.number().int(),
  emoji: z.string(),
  createdAt: z.number(),
});
export type ExportReaction = z.infer<typeof ExportReactionSchema>;

/** A room the person is in (`rooms.jsonl` of a user export): the room, their role and read position. */
export const ExportMembershipSchema = z.strictObject({
  roomId: z.string(),
  name: z.string(),
  kind: RoomKindSchema,
  role: RoleSchema,
  joinedAt: z.number(),
  lastReadSeq: z.number().int(),
});
export type ExportMembership = z.infer<typeof ExportMembershipSchema>;

/** `account.json` of a user export: the account (never its password hash), settings, sessions (never their tokens), inbox. */
export const ExportAccountSchema = z.strictObject({
  user: UserSchema,
  settings: SettingsSchema,
  sessions: z.array(SessionSchema),
  inbox: z.array(InboxRoomSchema),
});
export type ExportAccount = z.infer<typeof ExportAccountSchema>;

export const ExportManifestSchema = z.strictObject({
  format: z.literal(EXPORT_FORMAT),
  formatVersion: z.literal(EXPORT_FORMAT_VERSION),
  node: z.string(),
  version: z.string(),
  /** when the export began (ms since the epoch) */
  exportedAt: z.number(),
  exportedBy: z.string(),
  query: z.strictObject({ room: z.string().optional(), user: z.string().optional() }),
  counts: z.record(z.string(), z.number().int()),
  /** every other entry of the zip, in the order written */
  entries: z.array(z.strictObject({ path: z.string(), size: z.number().int(), sha256: z.string() })),
  /** what the export could not include, in words (a file missing from the store, a room that failed) */
  notes: z.array(z.string()),
});
export type ExportManifest = z.infer<typeof ExportManifestSchema>;
