/**
 * REST answers: the body of every successful JSON response, declared once.
 * The Worker answers through these (worker/reply.ts checks each body against
 * its schema), the SDK parses with them (leniently: protocol/lenient.ts), and
 * docs/API.md names them (test/protocol/api-docs.test.ts holds it to
 * protocol/api.ts, the table of which route answers with which).
 *
 * Errors are not here: every failure is `ErrorBodySchema` (protocol/errors.ts).
 */
import { z } from "zod";
import { InboxRoomSchema, LanguageSchema, NotificationSchema, PresenceSchema } from "./device";
import { AccountSchema, LegalHoldSchema, MemberSchema, MessageSchema, PublicRoomSchema, ReceiptSchema, RoomSchema, SearchHitSchema, SessionSchema, SessionUserSchema, UserSchema } from "./models";

/** `GET /healthz`: the node is up; `X-Outpost-Instance` says which start of it answered. */
export const HealthSchema = z.strictObject({
  ok: z.literal(true),
  node: z.string(),
  version: z.string(),
  /** the node's Ed25519 public key (base64url of the raw 32 bytes), for the cluster file; null under wrangler */
  publicKey: z.string().nullable(),
});

/**
 * `GET /api/v1/limits`: the node's limits a client needs before it sends (durable-objects/shared/limits.mjs),
 * so it can warn about a message that is too long instead of letting the node refuse it.
 */
export const NodeLimitsSchema = z.strictObject({
  /** largest message text in UTF-8 bytes (of the text as sent) */
  maxTextBytes: z.number().int().positive(),
  /** largest upload in bytes */
  maxFileBytes: z.number().int().positive(),
  /** how long an author may recall their own message (a room's owner and admins may recall any message at any time) */
  recallWindowSeconds: z.number().int().positive(),
});

export type NodeLimits = z.infer<typeof NodeLimitsSchema>;

/** Done, nothing more to say (logout, leave, remove, revoke, password change). */
export const OkSchema = z.strictObject({ ok: z.literal(true) });

/** `GET /setup`: does this node still wait for its first administrator? */
export const SetupStatusSchema = z.strictObject({ needed: z.boolean() });

/**
 * A new session (login, first-run setup). `token` is the bearer token (browsers
 * also get it as the HttpOnly cookie); `deviceToken` goes back as
 * `X-Outpost-Device` on this device's next login (see docs/API.md).
 */
export const SignInSchema = z.strictObject({
  token: z.string(),
  expiresAt: z.number(),
  user: SessionUserSchema,
  deviceToken: z.string().optional(),
});
export type SignIn = z.infer<typeof SignInSchema>;

/**
 * `POST /auth/login` for an account with two-factor sign-in: the password was
 * right, and the session waits for a code. Send `challenge` with the code (or a
 * recovery code) to `POST /auth/login/mfa` before `expiresAt` (5 minutes).
 */
export const MfaChallengeSchema = z.strictObject({
  mfaRequired: z.literal(true),
  challenge: z.string(),
  expiresAt: z.number(),
});
export type MfaChallenge = z.infer<typeof MfaChallengeSchema>;

/** `POST /auth/login`: a session, or (2FA on) the challenge of the second step. */
export const LoginAnswerSchema = z.union([SignInSchema, MfaChallengeSchema]);
export type LoginAnswer = z.infer<typeof LoginAnswerSchema>;

/** `GET /auth/sso`: the sign-in page's "Sign in with …" button, and whether the password form is on. */
export const SsoInfoSchema = z.strictObject({
  enabled: z.boolean(),
  displayName: z.string().optional(),
  passwordSignIn: z.boolean(),
});

/**
 * `GET /me/mfa`: the caller's two-factor state. `required`: the node requires
 * it of this account (an administrator under `mfa.requiredForAdmins`); while
 * it is required and not enabled the session can only enrol.
 */
export const MfaStatusSchema = z.strictObject({
  enabled: z.boolean(),
  recoveryCodesLeft: z.number().int(),
  required: z.boolean(),
});

/** `POST /me/mfa/enrol`: the new secret, for the app (as the QR code of `uri`, or typed). */
export const MfaEnrolmentSchema = z.strictObject({ secret: z.string(), uri: z.string() });

/** `POST /me/mfa/confirm`: 2FA is on; the recovery codes, shown this once. */
export const RecoveryCodesSchema = z.strictObject({ recoveryCodes: z.array(z.string()) });

/** `GET /users/{id}/sessions` (admin). */
export const SessionListSchema = z.strictObject({ sessions: z.array(SessionSchema) });

/** `GET /me/sessions`: mine, with the one this request came with marked `current`. */
export const MySessionListSchema = z.strictObject({ sessions: z.array(SessionSchema.extend({ current: z.boolean() })) });

/** `DELETE /users/{id}/sessions` (admin): how many sessions ended. */
export const RevokedSchema = z.strictObject({ revoked: z.number().int() });

/** Personal settings. */
export const SettingsSchema = z.strictObject({
  /** may others see how far I have read? */
  sendReceipts: z.boolean(),
  /** the interface language chosen on any device; null: each browser's own (absent from older nodes) */
  language: LanguageSchema.nullable().default(null),
});
export type Settings = z.infer<typeof SettingsSchema>;

/** `GET /me/rooms`: the caller's rooms with counts and last messages. */
export const InboxRoomListSchema = z.strictObject({ rooms: z.array(InboxRoomSchema) });

/** `GET /me/notifications`: mentions and DMs, newest first, and how many are unread. */
export const NotificationPageSchema = z.strictObject({ notifications: z.array(NotificationSchema), unread: z.number().int() });
export type NotificationPage = z.infer<typeof NotificationPageSchema>;

/** `GET /users`: people, by username. */
export const UserListSchema = z.strictObject({ users: z.array(UserSchema) });

/** `GET /accounts` (admin): one page of this node's accounts; `nextCursor` is null on the last page. */
export const AccountPageSchema = z.strictObject({ accounts: z.array(AccountSchema), nextCursor: z.string().nullable() });
export type AccountPage = z.infer<typeof AccountPageSchema>;

/**
 * `POST /users/{id}/invite` (admin): a one-time link's token (shown once: the
 * node keeps only its hash). The web client's link is `/invite/<token>`.
 */
export const InviteSchema = z.strictObject({ token: z.string(), expiresAt: z.number() });
export type Invite = z.infer<typeof InviteSchema>;

/** `POST /invites/lookup`: whose invite a token is, so the page can greet them. */
export const InviteInfoSchema = z.strictObject({ username: z.string(), displayName: z.string(), expiresAt: z.number() });
export type InviteInfo = z.infer<typeof InviteInfoSchema>;

/** `GET /presence`: those of the asked-for people the caller shares a room with. */
export const PresenceListSchema = z.strictObject({ presence: z.array(PresenceSchema) });

/** `GET /rooms/{id}`: the room as the caller sees it and who is in it. */
export const RoomInfoSchema = z.strictObject({ room: RoomSchema, members: z.array(MemberSchema) });
export type RoomInfo = z.infer<typeof RoomInfoSchema>;

export const MemberListSchema = z.strictObject({ members: z.array(MemberSchema) });

/** One page of the public room directory; `nextCursor` is null on the last page. */
export const PublicRoomsPageSchema = z.strictObject({ rooms: z.array(PublicRoomSchema), nextCursor: z.string().nullable() });
export type PublicRoomsPage = z.infer<typeof PublicRoomsPageSchema>;

/** One page of history, in `seq` order; `hasMore`: there is more in the direction asked. */
export const HistoryPageSchema = z.strictObject({
  messages: z.array(MessageSchema),
  hasMore: z.boolean(),
  lastSeq: z.number().int(),
  /**
   * Set for a room homed on another node, answered from this node's copy of it:
   * when the copy last heard from the home (ms since epoch), and `stale` while
   * the home cannot be reached — the page is what had arrived by then.
   */
  syncedAt: z.number().optional(),
  stale: z.boolean().optional(),
  /**
   * Set once the retention policy removed messages from this room: those below
   * `beforeSeq` sent before `before` (ms since epoch) are gone (except what a
   * legal hold keeps out of view). Clients show "messages before … were
   * removed by the retention policy" at the top of history. Absent from older nodes.
   */
  retention: z.strictObject({ beforeSeq: z.number().int(), before: z.number() }).optional(),
});
export type HistoryPage = z.infer<typeof HistoryPageSchema>;

/** `POST /rooms/{id}/read`: the caller's read position now (clamped, never backwards). */
export const ReadPositionSchema = z.strictObject({ lastReadSeq: z.number().int() });

export const ReceiptListSchema = z.strictObject({ receipts: z.array(ReceiptSchema) });

/** Search hits by score, then time; pass `cursor` back for the next page (null: no more). */
export const SearchResultsSchema = z.strictObject({ hits: z.array(SearchHitSchema), cursor: z.string().nullable() });
export type SearchResults = z.infer<typeof SearchResultsSchema>;

/** A single-use ticket that opens one socket (`?ticket=`), for clients that cannot set headers. */
export const SocketTicketSchema = z.strictObject({ ticket: z.string(), expiresAt: z.number() });
export type SocketTicket = z.infer<typeof SocketTicketSchema>;

/**
 * `POST /rooms/{id}/messages` in a room homed on a node this one cannot reach
 * right now (202): the message waits in the link's queue and is delivered once,
 * in order, when the link returns (docs/FEDERATION.md).
 */
export const QueuedSendSchema = z.strictObject({ queued: z.literal(true), clientId: z.string() });
export type QueuedSend = z.infer<typeof QueuedSendSchema>;

/** A send's answer: the stored message (201, or 200 for a repeat), or queued (202). */
export const SentMessageSchema = z.union([MessageSchema, QueuedSendSchema]);

/** `GET/PUT /api/v1/admin/retention`: the node's default retention (null: keep forever). */
export const RetentionDefaultSchema = z.strictObject({ defaultDays: z.number().int().positive().nullable() });

/** `GET /api/v1/admin/holds`: every legal hold of this node, oldest first. */
export const HoldListSchema = z.strictObject({ holds: z.array(LegalHoldSchema) });
