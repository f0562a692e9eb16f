/**
 * People and the signed-in person's own account: finding people and their
 * presence, my name, avatar, password, settings and notifications, and an
 * invite link seen by its invitee (who is not signed in yet). Part of
 * OutpostClient (rest-base.ts says how its files fit together).
 */
import type { Presence } from "../protocol/device";
import { UserSchema, type User } from "../protocol/models";
import {
  InviteInfoSchema,
  NotificationPageSchema,
  OkSchema,
  PresenceListSchema,
  SettingsSchema,
  SignInSchema,
  UserListSchema,
  type InviteInfo,
  type NotificationPage,
  type Settings,
} from "../protocol/responses";
import type { LoginResult } from "./rest-base";
import { SessionCalls } from "./rest-session";

export class PeopleCalls extends SessionCalls {
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
  presence(ids: string[]): Promise<{ presence: Presence[] }> {
    return this.request("GET", `/presence?ids=${ids.map(encodeURIComponent).join(",")}`, undefined, PresenceListSchema);
  }

  // ---- my account ----------------------------------------------------------------
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

  // ---- invite links (the invitee, not signed in) ---------------------------------
  /** Whose invite a token is; `invite_invalid`, `invite_used` or `invite_expired` otherwise. */
  inviteInfo(token: string): Promise<InviteInfo> {
    return this.request("POST", "/invites/lookup", { token }, InviteInfoSchema);
  }
  /** Choose a password through an invite link and sign in (the link is used up). */
  async acceptInvite(token: string, password: string): Promise<LoginResult> {
    return this.keepDeviceToken(await this.request("POST", "/invites/accept", { token, password }, SignInSchema));
  }
}
