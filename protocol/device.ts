/**
 * The device socket (`GET /api/v1/socket`): one connection per device to the
 * user's own object, carrying a summary of every room the user is in.
 * Same conventions as the room frames: `type` names, strict client frames,
 * clients ignore types they do not know.
 *
 * Inbox position (`pos`): every change to the inbox bumps it. A device that
 * reconnects with the last `pos` it saw gets only what changed since
 * (`inbox.sync`), or a full snapshot when it is too far behind.
 */
import { z } from "zod";
import { RoomIdSchema, UserIdSchema } from "./id-schemas";
import { RoleSchema, RoomKindSchema, VisibilitySchema } from "./models";
import { ReqId, ServerError, ServerOk, ServerPong } from "./frames";

/** Interface languages the web client has. */
export const LanguageSchema = z.enum(["zh", "en"]);
export type Language = z.infer<typeof LanguageSchema>;

export const PresenceStatusSchema = z.enum(["online", "away", "offline"]);
export type PresenceStatus = z.infer<typeof PresenceStatusSchema>;

export const LastMessageSchema = z.strictObject({
  id: z.string(),
  seq: z.number().int(),
  senderId: z.string(),
  /** the first 140 characters; "" for a recalled message */
  preview: z.string(),
  createdAt: z.number(),
  deleted: z.boolean(),
});
export type LastMessage = z.infer<typeof LastMessageSchema>;

/** One room as the user's inbox sees it. */
export const InboxRoomSchema = z.strictObject({
  roomId: z.string(),
  name: z.string(),
  kind: RoomKindSchema,
  visibility: VisibilitySchema,
  role: RoleSchema,
  joinedAt: z.number(),
  /** for DMs: the other person */
  peerId: z.string().nullable(),
  lastSeq: z.number().int(),
  lastReadSeq: z.number().int(),
  /** messages after lastReadSeq from others, not recalled (capped at 1000) */
  unread: z.number().int(),
  /** of those, the ones that mention the user or @all */
  mentions: z.number().int(),
  lastMessage: LastMessageSchema.nullable(),
  /** inbox position of the last change to this entry */
  pos: z.number().int(),
  /** the user muted this room: no notifications from it (PATCH /api/v1/me/rooms/{id}); absent from older nodes */
  muted: z.boolean().default(false),
});
export type InboxRoom = z.infer<typeof InboxRoomSchema>;

export const NotificationSchema = z.strictObject({
  id: z.number().int(),
  kind: z.enum(["mention", "dm"]),
  roomId: z.string(),
  messageId: z.string(),
  seq: z.number().int(),
  senderId: z.string(),
  preview: z.string(),
  createdAt: z.number(),
});
export type Notification = z.infer<typeof NotificationSchema>;

export const PresenceSchema = z.strictObject({
  userId: z.string(),
  status: PresenceStatusSchema,
  /** ms since epoch of the last time any device was connected; null if never */
  lastSeen: z.number().nullable(),
});
export type Presence = z.infer<typeof PresenceSchema>;

// ---- client -> server (device socket) ---------------------------------------

/** client → inbox: changes since `pos`; answered by `inbox.sync`. */
export const DeviceSync = z.strictObject({ type: z.literal("sync"), pos: z.number().int().min(0), reqId: ReqId });
/** client → inbox: mark a room read up to `seq` (clamped to the room's last seq); every device of the user gets the new counts. */
export const DeviceRead = z.strictObject({ type: z.literal("read"), roomId: RoomIdSchema, seq: z.number().int().min(0), reqId: ReqId });
/** client → inbox: this device is active (`online`) or idle (`away`). */
export const DevicePresenceSet = z.strictObject({ type: z.literal("presence.set"), status: z.enum(["online", "away"]), reqId: ReqId });
/** client → inbox: send me `presence` frames for these people (replaces the previous list; at most 200). */
export const DevicePresenceWatch = z.strictObject({ type: z.literal("presence.watch"), userIds: z.array(UserIdSchema).max(200), reqId: ReqId });
export const DevicePing = z.strictObject({ type: z.literal("ping"), reqId: ReqId });

export const ClientDeviceFrame = z.discriminatedUnion("type", [DeviceSync, DeviceRead, DevicePresenceSet, DevicePresenceWatch, DevicePing]);
export type ClientDeviceFrame = z.infer<typeof ClientDeviceFrame>;

// ---- server -> client (device socket) ---------------------------------------

/** inbox → device, first frame: the whole inbox (or, after `?pos=`, an `inbox.sync` instead). */
export const InboxHello = z.strictObject({
  type: z.literal("inbox.hello"),
  userId: z.string(),
  sessionId: z.string(),
  pos: z.number().int(),
  rooms: z.array(InboxRoomSchema),
  unreadNotifications: z.number().int(),
});
/** inbox → device: what changed since the position the device gave. */
export const InboxSyncFrame = z.strictObject({
  type: z.literal("inbox.sync"),
  pos: z.number().int(),
  rooms: z.array(InboxRoomSchema),
  removed: z.array(z.string()),
  replyTo: z.string().optional(),
});
/** inbox → devices: a room was added or its summary changed (activity, counts, name, role). */
export const InboxRoomFrame = z.strictObject({ type: z.literal("inbox.room"), room: InboxRoomSchema });
/** inbox → devices: the user is no longer in this room; nothing more about it follows. */
export const InboxRoomRemoved = z.strictObject({ type: z.literal("inbox.removed"), roomId: z.string(), pos: z.number().int() });
/** inbox → devices: a mention or a DM, also kept in GET /api/v1/me/notifications. */
export const NotificationNew = z.strictObject({ type: z.literal("notification.new"), notification: NotificationSchema });
/** inbox → devices: a watched person's presence changed. */
export const PresenceFrame = z.strictObject({ type: z.literal("presence"), presence: PresenceSchema });
/** The same `ok`, `pong` and `error` frames as on the room socket. */
export const DeviceOk = ServerOk;
export const DevicePong = ServerPong;
export const DeviceError = ServerError;

export const ServerDeviceFrame = z.discriminatedUnion("type", [InboxHello, InboxSyncFrame, InboxRoomFrame, InboxRoomRemoved, NotificationNew, PresenceFrame, DeviceOk, DevicePong, DeviceError]);
export type ServerDeviceFrame = z.infer<typeof ServerDeviceFrame>;

/** `POST /api/v1/rooms/{id}/read`. */
export const ReadBody = z.strictObject({ seq: z.number().int().min(0) });
/** `PATCH /api/v1/me/settings`: the settings to change. */
export const SettingsBody = z.strictObject({
  sendReceipts: z.boolean().optional(),
  /** the interface language on every device; null: each browser's own */
  language: LanguageSchema.nullable().optional(),
});
/** `PATCH /api/v1/me/rooms/{id}`: the user's own settings for one room. */
export const RoomPrefsBody = z.strictObject({ muted: z.boolean() });
