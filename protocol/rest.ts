/**
 * REST request bodies. Client input schemas are strict: an unknown field is an
 * `invalid_request`, because a typo in an integration (`replyto`) should fail
 * loudly instead of being silently ignored.
 */
import { z } from "zod";
import { VisibilitySchema, RoleSchema } from "./models";
import { DisplayNameSchema, RoomNameSchema, TopicSchema } from "./names";

// The id schemas live in id-schemas.ts (socket frames and device frames use them without
// the request bodies below); re-exported so every body here and every import of them holds.
import { AttachmentIdsSchema, ClientIdSchema, FileIdSchema, MessageIdSchema, RoomIdSchema, UserIdSchema } from "./id-schemas";
export { AttachmentIdsSchema, ClientIdSchema, FileIdSchema, MessageIdSchema, RoomIdSchema, UserIdSchema };
export { MAX_ATTACHMENTS } from "./limits";

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


export const LoginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
});

/** `POST /auth/login/mfa`: the second step: the challenge and a 6-digit code or a recovery code. */
export const MfaLoginBody = z.strictObject({
  challenge: z.string().min(1).max(100),
  code: z.string().min(1).max(40),
});

/** `POST /me/mfa/confirm`: a current code from the app being enrolled. */
export const MfaConfirmBody = z.strictObject({ code: z.string().min(1).max(40) });

/** `POST /me/mfa/disable`: the account's password, or a current code (or recovery code) instead. */
export const MfaDisableBody = z.union([z.strictObject({ password: z.string().min(1).max(256) }), z.strictObject({ code: z.string().min(1).max(40) })]);

export const SetupBody = z.strictObject({
  token: z.string().min(1).max(200),
  username: UsernameSchema,
  password: PasswordSchema,
  displayName: DisplayNameSchema.optional(),
});

/**
 * `POST /api/v1/users` (admin). Without `password` the account cannot sign in
 * until its owner chooses one through an invite link (`POST /users/{id}/invite`).
 */
export const CreateUserBody = z.strictObject({
  username: UsernameSchema,
  password: PasswordSchema.optional(),
  displayName: DisplayNameSchema,
  isAdmin: z.boolean().optional(),
});

/** `PATCH /api/v1/users/{id}` (admin): what changes; at least one field. */
export const UpdateUserBody = z
  .strictObject({ isAdmin: z.boolean().optional(), displayName: DisplayNameSchema.optional() })
  .refine((b) => b.isAdmin !== undefined || b.displayName !== undefined, "nothing to change: give isAdmin or displayName");

/** `PATCH /api/v1/me`: what a person changes about themselves (their avatar: `PUT /api/v1/me/avatar`). */
export const UpdateMeBody = z.strictObject({ displayName: DisplayNameSchema });

/** `POST /api/v1/users/{id}/password` (admin): a new password for someone else (the node's policy applies). */
export const ResetPasswordBody = z.strictObject({ password: PasswordSchema });

/** An invite link's token: 32 random bytes, base64url (the path's last part in `/invite/<token>`). */
export const InviteTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "not an invite token");

/** `POST /api/v1/invites/lookup`: whose invite this is, before a password is chosen. */
export const InviteLookupBody = z.strictObject({ token: InviteTokenSchema });

/** `POST /api/v1/invites/accept`: choose a password and sign in (the link is used up). */
export const AcceptInviteBody = z.strictObject({ token: InviteTokenSchema, password: PasswordSchema });

/**
 * `GET /api/v1/accounts` (admin): this node's accounts in every state (active,
 * deactivated, waiting for their invite), by username, a page at a time. `q`:
 * a substring of the username or display name; `cursor`: the page before's `nextCursor`.
 */
export const AccountsQuery = z.strictObject({
  q: z.string().max(64, "at most 64 characters").optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "not a cursor").optional(),
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

/** `PATCH /api/v1/rooms/{id}`: a new name (room admins), a new topic (any member; "" clears it), or both. */
export const UpdateRoomBody = z
  .strictObject({
    name: RoomNameSchema.optional(),
    topic: TopicSchema.optional(),
  })
  .refine((b) => b.name !== undefined || b.topic !== undefined, { message: "give a name or a topic" });

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

/** Longest search query, in UTF-16 units. */
export const MAX_SEARCH_CHARS = 256;

export const SearchQuery = z.strictObject({
  q: z.string().max(MAX_SEARCH_CHARS, `queries are limited to ${MAX_SEARCH_CHARS} characters`),
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

export type { PublicRoom } from "./models";

// The query strings below were read by hand before they had schemas; they still
// ignore parameters they do not know (z.object, not strict), so an integration
// that sends one extra keeps working.

/** `GET /api/v1/me/notifications`: newest first; `before` an id, to page back. */
export const NotificationsQuery = z.object({
  before: z.string().regex(/^\d{1,15}$/, "must be a non-negative integer").transform(Number).optional(),
  /** 1–100 (larger or 0 is clamped by the inbox) */
  limit: z.string().regex(/^\d{1,3}$/, "must be a non-negative integer").transform(Number).default(50),
});

/** Most ids one `GET /users?ids=` may name. */
export const MAX_USER_IDS = 200;

/**
 * `GET /api/v1/users`: the people directory. `q` is matched as a substring of
 * the username or display name (longer input is cut to 64 characters); `limit`
 * 1–100 (larger is clamped), 20 by default.
 */
export const UsersQuery = z.object({
  q: z.string().optional().transform((q) => (q ?? "").slice(0, 64)),
  limit: z.coerce.number().int().min(1).default(20),
  /**
   * Comma-separated user ids (at most MAX_USER_IDS): exactly those people, active or
   * not, instead of a search — a client resolving the senders it has only ids for
   * (its inbox's last messages) asks once, not once per person. Unknown ids are left out.
   */
  ids: z
    .string()
    .optional()
    .transform((s) => (s ?? "").split(",").filter(Boolean))
    .pipe(z.array(z.string()).max(MAX_USER_IDS, `at most ${MAX_USER_IDS} ids`)),
});

/** Most ids one presence request may name. */
export const MAX_PRESENCE_IDS = 200;

/** `GET /api/v1/presence?ids=a,b`: comma-separated user ids; unknown ones are left out of the answer. */
export const PresenceQuery = z.object({
  ids: z
    .string()
    .default("")
    .transform((s) => s.split(",").filter(Boolean))
    .pipe(z.array(z.string()).max(MAX_PRESENCE_IDS, `at most ${MAX_PRESENCE_IDS} ids`)),
});

/** `POST /api/v1/rooms/{id}/files?name=`: the file's name (else the form part's filename, else "file"); cleaned, never refused. */
/**
 * `?name=` the file's name; `?size=` its exact length in bytes, for a body whose length
 * the request does not declare (a streamed body is sent chunked, without Content-Length):
 * without it the node cannot tell a body the client ended early from a whole file.
 */
export const UploadQuery = z.object({
  name: z.string().optional(),
  size: z
    .string()
    .regex(/^\d{1,15}$/, "size: the file's length in bytes, a whole number")
    .transform(Number)
    .optional(),
});

// ---- retention, legal holds, erasure (node administrators: /api/v1/admin/…) ----

/** A retention period: a whole number of days (at most 100 years), or `null` to keep forever. */
const RetentionDaysSchema = z.number().int().min(1).max(36_500).nullable();

/** `PUT /api/v1/admin/retention`: the node's default for every room without its own policy. */
export const SetRetentionDefaultBody = z.strictObject({ defaultDays: RetentionDaysSchema });

/** `PUT /api/v1/admin/rooms/{id}/retention`: the room's own policy, or `"default"` to follow the node's again. */
export const SetRoomRetentionBody = z.strictObject({ days: z.union([RetentionDaysSchema, z.literal("default")]) });

/** `POST /api/v1/admin/holds`: a legal hold on one room of this node or one person (exactly one of the two), with the reason (a case, a ticket). */
export const PlaceHoldBody = z
  .strictObject({
    roomId: z.string().max(200).optional(),
    userId: z.string().max(200).optional(),
    reason: z.string().trim().min(1, "say why (a case or ticket reference)").max(500),
  })
  .refine((b) => (b.roomId === undefined) !== (b.userId === undefined), "give exactly one of roomId and userId");
