/**
 * The cluster as people and other nodes see it: `GET /api/v1/cluster` (every
 * node with the state of this node's link to it) and the answers of the node
 * link's own endpoints (`/link/v1/…`, signed; see docs/FEDERATION.md).
 */
import { z } from "zod";
import { MemberSchema, MessageSchema, RoomKindSchema, UserSchema, VisibilitySchema } from "./models";
import { PresenceStatusSchema } from "./device";

// What people see of the cluster (GET /api/v1/cluster) has its own file: the web client
// imports it without the link's schemas below.
export * from "./cluster-view";

/** `POST /link/v1/ping` answer. Receivers ignore fields they do not know (nodes of another version). */
export const PingAnswer = z.object({
  node: z.string(),
  version: z.string(),
  protocol: z.number().int(),
  time: z.number(),
  /** the node's directory feed position: pull `GET /link/v1/directory/users` when it moved */
  directoryVersion: z.number().int().min(0),
  /**
   * the answering node holds no current presence of the asking node's users
   * (it started, or the link was down): send a full `POST /link/v1/presence`.
   * Absent from nodes that predate presence across nodes.
   */
  presenceWanted: z.boolean().optional(),
});
export type PingAnswer = z.infer<typeof PingAnswer>;

/** `GET /link/v1/directory/users?after=V` answer: the node's own accounts changed after V. */
export const DirectoryFeedPage = z.object({
  // An account as protocol/models.ts declares it, and its place in the feed. Loose: a node
  // of a newer version may say more about an account than this one knows.
  users: z.array(z.looseObject({ ...UserSchema.shape, version: z.number().int() })),
  /** the feed position this page reaches */
  version: z.number().int().min(0),
  /** more pages follow */
  more: z.boolean(),
});
export type DirectoryFeedPage = z.infer<typeof DirectoryFeedPage>;

/**
 * A message sent on one node into a room homed on another, as the member's node
 * forwards it (queued, in order, while the link is down). The home room
 * decides, as for any send; `clientId` makes a repeat harmless.
 */
export const LinkSendItem = z.object({
  roomId: z.string(),
  userId: z.string(),
  sessionId: z.string(),
  clientId: z.string(),
  text: z.string(),
  replyTo: z.string().optional(),
  attachments: z.array(z.string()).optional(),
});
export type LinkSendItem = z.infer<typeof LinkSendItem>;

/** What the home did with one forwarded send: stored (or already stored), or refused with a reason. */
export const LinkSendResult = z.union([
  z.object({ userId: z.string(), sessionId: z.string(), clientId: z.string(), ok: z.literal(true), message: MessageSchema.loose(), duplicate: z.boolean() }),
  z.object({ roomId: z.string(), userId: z.string(), sessionId: z.string(), clientId: z.string(), ok: z.literal(false), code: z.string(), message: z.string() }),
]);
export type LinkSendResult = z.infer<typeof LinkSendResult>;

/** `POST /link/v1/sends` answer: results for the items it got to, in order; it stops at a passing fault. */
export const LinkSendsAnswer = z.object({ results: z.array(LinkSendResult), stopped: z.string().nullable() });
export type LinkSendsAnswer = z.infer<typeof LinkSendsAnswer>;

/**
 * Refusals of a send that pass (a full disk, a rate limit, a room under
 * repair): the home stops there, and the sender's node keeps that send and
 * what follows it, in order, and tries again later.
 */
export const TRANSIENT_SEND_CODES: ReadonlySet<string> = new Set(["storage_error", "rate_limited", "room_unavailable", "internal"]);

/**
 * What a room's home pushes to a node where it has members (`POST
 * /link/v1/rooms/{id}/push`): everything changed after the version that node
 * last confirmed. The mirror applies it (idempotently: a repeat changes nothing)
 * and answers with the positions it now has; the home goes on from there.
 */
export const RoomPush = z.object({
  room: z.object({
    id: z.string(),
    name: z.string(),
    /** absent from homes older than topics */
    topic: z.string().default(""),
    kind: RoomKindSchema,
    visibility: VisibilitySchema,
    createdAt: z.number(),
    createdBy: z.string(),
    /** "home": no message of this room may be stored outside its home node */
    residency: z.enum(["everywhere", "home"]),
  }),
  /** the member list when it changed since `membersRev` was confirmed, else null */
  members: z.array(MemberSchema.loose()).nullable(),
  membersRev: z.number().int(),
  lastSeq: z.number().int(),
  version: z.number().int(),
  /** the version the home believes the mirror has: `messages` holds every message changed after it, in seq order */
  after: z.number().int(),
  messages: z.array(MessageSchema.loose()),
  /** read positions of members who send receipts */
  reads: z.array(z.object({ userId: z.string(), seq: z.number().int() })),
  /** people typing right now (not stored) */
  typing: z.array(z.string()).optional(),
  /**
   * What the home's retention policy removed (room/retention.ts): the mirror
   * deletes its copies of messages below `beforeSeq` sent before `before`,
   * except those of `keptSenders` (people under a legal hold at the purge), and
   * shows the same marker. Also the gap marker of a mirror that was away while
   * the home removed history it never received. Absent from older homes.
   */
  retention: z.object({ beforeSeq: z.number().int(), before: z.number(), keptSenders: z.array(z.string()).default([]) }).optional(),
});
export type RoomPush = z.infer<typeof RoomPush>;

export const RoomPushAnswer = z.object({ version: z.number().int(), lastSeq: z.number().int(), membersRev: z.number().int() });
export type RoomPushAnswer = z.infer<typeof RoomPushAnswer>;

/**
 * A member's action forwarded by their node to the room's home
 * (`POST /link/v1/rooms/{id}/call`): the room method and its arguments after the caller.
 */
export const LinkCall = z.object({
  method: z.enum(["info", "history", "getMessage", "edit", "remove", "react", "markRead", "receipts", "search", "join", "addMember", "removeMember", "setRole", "rename", "updateRoom", "setSendReceipts", "inboxSummary", "typing", "memberProfileChanged"]),
  caller: z.object({ userId: z.string(), sessionId: z.string(), username: z.string(), displayName: z.string() }),
  args: z.array(z.unknown()).max(4),
});
export type LinkCall = z.infer<typeof LinkCall>;

/** One person's presence as their home node reports it. Loose: a newer node may say more. */
export const LinkPresenceItem = z.looseObject({
  userId: z.string(),
  status: PresenceStatusSchema,
  /** ms since epoch of the change (the receiver shows "now" for people who are online or away) */
  lastSeen: z.number().nullable(),
});
export type LinkPresenceItem = z.infer<typeof LinkPresenceItem>;

/**
 * `POST /link/v1/presence`: the sending node's users whose presence changed
 * (`full: false`), or all of its users who are online or away (`full: true`:
 * everyone of that node not listed is offline). `epoch` names the sender's
 * link object's life and `seq` orders its reports: a receiver ignores one
 * older than the last it applied from the same epoch.
 */
export const LinkPresenceReport = z.object({
  epoch: z.string().max(64),
  seq: z.number().int().min(0),
  full: z.boolean(),
  items: z.array(LinkPresenceItem).max(20_000),
});
export type LinkPresenceReport = z.infer<typeof LinkPresenceReport>;

/** Its answer: `accepted: false` (503) while the receiver counts the link to the sender down. */
export const LinkPresenceAnswer = z.object({ accepted: z.boolean(), applied: z.number().int() });
export type LinkPresenceAnswer = z.infer<typeof LinkPresenceAnswer>;

/**
 * `POST /link/v1/erasures`: a person homed on the sending node is being erased
 * there (durable-objects/directory/erasure-peers.ts); this node erases them
 * from its own rooms (durable-objects/directory/erasure-foreign.ts).
 */
export const LinkErasureRequest = z.object({ userId: z.string() });
export type LinkErasureRequest = z.infer<typeof LinkErasureRequest>;

/** Its answer: the job on the receiving node; the sender asks again until `done`. Loose: a newer node may say more. */
export const LinkErasureAnswer = z.looseObject({
  state: z.enum(["running", "done"]),
  roomsTotal: z.number().int(),
  roomsDone: z.number().int(),
});
export type LinkErasureAnswer = z.infer<typeof LinkErasureAnswer>;
