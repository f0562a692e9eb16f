/**
 * Signing in and out, and the signed-in account's own sign-in settings:
 * password login with its second step (two-factor sign-in), single sign-on's
 * offer, enrolling and removing an authenticator app, first-run setup, who I
 * am, and the ticket for opening a socket. Part of OutpostClient (rest-base.ts
 * says how its files fit together).
 */
import type { z } from "zod";
import { UserSchema, type User } from "../protocol/models";
import type { SetupBody } from "../protocol/rest";
import {
  LoginAnswerSchema,
  MfaEnrolmentSchema,
  MfaStatusSchema,
  OkSchema,
  RecoveryCodesSchema,
  SetupStatusSchema,
  SignInSchema,
  SocketTicketSchema,
  SsoInfoSchema,
  type SocketTicket,
} from "../protocol/responses";
import { MfaRequiredError } from "./errors";
import { RestBase, type LoginResult } from "./rest-base";

export class SessionCalls extends RestBase {
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
  me(): Promise<User> {
    return this.request("GET", "/me", undefined, UserSchema);
  }
  /** A single-use ticket for opening a socket where headers and cookies cannot be set. */
  socketTicket(): Promise<SocketTicket> {
    return this.request("POST", "/socket-tickets", undefined, SocketTicketSchema);
  }
}
