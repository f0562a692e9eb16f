/**
 * Typed REST calls to an Outpost node. Request bodies are the shared protocol
 * types; every answer is parsed with its schema from protocol/ (the one the
 * node answers with), leniently: fields this SDK does not know are dropped, so
 * a newer node that adds one keeps working with it, while a node that sends
 * something this SDK cannot use fails loudly here, not deep in a UI.
 *
 * Auth: in the browser, leave `token` unset: the HttpOnly session cookie rides
 * along (`credentials: "same-origin"`). Elsewhere, pass the bearer token that
 * `login()` returns.
 *
 * Device token: every sign-in answers with a `deviceToken`, which the client
 * keeps (`client.deviceToken`) and sends back as `X-Outpost-Device` on its next
 * `login()`. While someone else is guessing the account's password, the node
 * refuses sign-ins for it (429) — except from devices that signed in before.
 * A bot that restarts should save `deviceToken` and pass it to the next client
 * (`new OutpostClient({ deviceToken })`). Browsers also get it as an HttpOnly
 * cookie.
 *
 * @example
 *   const api = new OutpostClient({ baseUrl: "https://chat.example.org" });
 *   const { token } = await api.login("bot", "secret");
 *   api.token = token;
 *   const { rooms } = await api.myRooms();
 */
import type { z } from "zod";
import { MemberSchema, MessageSchema, RoomSchema, UserSchema, type Attachment, type Member, type Message, type Receipt, type Room, type Session, type User } from "../protocol/models";
import { InboxRoomSchema, type Presence, type InboxRoom } from "../protocol/device";
import type { AuditPage, AuditQuery } from "../protocol/audit";
import type { AccountsQuery, CreateRoomBody, CreateUserBody, PublicRoomsQuery, SearchQuery, SendMessageBody, SetupBody, UpdateUserBody } from "../protocol/rest";
import {
  AccountPageSchema,
  HistoryPageSchema,
  InboxRoomListSchema,
  InviteInfoSchema,
  InviteSchema,
  MemberListSchema,
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
  SentMessageSchema,
  SignInSchema,
  LoginAnswerSchema,
  SsoInfoSchema,
  MfaStatusSchema,
  MfaEnrolmentSchema,
  RecoveryCodesSchema,
  SocketTicketSchema,
  UserListSchema,
  type AccountPage,
  NodeLimitsSchema,
  type NodeLimits,
  type HistoryPage,
  type Invite,
  type InviteInfo,
  type QueuedSend,
  type NotificationPage,
  type PublicRoomsPage,
  type RoomInfo,
  type SearchResults,
  type Settings,
  type SignIn,
  type SocketTicket,
} from "../protocol/responses";
import { MfaRequiredError, OutpostApiError } from "./errors";
import { ClusterViewSchema, type ClusterView } from "../protocol/cluster-view";
import { parseAnswer } from "./answers";
import { uploadBlob, type UploadOptions } from "./upload";

export interface ClientOptions {
  /** origin of the node, e.g. "https://chat.example.org"; "" (default) = same origin (browser) */
  baseUrl?: string;
  /** bearer token for non-browser clients */
  token?: string | null;
  /** fetch implementation (default: globalThis.fetch) */
  fetch?: typeof fetch;
  /** the `deviceToken` an earlier sign-in of this device returned (see above) */
  deviceToken?: string | null;
}

/** The answer to login() and setup(). */
export type LoginResult = SignIn;
export type { HistoryPage, PublicRoomsPage };
export type SearchResult = SearchResults;
export type SearchParams = z.input<typeof SearchQuery>;
export type PublicRoomsParams = z.input<typeof PublicRoomsQuery>;
export type AccountsParams = z.input<typeof AccountsQuery>;
export type AuditParams = z.input<typeof AuditQuery>;
export type { AuditPage };
export type { AccountPage, Invite, InviteInfo };

export type { UploadOptions };

export class OutpostClient {
  baseUrl: string;
  token: string | null;
  /** this device's token for the node's sign-in throttling; updated by every login() and setup() */
  deviceToken: string | null;
  private readonly fetchImpl: typeof fetch;
  private readonly customFetch: boolean;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/$/, "");
    this.token = options.token ?? null;
    this.deviceToken = options.deviceToken ?? null;
    // Bound: some runtimes refuse fetch called with another `this`.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.customFetch = !!options.fetch;
  }

  /** The underlying request: JSON in, JSON out (checked leniently with `schema`), `OutpostApiError` on failure. */
  async request<T = unknown>(method: string, path: string, body?: unknown, schema?: z.ZodType<T>, extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...extraHeaders };
    // A Blob is sent as it is (an avatar), anything else as JSON.
    const raw = typeof Blob !== "undefined" && body instanceof Blob;
    if (body !== undefined) headers["content-type"] = raw ? body.type || "application/octet-stream" : "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      throw new OutpostApiError(0, "network", `the node could not be reached (${(err as Error).message})`);
    }
    return parseAnswer(res.status, await res.text(), `${method} ${path}`, schema);
  }

  /**
   * Upload a file into a room (raw bytes, streamed by the browser); then send a
   * message with `attachments: [attachment.id]`. Rejects with `too_large` (413)
   * or `unsupported_media_type` (415) when the node refuses it.
   */
  uploadFile(roomId: string, file: Blob & { name?: string }, options: UploadOptions = {}): Promise<Attachment> {
    const name = options.name ?? file.name ?? "file";
    const path = `/rooms/${encodeURIComponent(roomId)}/files?name=${encodeURIComponent(name)}`;
    return uploadBlob({ url: `${this.baseUrl}/api/v1${path}`, what: `POST ${path}`, token: this.token, fetch: this.customFetch ? this.fetchImpl : null }, file, options);
  }


  /** URL to download (or, for images, show) an uploaded file; members only. */
  fileUrl(fileId: string): string {
    return `${this.baseUrl}/api/v1/files/${encodeURIComponent(fileId)}`;
  }

  /** Full-text search in one room (`room`) or every room the caller is in now; `cursor` pages on. */
  search(params: SearchParams): Promise<SearchResult> {
    const qs = Object.entries(params)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join("&");
    return this.request("GET", `/search?${qs}`, undefined, SearchResultsSchema);
  }

  // ---- session ---------------------------------------------------------------
  /**
   * Sign in with a password. An account with two-factor sign-in answers with a
   * challenge: give `code` (a 6-digit code or a recovery code, or a function
   * that asks someone for one) and login() finishes the second step itself;
   * without it, login() rejects with `MfaRequiredError`, whose `challenge` goes
   * to `loginMfa()`.
   *
   * @example
   *   await api.login("ann", pw, { code: () => prompt("code from your app") ?? "" });
   */
  async login(username: string, password: string, options: { code?: string | (() => string | Promise<string>) } = {}): Promise<LoginResult> {
    const headers: Record<string, string> = this.deviceToken ? { "x-outpost-device": this.deviceToken } : {};
    const answer = await this.request("POST", "/auth/login", { username, password }, LoginAnswerSchema, headers);
    if (!("mfaRequired" in answer)) return this.keepDeviceToken(answer);
    if (options.code === undefined) throw new MfaRequiredError(answer.challenge, answer.expiresAt);
    const code = typeof options.code === "function" ? await options.code() : options.code;
    return this.loginMfa(answer.challenge, code);
  }
  /** The second step of a two-factor sign-in: the challenge login() was given, and a code or recovery code. */
  async loginMfa(challenge: string, code: string): Promise<LoginResult> {
    return this.keepDeviceToken(await this.request("POST", "/auth/login/mfa", { challenge, code }, SignInSchema));
  }
  /** Single sign-on on this node: whether to offer "Sign in with …" (the browser then goes to `/api/v1/auth/sso/start`). */
  ssoInfo(): Promise<z.infer<typeof SsoInfoSchema>> {
    return this.request("GET", "/auth/sso", undefined, SsoInfoSchema);
  }
  /** Two-factor sign-in of the signed-in account: on or off, recovery codes left, required by the node. */
  mfaStatus(): Promise<z.infer<typeof MfaStatusSchema>> {
    return this.request("GET", "/me/mfa", undefined, MfaStatusSchema);
  }
  /** Start enrolling an authenticator app: its secret and `otpauth://` URI (show it as a QR code). */
  mfaEnrol(): Promise<z.infer<typeof MfaEnrolmentSchema>> {
    return this.request("POST", "/me/mfa/enrol", undefined, MfaEnrolmentSchema);
  }
  /** Turn two-factor sign-in on with a current code; the recovery codes, shown this once. */
  mfaConfirm(code: string): Promise<{ recoveryCodes: string[] }> {
    return this.request("POST", "/me/mfa/confirm", { code }, RecoveryCodesSchema);
  }
  /** Turn it off, with the password (or `{ code }`). */
  mfaDisable(proof: { password: string } | { code: string }): Promise<unknown> {
    return this.request("POST", "/me/mfa/disable", proof, OkSchema);
  }
  logout(): Promise<unknown> {
    return this.request("POST", "/auth/logout", undefined, OkSchema);
  }
  /** Is first-run setup still open? */
  setupNeeded(): Promise<{ needed: boolean }> {
    return this.request("GET", "/setup", undefined, SetupStatusSchema);
  }
  /** First-run: create the admin account with the one-time token the node printed. */
  async setup(body: z.input<typeof SetupBody>): Promise<LoginResult> {
    return this.keepDeviceToken(await this.request("POST", "/setup", body, SignInSchema));
  }
  private keepDeviceToken(result: LoginResult): LoginResult {
    if (result.deviceToken) this.deviceToken = result.deviceToken;
    return result;
  }
  me(): Promise<User> {
    return this.request("GET", "/me", undefined, UserSchema);
  }
  /** A single-use ticket for opening a socket where headers and cookies cannot be set. */
  socketTicket(): Promise<SocketTicket> {
    return this.request("POST", "/socket-tickets", undefined, SocketTicketSchema);
  }

  // ---- people ----------------------------------------------------------------
  searchUsers(q: string, limit = 20): Promise<{ users: User[] }> {
    return this.request("GET", `/users?q=${encodeURIComponent(q)}&limit=${limit}`, undefined, UserListSchema);
  }
  /** Exactly these people (at most 200 ids; unknown ones are left out): one request for every name a client lacks. */
  usersByIds(ids: string[]): Promise<{ users: User[] }> {
    return this.request("GET", `/users?ids=${ids.map(encodeURIComponent).join(",")}`, undefined, UserListSchema);
  }
  user(id: string): Promise<User> {
    return this.request("GET", `/users/${encodeURIComponent(id)}`, undefined, UserSchema);
  }
  /** Admin: create an account (without `password`, its owner sets one through `createInvite`'s link). */
  createUser(body: z.input<typeof CreateUserBody>): Promise<User> {
    return this.request("POST", "/users", body, UserSchema);
  }

  // ---- administration (admins of this node) ------------------------------------
  /** One page of this node's accounts in every state, by username; pass `nextCursor` back as `cursor`. */
  accounts(params: AccountsParams = {}): Promise<AccountPage> {
    const qs = Object.entries(params)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join("&");
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
    const qs = Object.entries(params)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join("&");
    const { AuditPageSchema } = await import("../protocol/audit");
    return this.request("GET", `/admin/audit${qs ? "?" + qs : ""}`, undefined, AuditPageSchema);
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

  // ---- invite links (the invitee, not signed in) ---------------------------------
  /** Whose invite a token is; `invite_invalid`, `invite_used` or `invite_expired` otherwise. */
  inviteInfo(token: string): Promise<InviteInfo> {
    return this.request("POST", "/invites/lookup", { token }, InviteInfoSchema);
  }
  /** Choose a password through an invite link and sign in (the link is used up). */
  async acceptInvite(token: string, password: string): Promise<LoginResult> {
    return this.keepDeviceToken(await this.request("POST", "/invites/accept", { token, password }, SignInSchema));
  }
  presence(ids: string[]): Promise<{ presence: Presence[] }> {
    return this.request("GET", `/presence?ids=${ids.map(encodeURIComponent).join(",")}`, undefined, PresenceListSchema);
  }
  /** Rename myself (the display-name rules: `invalid_request` with `field`). */
  updateMe(body: { displayName: string }): Promise<User> {
    return this.request("PATCH", "/me", body, UserSchema);
  }
  /** My avatar: a PNG, JPEG or WebP of at most 256 KB (crop and scale it first); `too_large` / `unsupported_media_type` otherwise. */
  setAvatar(image: Blob): Promise<User> {
    return this.request("PUT", "/me/avatar", image, UserSchema);
  }
  removeAvatar(): Promise<User> {
    return this.request("DELETE", "/me/avatar", undefined, UserSchema);
  }
  /** Where a person's avatar is shown from (`user.avatar` is its hash; the URL is cached for good). */
  avatarUrl(userId: string, hash: string): string {
    return `${this.baseUrl}/api/v1/users/${encodeURIComponent(userId)}/avatar?v=${hash}`;
  }
  /** Change my password (the current one is required); every other session of mine is signed out. */
  changePassword(currentPassword: string, newPassword: string): Promise<unknown> {
    return this.request("POST", "/me/password", { currentPassword, newPassword }, OkSchema);
  }
  settings(): Promise<Settings> {
    return this.request("GET", "/me/settings", undefined, SettingsSchema);
  }
  updateSettings(body: Partial<Settings>): Promise<Settings> {
    return this.request("PATCH", "/me/settings", body, SettingsSchema);
  }
  notifications(before?: number, limit = 50): Promise<NotificationPage> {
    const q = `?limit=${limit}${before === undefined ? "" : `&before=${before}`}`;
    return this.request("GET", `/me/notifications${q}`, undefined, NotificationPageSchema);
  }

  // ---- rooms -----------------------------------------------------------------
  /** The user's rooms with unread/mention counts and last messages. */
  myRooms(): Promise<{ rooms: InboxRoom[] }> {
    return this.request("GET", "/me/rooms", undefined, InboxRoomListSchema);
  }
  /**
   * One page of the public room directory, by name; `q` finds names containing it
   * (any case, any script). Pass `nextCursor` back as `cursor` for the next page.
   *
   * @example
   *   for (let cursor: string | undefined; ; ) {
   *     const page = await api.publicRooms({ q: "上海", cursor });
   *     show(page.rooms);
   *     if (!page.nextCursor) break;
   *     cursor = page.nextCursor;
   *   }
   */
  publicRooms(params: PublicRoomsParams = {}): Promise<PublicRoomsPage> {
    const qs = Object.entries(params)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join("&");
    return this.request("GET", `/rooms/public${qs ? "?" + qs : ""}`, undefined, PublicRoomsPageSchema);
  }
  createRoom(body: z.input<typeof CreateRoomBody>): Promise<Room> {
    return this.request("POST", "/rooms", body, RoomSchema);
  }
  /** Open (or find) the direct-message room with another person. */
  openDm(userId: string): Promise<Room> {
    return this.request("POST", "/dms", { userId }, RoomSchema);
  }
  room(id: string): Promise<RoomInfo> {
    return this.request("GET", `/rooms/${encodeURIComponent(id)}`, undefined, RoomInfoSchema);
  }
  renameRoom(id: string, name: string): Promise<Room> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(id)}`, { name }, RoomSchema);
  }
  /** Rename (room admins) and/or set the topic (any member; "" clears it). */
  updateRoom(id: string, set: { name?: string; topic?: string }): Promise<Room> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(id)}`, set, RoomSchema);
  }
  /** The owner makes a member an admin or an admin a member. */
  setRole(roomId: string, userId: string, role: "admin" | "member"): Promise<Member> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`, { role }, MemberSchema);
  }
  /** Mute (no notifications) or unmute one of my rooms. */
  setRoomMuted(roomId: string, muted: boolean): Promise<InboxRoom> {
    return this.request("PATCH", `/me/rooms/${encodeURIComponent(roomId)}`, { muted }, InboxRoomSchema);
  }
  joinRoom(id: string): Promise<Room> {
    return this.request("POST", `/rooms/${encodeURIComponent(id)}/join`, undefined, RoomSchema);
  }
  leaveRoom(id: string): Promise<unknown> {
    return this.request("POST", `/rooms/${encodeURIComponent(id)}/leave`, undefined, OkSchema);
  }
  members(id: string): Promise<{ members: Member[] }> {
    return this.request("GET", `/rooms/${encodeURIComponent(id)}/members`, undefined, MemberListSchema);
  }
  addMember(roomId: string, userId: string): Promise<Room> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/members`, { userId }, RoomSchema);
  }
  removeMember(roomId: string, userId: string): Promise<unknown> {
    return this.request("DELETE", `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`, undefined, OkSchema);
  }

  // ---- messages --------------------------------------------------------------
  /** One page of history: `before` a seq (older), or `after` one (newer); at most 100. */
  history(roomId: string, q: { before?: number; after?: number; limit?: number } = {}): Promise<HistoryPage> {
    const params = Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join("&");
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/messages${params ? "?" + params : ""}`, undefined, HistoryPageSchema);
  }
  /** Send over REST. Pass the same `clientId` on a retry: the node stores the message once. */
  /** The node's limits a client checks before sending (longest text in UTF-8 bytes, largest file). */
  limits(): Promise<NodeLimits> {
    return this.request("GET", "/limits", undefined, NodeLimitsSchema);
  }
  /** Every node of the organisation with this node's link to it (up, down since when, messages waiting). */
  cluster(): Promise<ClusterView> {
    return this.request("GET", "/cluster", undefined, ClusterViewSchema);
  }

  /**
   * The stored message (201; 200 for a repeat of its clientId), or `{queued,
   * clientId}` (202) in a room homed on another node that this node cannot
   * reach now: it is delivered once, in order, when the link returns.
   */
  send(roomId: string, body: z.input<typeof SendMessageBody>): Promise<Message | QueuedSend> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, body, SentMessageSchema);
  }
  /** One message by id (members only): its `seq` places it in history (a deep link to it). */
  message(roomId: string, messageId: string): Promise<Message> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/messages/${encodeURIComponent(messageId)}`, undefined, MessageSchema);
  }
  edit(roomId: string, messageId: string, text: string): Promise<Message> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(roomId)}/messages/${messageId}`, { text }, MessageSchema);
  }
  /** Recall: the message becomes a tombstone for everyone. */
  recall(roomId: string, messageId: string): Promise<Message> {
    return this.request("DELETE", `/rooms/${encodeURIComponent(roomId)}/messages/${messageId}`, undefined, MessageSchema);
  }
  /** Toggle the caller's reaction. */
  react(roomId: string, messageId: string, emoji: string): Promise<Message> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/messages/${messageId}/reactions`, { emoji }, MessageSchema);
  }
  markRead(roomId: string, seq: number): Promise<{ lastReadSeq: number }> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/read`, { seq }, ReadPositionSchema);
  }
  receipts(roomId: string): Promise<{ receipts: Receipt[] }> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/receipts`, undefined, ReceiptListSchema);
  }

  /** ws(s):// URL of a socket path on this node (same origin in the browser). */
  socketUrl(path: string): string {
    const base = this.baseUrl || (typeof location !== "undefined" ? location.origin : "");
    return base.replace(/^http/, "ws") + "/api/v1" + path;
  }
}
