/**
 * The REST API as a table: every route the node serves, the body or query it
 * reads and what a successful answer carries. Nothing here declares a shape
 * (the schemas live in rest.ts, models.ts, device.ts and responses.ts); the
 * table says which schema belongs to which route, and checks hold everything
 * else to it:
 *
 * - worker/reply.ts refuses to answer a route with any other schema, and
 *   worker/http.ts to read its body or query with any other;
 * - test/workers/routes.test.ts: the Worker serves exactly these routes;
 * - test/protocol/api-docs.test.ts: docs/API.md has one row per route, naming
 *   its answer's schema (`RoomInfo` for `RoomInfoSchema`).
 *
 * Paths are Hono's (`:id`); docs/API.md writes them `{id}`. `GET` routes also
 * answer `HEAD`. Not for clients to import (the SDK imports the schemas
 * themselves): it would pull every schema into a bundle.
 */
import type { z } from "zod";
import { AuditPageSchema, AuditQuery } from "./audit";
import { AdminRoomPageSchema, AdminRoomsQuery } from "./admin-rooms";
import { InboxRoomSchema, ReadBody, RoomPrefsBody, SettingsBody } from "./device";
import {
  AcceptInviteBody,
  AccountsQuery,
  AddMemberBody,
  ChangePasswordBody,
  CreateDmBody,
  CreateRoomBody,
  CreateUserBody,
  EditMessageBody,
  HistoryQuery,
  InviteLookupBody,
  LoginBody,
  MfaConfirmBody,
  MfaDisableBody,
  MfaLoginBody,
  NotificationsQuery,
  PlaceHoldBody,
  PresenceQuery,
  PublicRoomsQuery,
  ReactBody,
  ResetPasswordBody,
  SearchQuery,
  SendMessageBody,
  SetRetentionDefaultBody,
  SetRoleBody,
  SetRoomRetentionBody,
  SetupBody,
  UpdateMeBody,
  UpdateRoomBody,
  UpdateUserBody,
  UploadQuery,
  UsersQuery,
} from "./rest";
import { AttachmentSchema, ErasureSchema, LegalHoldSchema, MemberSchema, MessageSchema, RoomSchema, UserSchema } from "./models";
import {
  AccountPageSchema,
  HealthSchema,
  HoldListSchema,
  HistoryPageSchema,
  InboxRoomListSchema,
  InviteInfoSchema,
  InviteSchema,
  MemberListSchema,
  MySessionListSchema,
  NotificationPageSchema,
  OkSchema,
  PresenceListSchema,
  PublicRoomsPageSchema,
  ReadPositionSchema,
  ReceiptListSchema,
  RetentionDefaultSchema,
  RevokedSchema,
  RoomInfoSchema,
  SearchResultsSchema,
  SessionListSchema,
  SettingsSchema,
  SetupStatusSchema,
  NodeLimitsSchema,
  SentMessageSchema,
  SignInSchema,
  LoginAnswerSchema,
  SsoInfoSchema,
  MfaStatusSchema,
  MfaEnrolmentSchema,
  RecoveryCodesSchema,
  SocketTicketSchema,
  UserListSchema,
} from "./responses";
import { ClusterViewSchema } from "./cluster";
import { ExportQuery } from "./export";

/** A JSON body (its schema), a file's bytes, or a WebSocket (frames: protocol/frames.ts, protocol/device.ts). */
/** "redirect": a 302 for browsers (single sign-on), no body. */
export type RouteAnswer = z.ZodType | "bytes" | "websocket" | "redirect";

export interface Route {
  /** what a successful answer carries */
  answer: RouteAnswer;
  /** the JSON request body (worker/http.ts readJson refuses any other schema on this route) */
  body?: z.ZodType;
  /** the query string (readQuery, likewise) */
  query?: z.ZodType;
}

export const routeKey = (method: string, path: string) => `${method} ${path}`;

export const ROUTES: Readonly<Record<string, Route>> = {
  "GET /healthz": { answer: HealthSchema },
  "GET /metrics": { answer: "bytes" },

  "POST /api/v1/auth/login": { body: LoginBody, answer: LoginAnswerSchema },
  "POST /api/v1/auth/login/mfa": { body: MfaLoginBody, answer: SignInSchema },
  "GET /api/v1/auth/sso": { answer: SsoInfoSchema },
  "GET /api/v1/auth/sso/start": { answer: "redirect" },
  "GET /api/v1/auth/sso/callback": { answer: "redirect" },
  "POST /api/v1/auth/logout": { answer: OkSchema },
  "GET /api/v1/setup": { answer: SetupStatusSchema },
  "POST /api/v1/invites/lookup": { body: InviteLookupBody, answer: InviteInfoSchema },
  "POST /api/v1/invites/accept": { body: AcceptInviteBody, answer: SignInSchema },
  "POST /api/v1/setup": { body: SetupBody, answer: SignInSchema },

  "GET /api/v1/me": { answer: UserSchema },
  "PATCH /api/v1/me": { body: UpdateMeBody, answer: UserSchema },
  "PUT /api/v1/me/avatar": { answer: UserSchema },
  "DELETE /api/v1/me/avatar": { answer: UserSchema },
  "GET /api/v1/me/sessions": { answer: MySessionListSchema },
  "GET /api/v1/me/mfa": { answer: MfaStatusSchema },
  "POST /api/v1/me/mfa/enrol": { answer: MfaEnrolmentSchema },
  "POST /api/v1/me/mfa/confirm": { body: MfaConfirmBody, answer: RecoveryCodesSchema },
  "POST /api/v1/me/mfa/disable": { body: MfaDisableBody, answer: OkSchema },
  "DELETE /api/v1/me/sessions/:sid": { answer: OkSchema },
  "POST /api/v1/me/password": { body: ChangePasswordBody, answer: OkSchema },
  "GET /api/v1/me/rooms": { answer: InboxRoomListSchema },
  "PATCH /api/v1/me/rooms/:id": { body: RoomPrefsBody, answer: InboxRoomSchema },
  "GET /api/v1/me/notifications": { query: NotificationsQuery, answer: NotificationPageSchema },
  "GET /api/v1/me/settings": { answer: SettingsSchema },
  "PATCH /api/v1/me/settings": { body: SettingsBody, answer: SettingsSchema },

  "GET /api/v1/users": { query: UsersQuery, answer: UserListSchema },
  "POST /api/v1/users": { body: CreateUserBody, answer: UserSchema },
  "GET /api/v1/users/:id": { answer: UserSchema },
  "GET /api/v1/users/:id/avatar": { answer: "bytes" },
  "PATCH /api/v1/users/:id": { body: UpdateUserBody, answer: UserSchema },
  "POST /api/v1/users/:id/password": { body: ResetPasswordBody, answer: OkSchema },
  "DELETE /api/v1/users/:id/mfa": { answer: OkSchema },
  "POST /api/v1/users/:id/invite": { answer: InviteSchema },
  "POST /api/v1/users/:id/deactivate": { answer: UserSchema },
  "POST /api/v1/users/:id/reactivate": { answer: UserSchema },
  "GET /api/v1/users/:id/sessions": { answer: SessionListSchema },
  "DELETE /api/v1/users/:id/sessions": { answer: RevokedSchema },
  "DELETE /api/v1/users/:id/sessions/:sid": { answer: OkSchema },

  "GET /api/v1/accounts": { query: AccountsQuery, answer: AccountPageSchema },
  "GET /api/v1/admin/audit": { query: AuditQuery, answer: AuditPageSchema },
  "GET /api/v1/admin/rooms": { query: AdminRoomsQuery, answer: AdminRoomPageSchema },

  "GET /api/v1/admin/retention": { answer: RetentionDefaultSchema },
  "PUT /api/v1/admin/retention": { body: SetRetentionDefaultBody, answer: RetentionDefaultSchema },
  "PUT /api/v1/admin/rooms/:id/retention": { body: SetRoomRetentionBody, answer: RoomSchema },
  "GET /api/v1/admin/holds": { answer: HoldListSchema },
  "POST /api/v1/admin/holds": { body: PlaceHoldBody, answer: LegalHoldSchema },
  "DELETE /api/v1/admin/holds/:id": { answer: LegalHoldSchema },
  "POST /api/v1/admin/users/:id/erase": { answer: ErasureSchema },
  "GET /api/v1/admin/users/:id/erase": { answer: ErasureSchema },

  "GET /api/v1/presence": { query: PresenceQuery, answer: PresenceListSchema },

  "GET /api/v1/rooms/public": { query: PublicRoomsQuery, answer: PublicRoomsPageSchema },
  "POST /api/v1/rooms": { body: CreateRoomBody, answer: RoomSchema },
  "POST /api/v1/dms": { body: CreateDmBody, answer: RoomSchema },
  "GET /api/v1/rooms/:id": { answer: RoomInfoSchema },
  "PATCH /api/v1/rooms/:id": { body: UpdateRoomBody, answer: RoomSchema },
  "POST /api/v1/rooms/:id/join": { answer: RoomSchema },
  "POST /api/v1/rooms/:id/leave": { answer: OkSchema },
  "GET /api/v1/rooms/:id/members": { answer: MemberListSchema },
  "POST /api/v1/rooms/:id/members": { body: AddMemberBody, answer: RoomSchema },
  "DELETE /api/v1/rooms/:id/members/:userId": { answer: OkSchema },
  "PATCH /api/v1/rooms/:id/members/:userId": { body: SetRoleBody, answer: MemberSchema },
  "POST /api/v1/rooms/:id/messages": { body: SendMessageBody, answer: SentMessageSchema },
  "GET /api/v1/rooms/:id/messages": { query: HistoryQuery, answer: HistoryPageSchema },
  "GET /api/v1/rooms/:id/messages/:mid": { answer: MessageSchema },
  "PATCH /api/v1/rooms/:id/messages/:mid": { body: EditMessageBody, answer: MessageSchema },
  "DELETE /api/v1/rooms/:id/messages/:mid": { answer: MessageSchema },
  "POST /api/v1/rooms/:id/messages/:mid/reactions": { body: ReactBody, answer: MessageSchema },
  "POST /api/v1/rooms/:id/read": { body: ReadBody, answer: ReadPositionSchema },
  "GET /api/v1/rooms/:id/receipts": { answer: ReceiptListSchema },
  "POST /api/v1/rooms/:id/files": { query: UploadQuery, answer: AttachmentSchema },
  "GET /api/v1/rooms/:id/socket": { answer: "websocket" },

  "GET /api/v1/files/:id": { answer: "bytes" },
  "GET /api/v1/search": { query: SearchQuery, answer: SearchResultsSchema },
  "POST /api/v1/socket-tickets": { answer: SocketTicketSchema },
  "GET /api/v1/socket": { answer: "websocket" },

  "GET /api/v1/cluster": { answer: ClusterViewSchema },
  "GET /api/v1/limits": { answer: NodeLimitsSchema },

  "GET /api/v1/admin/export": { query: ExportQuery, answer: "bytes" },
};
