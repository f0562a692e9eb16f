/**
 * Administration of a node's accounts (its administrators): creating
 * accounts, the accounts list, the audit trail and the node's rooms to filter
 * it by, roles and names, deactivating, password resets, invite links, and
 * people's sessions. Part of OutpostClient
 * (rest-base.ts says how its files fit together); the compliance calls
 * (retention, legal holds, erasure) are a client of their own, compliance.ts.
 */
import type { z } from "zod";
import type { AuditPage, AuditQuery } from "../protocol/audit";
import type { AdminRoomPage, AdminRoomsQuery } from "../protocol/admin-rooms";
import { UserSchema, type Session, type User } from "../protocol/models";
import type { AccountsQuery, CreateUserBody, UpdateUserBody } from "../protocol/rest";
import { AccountPageSchema, InviteSchema, OkSchema, RevokedSchema, SessionListSchema, type AccountPage, type Invite } from "../protocol/responses";
import { queryString } from "./rest-base";
import { PeopleCalls } from "./rest-people";

export type AccountsParams = z.input<typeof AccountsQuery>;
export type AuditParams = z.input<typeof AuditQuery>;
export type AdminRoomsParams = z.input<typeof AdminRoomsQuery>;

export class AdminCalls extends PeopleCalls {
  /** Admin: create an account (without `password`, its owner sets one through `createInvite`'s link). */
  createUser(body: z.input<typeof CreateUserBody>): Promise<User> {
    return this.request("POST", "/users", body, UserSchema);
  }
  /** One page of this node's accounts in every state, by username; pass `nextCursor` back as `cursor`. */
  accounts(params: AccountsParams = {}): Promise<AccountPage> {
    const qs = queryString(params);
    return this.request("GET", `/accounts${qs ? "?" + qs : ""}`, undefined, AccountPageSchema);
  }
  /**
   * One page of the node's audit trail, newest first (admins): filter by `user`
   * (actor or acted on), `room`, `action`, `from`/`to` (epoch ms); pass
   * `nextCursor` back as `cursor`. Its schema is imported on first use: an
   * admin-only answer's schema (with every action name) stays out of a web
   * client's first screen.
   */
  async auditTrail(params: AuditParams = {}): Promise<AuditPage> {
    const qs = queryString(params);
    const { AuditPageSchema } = await import("../protocol/audit");
    return this.request("GET", `/admin/audit${qs ? "?" + qs : ""}`, undefined, AuditPageSchema);
  }
  /**
   * One page of every room homed on the node (admins), private rooms and DMs
   * included: group rooms by name, then DMs (named "A & B"). `q` searches the
   * names (or is one room's id); pass `nextCursor` back as `cursor` — a search's
   * page may be short, even empty, and still have one. Its schema is imported
   * on first use, as `auditTrail`'s.
   */
  async adminRooms(params: AdminRoomsParams = {}): Promise<AdminRoomPage> {
    const qs = queryString(params);
    const { AdminRoomPageSchema } = await import("../protocol/admin-rooms");
    return this.request("GET", `/admin/rooms${qs ? "?" + qs : ""}`, undefined, AdminRoomPageSchema);
  }
  /** Make or unmake an administrator, or rename; `last_admin` when that would leave the node without one. */
  updateUser(id: string, body: z.input<typeof UpdateUserBody>): Promise<User> {
    return this.request("PATCH", `/users/${encodeURIComponent(id)}`, body, UserSchema);
  }
  deactivateUser(id: string): Promise<User> {
    return this.request("POST", `/users/${encodeURIComponent(id)}/deactivate`, undefined, UserSchema);
  }
  reactivateUser(id: string): Promise<User> {
    return this.request("POST", `/users/${encodeURIComponent(id)}/reactivate`, undefined, UserSchema);
  }
  /** Set someone else's password (`weak_password` when the policy refuses it); their sessions end. */
  resetPassword(id: string, password: string): Promise<unknown> {
    return this.request("POST", `/users/${encodeURIComponent(id)}/password`, { password }, OkSchema);
  }
  /** A one-time invite link's token (7 days; older links of the account end). The web client's link is `/invite/<token>`. */
  createInvite(id: string): Promise<Invite> {
    return this.request("POST", `/users/${encodeURIComponent(id)}/invite`, undefined, InviteSchema);
  }
  userSessions(id: string): Promise<{ sessions: Session[] }> {
    return this.request("GET", `/users/${encodeURIComponent(id)}/sessions`, undefined, SessionListSchema);
  }
  endUserSession(id: string, sessionId: string): Promise<unknown> {
    return this.request("DELETE", `/users/${encodeURIComponent(id)}/sessions/${encodeURIComponent(sessionId)}`, undefined, OkSchema);
  }
  endUserSessions(id: string): Promise<{ revoked: number }> {
    return this.request("DELETE", `/users/${encodeURIComponent(id)}/sessions`, undefined, RevokedSchema);
  }
}
