/**
 * The REST API as a table: every route the node serves and what a successful
 * answer carries. Nothing here declares a shape (the schemas live in
 * models.ts, device.ts and responses.ts); the table says which schema answers
 * which route, and three checks hold everything else to it:
 *
 * - worker/reply.ts refuses to answer a route with any other schema;
 * - test/workers/routes.test.ts: the Worker serves exactly these routes;
 * - test/protocol/api-docs.test.ts: docs/API.md has one row per route, naming
 *   its answer's schema (`RoomInfo` for `RoomInfoSchema`).
 *
 * Paths are Hono's (`:id`); docs/API.md writes them `{id}`. `GET` routes also
 * answer `HEAD`. Not for clients to import (the SDK imports the schemas
 * themselves): it would pull every schema into a bundle.
 */
import type { z } from "zod";
import { AttachmentSchema, MemberSchema, MessageSchema, RoomSchema, UserSchema } from "./models";
import {
  HealthSchema,
  HistoryPageSchema,
  InboxRoomListSchema,
  MemberListSchema,
  MySessionListSchema,
  NotificationPageSchema,
  OkSchema,
  PresenceListSchema,
  PublicRoomsPageSchema,
  ReadPositionSchema,
  ReceiptListSchema,
  RevokedSchema,
  RoomInfoSchema,
  SearchResultsSchema,
  SessionListSchema,
  SettingsSchema,
  SetupStatusSchema,
  SignInSchema,
  SocketTicketSchema,
  UserListSchema,
} from "./responses";

/** A JSON body (its schema), a file's bytes, or a WebSocket (frames: protocol/frames.ts, protocol/device.ts). */
export type RouteAnswer = z.ZodType | "bytes" | "websocket";

export const routeKey = (method: string, path: string) => `${method} ${path}`;

export const ROUTES: Readonly<Record<string, RouteAnswer>> = {
  "GET /healthz": HealthSchema,

  "POST /api/v1/auth/login": SignInSchema,
  "POST /api/v1/auth/logout": OkSchema,
  "GET /api/v1/setup": SetupStatusSchema,
  "POST /api/v1/setup": SignInSchema,

  "GET /api/v1/me": UserSchema,
  "GET /api/v1/me/sessions": MySessionListSchema,
  "DELETE /api/v1/me/sessions/:sid": OkSchema,
  "POST /api/v1/me/password": OkSchema,
  "GET /api/v1/me/rooms": InboxRoomListSchema,
  "GET /api/v1/me/notifications": NotificationPageSchema,
  "GET /api/v1/me/settings": SettingsSchema,
  "PATCH /api/v1/me/settings": SettingsSchema,

  "GET /api/v1/users": UserListSchema,
  "POST /api/v1/users": UserSchema,
  "GET /api/v1/users/:id": UserSchema,
  "POST /api/v1/users/:id/deactivate": UserSchema,
  "POST /api/v1/users/:id/reactivate": UserSchema,
  "GET /api/v1/users/:id/sessions": SessionListSchema,
  "DELETE /api/v1/users/:id/sessions": RevokedSchema,
  "DELETE /api/v1/users/:id/sessions/:sid": OkSchema,

  "GET /api/v1/presence": PresenceListSchema,

  "GET /api/v1/rooms/public": PublicRoomsPageSchema,
  "POST /api/v1/rooms": RoomSchema,
  "POST /api/v1/dms": RoomSchema,
  "GET /api/v1/rooms/:id": RoomInfoSchema,
  "PATCH /api/v1/rooms/:id": RoomSchema,
  "POST /api/v1/rooms/:id/join": RoomSchema,
  "POST /api/v1/rooms/:id/leave": OkSchema,
  "GET /api/v1/rooms/:id/members": MemberListSchema,
  "POST /api/v1/rooms/:id/members": RoomSchema,
  "DELETE /api/v1/rooms/:id/members/:userId": OkSchema,
  "PATCH /api/v1/rooms/:id/members/:userId": MemberSchema,
  "POST /api/v1/rooms/:id/messages": MessageSchema,
  "GET /api/v1/rooms/:id/messages": HistoryPageSchema,
  "GET /api/v1/rooms/:id/messages/:mid": MessageSchema,
  "PATCH /api/v1/rooms/:id/messages/:mid": MessageSchema,
  "DELETE /api/v1/rooms/:id/messages/:mid": MessageSchema,
  "POST /api/v1/rooms/:id/messages/:mid/reactions": MessageSchema,
  "POST /api/v1/rooms/:id/read": ReadPositionSchema,
  "GET /api/v1/rooms/:id/receipts": ReceiptListSchema,
  "POST /api/v1/rooms/:id/files": AttachmentSchema,
  "GET /api/v1/rooms/:id/socket": "websocket",

  "GET /api/v1/files/:id": "bytes",
  "GET /api/v1/search": SearchResultsSchema,
  "POST /api/v1/socket-tickets": SocketTicketSchema,
  "GET /api/v1/socket": "websocket",
};
