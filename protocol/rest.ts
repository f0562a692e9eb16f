/**
 * REST request bodies. Client input schemas are strict: an unknown field is an
 * `invalid_request`, because a typo in an integration (`replyto`) should fail
 * loudly instead of being silently ignored.
 */
import { z } from "zod";
import { ROOM_ID_RE, USER_ID_RE, MESSAGE_ID_RE, FILE_ID_RE } from "./ids";
import { VisibilitySchema, RoleSchema } from "./models";
import { DisplayNameSchema, RoomNameSchema } from "./names";

export const UserIdSchema = z.string().regex(USER_ID_RE, "not a user id");
export const RoomIdSchema = z.string().regex(ROOM_ID_RE, "not a room id");
export const MessageIdSchema = z.string().regex(MESSAGE_ID_RE, "not a message id");
export const FileIdSchema = z.string().regex(FILE_ID_RE, "not a file id");
/** Files to share with a message: uploaded first (POST /api/v1/rooms/{id}/files) by the sender, into the same room. */
export const AttachmentIdsSchema = z.array(FileIdSchema).min(1).max(10);

/** Usernames: lower-case latin letters, digits, `.`, `_`, `-`; what `@mentions` are made of. */
export const UsernameSchema = z
  .string()
  .min(2)
  .max(32)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "use lower-case letters, digits, '.', '_' or '-'");

// Passwords: only the shape here, at most 256 characters (a bound so hashing cost
// stays predictable). Which passwords may be chosen (at least 10 characters, not the
// username, not a common one) is the node's password policy, answered as
// `weak_password` with the rule that failed: it needs the username and a list of
// common passwords that has no place in every client's bundle.
export const PasswordSchema = z.string().min(1).max(256);

/** A client's own id for a message, so a retry is recognised (idempotency key). */
export const ClientIdSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, "letters, digits, '.', '_', ':' or '-'");

export const LoginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
});

export const SetupBody = z.strictObject({
  token: z.string().min(1).max(200),
  username: UsernameSchema,
  password: PasswordSchema,
  displayName: DisplayNameSchema.optional(),
});

export const CreateUserBody = z.strictObject({
  username: UsernameSchema,
  password: PasswordSchema,
  displayName: DisplayNameSchema,
  isAdmin: z.boolean().optional(),
});

export const ChangePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: PasswordSchema,
});

export const CreateRoomBody = z.strictObject({
  name: RoomNameSchema,
  visibility: VisibilitySchema,
  members: z.array(UserIdSchema).max(500).optional(),
  /**
   * "home": no message, file, search-index row or preview of this room is ever
   * stored on another node; members elsewhere are served live through the link
   * and see the room as unreachable while it is down. Default "everywhere".
   */
  residency: z.enum(["everywhere", "home"]).optional(),
});

export const UpdateRoomBody = z.strictObject({
  name: RoomNameSchema,
});

export const CreateDmBody = z.strictObject({ userId: UserIdSchema });

export const AddMemberBody = z.strictObject({ userId: UserIdSchema });

export const SetRoleBody = z.strictObject({ role: RoleSchema.exclude(["owner"]) });

export const SendMessageBody = z.strictObject({
  // Length in bytes is checked against the node's configured limit after parsing;
  // empty text is allowed only with attachments.
  text: z.string(),
  clientId: ClientIdSchema,
  replyTo: MessageIdSchema.optional(),
  attachments: AttachmentIdsSchema.optional(),
});

export const EditMessageBody = z.strictObject({ text: z.string().min(1) });

export const ReactBody = z.strictObject({ emoji: z.string().min(1).max(32) });

export const HistoryQuery = z.strictObject({
  before: z.coerce.number().int().min(0).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

export const SearchQuery = z.strictObject({
  q: z.string().max(256, "queries are limited to 256 characters"),
  room: RoomIdSchema.optional(),
  /** sender user id */
  from: UserIdSchema.optional(),
  /** ms since epoch */
  before: z.coerce.number().int().min(0).optional(),
  after: z.coerce.number().int().min(0).optional(),
  has: z.literal("file").optional(),
  cursor: z.string().max(32).optional(),
  limit: z.coerce.number().int().min(1).max(50).optional(),
});

/**
 * `GET /api/v1/rooms/public`: the public room directory, in name order (then id),
 * a page at a time. `q`: a case-insensitive substring of the name (any script);
 * `cursor`: the `nextCursor` of the page before, passed back unchanged.
 */
export const PublicRoomsQuery = z.strictObject({
  q: z.string().max(80, "room names are at most 80 characters").optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(1024).regex(/^[A-Za-z0-9_-]+$/, "not a cursor").optional(),
});

export const PublicRoomSchema = z.strictObject({ id: z.string(), name: z.string(), createdAt: z.number() });
export type PublicRoom = z.infer<typeof PublicRoomSchema>;
/** One page of the directory; `nextCursor` is null on the last page. */
export const PublicRoomsPageSchema = z.strictObject({ rooms: z.array(PublicRoomSchema), nextCursor: z.string().nullable() });
