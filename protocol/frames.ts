/**
 * WebSocket frames, declared once. Every frame is JSON with a `type`.
 *
 * Direction is in the name of each schema: `Client…` frames are sent by
 * clients and parsed by the server (strictly: unknown fields are an error);
 * `Server…` frames are sent by the server. Clients parse them leniently
 * (`lenient()`, protocol/lenient.ts: unknown fields dropped) and ignore frame
 * types they do not know, so the server can add fields and events without
 * breaking old clients.
 *
 * Every client frame may carry `reqId`; the server echoes it as `replyTo` on
 * the `error` or `ok` it answers with. For `msg.send` the `clientId` plays the
 * same role (the `msg.ack` names it).
 */
import { z } from "zod";
import { AttachmentIdsSchema, ClientIdSchema, MessageIdSchema } from "./id-schemas";
import { CLIENT_ID_RE } from "./ids";
import { MessageSchema, MemberSchema, RoomSchema } from "./models";

/** A client's id for one request, echoed as `replyTo` (every client frame may carry one). */
export const ReqId = z.string().min(1).max(64).optional();

// ---- client -> server (room socket) ----------------------------------------

/** client → room: send a message; answered by `msg.ack` (sender) and `msg.new` (everyone). */
export const ClientSend = z.strictObject({
  type: z.literal("msg.send"),
  clientId: ClientIdSchema,
  text: z.string(),
  replyTo: MessageIdSchema.optional(),
  attachments: AttachmentIdsSchema.optional(),
  reqId: ReqId,
});
/** client → room: edit own message; everyone gets `msg.updated`. */
export const ClientEdit = z.strictObject({ type: z.literal("msg.edit"), id: MessageIdSchema, text: z.string().min(1), reqId: ReqId });
/** client → room: recall a message (author within the window, room admins any time); everyone gets `msg.updated` with a tombstone. */
export const ClientDelete = z.strictObject({ type: z.literal("msg.delete"), id: MessageIdSchema, reqId: ReqId });
/** client → room: toggle the caller's reaction `emoji` on a message; everyone gets `msg.updated`. */
export const ClientReact = z.strictObject({ type: z.literal("msg.react"), id: MessageIdSchema, emoji: z.string().min(1).max(32), reqId: ReqId });
/** client → room: ask for messages after `afterSeq` (resume); answered by `sync`. */
export const ClientSync = z.strictObject({
  type: z.literal("sync"),
  afterSeq: z.number().int().min(0),
  /** also send older messages changed (edited, recalled, reacted) after this room version */
  afterVersion: z.number().int().min(0).optional(),
  reqId: ReqId,
});
/** client → any socket: keep-alive; answered by `pong` (handled without waking the object). */
export const ClientPing = z.strictObject({ type: z.literal("ping"), reqId: ReqId });


/** client → room: the user is typing (never stored; others see it for ~6 s; at most one every 2 s is passed on). */
export const ClientTyping = z.strictObject({ type: z.literal("typing"), reqId: ReqId });
/** client → room: mark read up to `seq`. */
export const ClientRead = z.strictObject({ type: z.literal("read"), seq: z.number().int().min(0), reqId: ReqId });

export const ClientRoomFrame = z.discriminatedUnion("type", [ClientSend, ClientEdit, ClientDelete, ClientReact, ClientSync, ClientPing, ClientTyping, ClientRead]);
export type ClientRoomFrame = z.infer<typeof ClientRoomFrame>;

// ---- server -> client (room socket) ----------------------------------------

/** room → client, first frame after connect: who you are here and where the room is. */
export const ServerHello = z.strictObject({
  type: z.literal("hello"),
  room: RoomSchema,
  userId: z.string(),
  /** the highest seq in the room now */
  lastSeq: z.number().int(),
  /** the room's change counter now (every new message, edit, recall, reaction bumps it) */
  version: z.number().int(),
});
/** room → sender: the message is committed to disk under `seq`. */
export const ServerAck = z.strictObject({
  type: z.literal("msg.ack"),
  clientId: z.string(),
  id: z.string(),
  seq: z.number().int(),
  /** true when this clientId had already been stored: nothing new was written */
  duplicate: z.boolean(),
});
/**
 * room → sender, in a room homed on another node whose link is down: the
 * message is kept in this node's queue and will be delivered, once and in
 * order, when the link returns; `msg.ack` (or an `error` with `replyTo` = the
 * clientId, if the home refuses it) follows then.
 */
export const ServerQueued = z.strictObject({ type: z.literal("msg.queued"), clientId: z.string() });
/** room → everyone in the room: a new message. */
export const ServerNew = z.strictObject({ type: z.literal("msg.new"), message: MessageSchema });
/** room → everyone: the current state of a message after an edit, recall or reaction. */
export const ServerUpdated = z.strictObject({ type: z.literal("msg.updated"), message: MessageSchema });
/** room → requester: the messages after `afterSeq`, or `tooFarBehind` if a page refetch is needed. */
export const ServerSync = z.strictObject({
  type: z.literal("sync"),
  messages: z.array(MessageSchema),
  lastSeq: z.number().int(),
  version: z.number().int(),
  /** more messages were missed than fit in one frame: refetch with REST history */
  tooFarBehind: z.boolean(),
  replyTo: z.string().optional(),
});
/** room → everyone: membership changed. */
export const ServerMemberJoined = z.strictObject({ type: z.literal("member.joined"), member: MemberSchema });
export const ServerMemberLeft = z.strictObject({ type: z.literal("member.left"), userId: z.string(), removedBy: z.string().nullable() });
export const ServerMemberUpdated = z.strictObject({ type: z.literal("member.updated"), member: MemberSchema });
/** room → everyone: name or settings changed. */
export const ServerRoomUpdated = z.strictObject({ type: z.literal("room.updated"), room: RoomSchema });
/** room → everyone else: `userId` is typing; expires after `expiresInMs` unless repeated. */
export const ServerTyping = z.strictObject({ type: z.literal("typing"), userId: z.string(), expiresInMs: z.number().int() });
/** room → everyone: `userId` has read up to `seq` (only for users who send receipts). */
export const ServerReceipt = z.strictObject({ type: z.literal("receipt"), userId: z.string(), seq: z.number().int() });
/** any → requester: a request without its own answer frame succeeded. */
export const ServerOk = z.strictObject({ type: z.literal("ok"), replyTo: z.string() });
/** any → client: the answer to `ping`. */
export const ServerPong = z.strictObject({ type: z.literal("pong") });
/** any → client: the frame named by `replyTo` failed (see protocol/errors for codes). */
export const ServerError = z.strictObject({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  replyTo: z.string().optional(),
  /** with `rate_limited`: wait this long, then send the same frame again (same clientId) */
  retryAfterMs: z.number().int().nonnegative().optional(),
});

export const ServerRoomFrame = z.discriminatedUnion("type", [
  ServerHello,
  ServerAck,
  ServerQueued,
  ServerNew,
  ServerUpdated,
  ServerSync,
  ServerMemberJoined,
  ServerMemberLeft,
  ServerMemberUpdated,
  ServerRoomUpdated,
  ServerTyping,
  ServerReceipt,
  ServerOk,
  ServerPong,
  ServerError,
]);
export type ServerRoomFrame = z.infer<typeof ServerRoomFrame>;

/**
 * room → client that connected with `?batch=1`: several frames at once, in
 * order (sent under load instead of one frame per event; a single event is
 * still sent as itself). Unwrap and handle each frame as if it came alone.
 */
export const ServerBatch = z.strictObject({ type: z.literal("batch"), frames: z.array(ServerRoomFrame) });
export type ServerBatch = z.infer<typeof ServerBatch>;

/**
 * Parse one raw client frame. Returns the typed frame, or an error frame to
 * send back (never throws): bad JSON, a non-object, an unknown `type`, wrong
 * field types and unknown fields all become `invalid_request` / `bad_json`.
 */
export function parseClientRoomFrame(raw: string | ArrayBuffer): ParsedFrame<ClientRoomFrame> {
  return parseClientFrame(ClientRoomFrame, raw, plainSend);
}

/**
 * The frame a room parses most, checked by hand: a `msg.send` with only
 * `type`, `clientId`, `text` and perhaps `reqId`, all valid. Anything else —
 * other fields, other types, any doubt — returns undefined and goes through the
 * schema, so this accepts a subset of what `ClientSend` accepts and never
 * decides an error (the property test in test/protocol/frames.test.ts holds
 * it to that). Measured: the schema was ~4% of a busy node's CPU.
 */
function plainSend(v: Record<string, unknown>): ClientRoomFrame | undefined {
  if (v.type !== "msg.send") return undefined;
  const { clientId, text, reqId } = v;
  if (typeof clientId !== "string" || typeof text !== "string" || !CLIENT_ID_RE.test(clientId)) return undefined;
  let keys = 3;
  if (reqId !== undefined) {
    if (typeof reqId !== "string" || reqId.length < 1 || reqId.length > 64) return undefined;
    keys++;
  }
  for (const k in v) if (--keys < 0 || (k !== "type" && k !== "clientId" && k !== "text" && k !== "reqId")) return undefined;
  if (keys !== 0) return undefined;
  return reqId === undefined ? { type: "msg.send", clientId, text } : { type: "msg.send", clientId, text, reqId: reqId as string };
}

export type ParsedFrame<T> = { ok: true; frame: T } | { ok: false; code: "bad_json" | "invalid_request"; message: string; replyTo?: string };

/** The same for any socket's client frames (the device socket uses it with ClientDeviceFrame). */
export function parseClientFrame<T>(schema: z.ZodType<T>, raw: string | ArrayBuffer, fast?: (v: Record<string, unknown>) => T | undefined): ParsedFrame<T> {
  if (typeof raw !== "string") return { ok: false, code: "invalid_request", message: "frames must be JSON text, not binary" };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, code: "bad_json", message: "frame is not valid JSON" };
  }
  if (fast && value !== null && typeof value === "object" && !Array.isArray(value)) {
    const frame = fast(value as Record<string, unknown>);
    if (frame !== undefined) return { ok: true, frame };
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const replyTo = pickReplyTo(value);
  return { ok: false, code: "invalid_request", message: describeIssues(parsed.error), ...(replyTo ? { replyTo } : {}) };
}

function pickReplyTo(value: unknown): string | undefined {
  if (!value || typeof value !== "object") return undefined;
  const v = value as Record<string, unknown>;
  for (const key of ["reqId", "clientId"]) {
    const x = v[key];
    if (typeof x === "string" && x.length <= 64) return x;
  }
  return undefined;
}

/** One line for people: "text: expected string; clientId: required". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "frame"}: ${i.message}`)
    .join("; ");
}

