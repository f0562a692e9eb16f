/**
 * Signing in at the directory: the password step judged by the throttle
 * (sign-in-throttle.ts) and the device tokens that exempt a known device from
 * the account-wide lockout (device-tokens.ts), the second step for accounts
 * with two-factor sign-in (mfa.ts), and single sign-on's account decision
 * (sso-accounts.ts, sso-identities.ts). Failed sign-ins are audited with the
 * failure they count, in one transaction (directory-audit.ts).
 *
 * The Worker checks the password hash itself (worker/routes/auth.ts): what it asks
 * here is who the login names, whether it may be tried now, and what to
 * count or clear after.
 */
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { User } from "../../protocol/models";
import { AppError } from "../shared/app-error";
import { toUser, type Accounts } from "./accounts";
import type { AccountChanges } from "./account-changes";
import { DeviceTokens, newDeviceKey } from "./device-tokens";
import type { DirectoryAudit } from "./directory-audit";
import type { Mfa } from "./mfa";
import * as schema from "./schema";
import { deviceKey, LOGIN_LIMITS, SignInThrottle, throttleKeys, usernameKey } from "./sign-in-throttle";
import { ssoAccount, type SsoClaims, type SsoPolicy } from "./sso-accounts";
import type { SsoIdentities } from "./sso-identities";

/** The settings row that holds the key device tokens are signed with. */
const DEVICE_KEY_SETTING = "device_token_key";

export class SignIn {
  private readonly throttle: SignInThrottle;
  private readonly devices = new DeviceTokens(() => this.deviceKey());

  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly accounts: Accounts,
    private readonly changes: AccountChanges,
    private readonly mfa: Mfa,
    private readonly sso: SsoIdentities,
    private readonly audit: DirectoryAudit,
  ) {
    this.throttle = new SignInThrottle(db);
  }

  /**
   * Look up a login. Returns `retryAfter` (seconds) when it may not be tried
   * now; otherwise the account (or null) and `deviceId`: set when `deviceToken`
   * is a token this account was given at an earlier sign-in and that device is
   * not locked out. Such a login is judged by the device's own failures only,
   * so guessers elsewhere cannot lock the account's owner out. Any other login
   * (no token, a token of another account, a forged or locked-out one) counts
   * against the username and the client address, as before.
   */
  async loginLookup(
    username: string,
    address: string,
    deviceToken: string | null,
  ): Promise<{ retryAfter: number } | { user: User | null; passwordHash: string | null; deviceId: string | null }> {
    const now = Date.now();
    const row = this.accounts.byUsername(username);
    if (row && deviceToken) {
      const deviceId = await this.devices.verify(deviceToken, row.id);
      if (deviceId && this.throttle.lockedFor(deviceKey(deviceId), LOGIN_LIMITS.perDevice, now) === null) {
        return { user: toUser(row), passwordHash: row.passwordHash || null, deviceId };
      }
    }
    const retryAfter = this.throttle.firstLock(throttleKeys(username, address), now);
    if (retryAfter !== null) return { retryAfter };
    // "" is an account still waiting for its invite: checked against the dummy hash, like an unknown name.
    return row ? { user: toUser(row), passwordHash: row.passwordHash || null, deviceId: null } : { user: null, passwordHash: null, deviceId: null };
  }

  /** Count a failed login: against its known device (`deviceId` from loginLookup), else its username and address. */
  loginFailed(username: string, address: string, deviceId: string | null): void {
    const account = this.accounts.byUsername(username);
    // The attempted username is kept (bounded by LoginBody), the password never; the address as the proxy reported it.
    this.audit.audited(
      () => this.throttle.failed(deviceId ? [deviceKey(deviceId)] : throttleKeys(username, address).map(([key]) => key), Date.now()),
      () => [{ actor: "anonymous", action: "auth.signin_failed", userId: account?.id ?? null, detail: { username: username.slice(0, 64), address: address.slice(0, 64), knownDevice: deviceId !== null } }],
    );
  }

  /**
   * A login succeeded: clear the failures it was judged by and return the
   * device token to hand back (the same device's, re-signed, or a new one).
   * A known device's success leaves the username's failures alone: they are
   * someone else's guesses, and clearing them would give the guesser a fresh
   * five every time the owner signs in.
   */
  async loginSucceeded(username: string, deviceId: string | null): Promise<string | null> {
    const row = this.accounts.byUsername(username);
    this.throttle.clear(deviceId ? deviceKey(deviceId) : usernameKey(username));
    return row ? this.devices.issue(row.id, deviceId ?? undefined) : null;
  }

  /** A device token for a fresh sign-in that did not go through login (first-run setup). */
  issueDeviceToken(userId: string): Promise<string> {
    return this.devices.issue(userId);
  }

  /** The device-token signing key, made on first use. */
  private deviceKey(): string {
    const s = schema.settings;
    const found = this.db.select().from(s).where(eq(s.key, DEVICE_KEY_SETTING)).get();
    if (found) return found.value;
    const value = newDeviceKey();
    this.db.insert(s).values({ key: DEVICE_KEY_SETTING, value }).run();
    return value;
  }

  // ------------------------------------------------ the second step (mfa.ts)

  /**
   * After a right password: the second step's challenge when the account has
   * 2FA on (the failures the password step was judged by are not cleared until
   * the code is right), else null and the sign-in goes on as before.
   */
  async mfaChallengeFor(user: { id: string; username: string }, deviceId: string | null): Promise<{ challenge: string; expiresAt: number } | null> {
    if (!this.mfa.enabled(user.id)) return null;
    return this.mfa.issueChallenge(user, deviceId, Date.now());
  }

  /**
   * The second step: a code (or recovery code) for a challenge. Wrong codes
   * count against the same buckets as wrong passwords (the device's, else the
   * username's and the address's); the challenge ends after a few. Right: the
   * sign-in succeeds as loginSucceeded would.
   */
  async completeMfaLogin(challenge: string, code: string, address: string): Promise<{ user: User; deviceToken: string | null }> {
    const now = Date.now();
    const row = await this.mfa.challenge(challenge, now);
    if (!row) throw new AppError("mfa_challenge_invalid", "this sign-in has expired or was used up: sign in again with your password");
    const keys = row.deviceId ? [[deviceKey(row.deviceId), LOGIN_LIMITS.perDevice] as [string, number]] : throttleKeys(row.username, address);
    const retryAfter = this.throttle.firstLock(keys, now);
    if (retryAfter !== null) throw new AppError("rate_limited", "too many failed sign-ins; wait and try again", retryAfter);
    if (!(await this.mfa.verify(row.userId, code, now))) {
      this.audit.audited(
        () => {
          this.mfa.failedAttempt(row.tokenHash);
          this.throttle.failed(keys.map(([key]) => key), now);
        },
        () => [{ actor: "anonymous", action: "auth.signin_failed", userId: row.userId, detail: { username: row.username, address: address.slice(0, 64), step: "mfa" } }],
      );
      throw new AppError("mfa_code_invalid", "the code is wrong or was already used");
    }
    this.mfa.endChallenge(row.tokenHash);
    const account = this.accounts.byId(row.userId);
    if (!account || !account.active) throw new AppError("unauthorized", "wrong username or password, or the account is deactivated");
    const deviceToken = await this.loginSucceeded(row.username, row.deviceId);
    return { user: toUser(account), deviceToken };
  }

  // ------------------------------------------- single sign-on (sso-identities.ts, sso-accounts.ts)

  /** The account a verified ID token's subject signs in to: linked, linked now, created, or refused (sso-accounts.ts). */
  async ssoSignIn(claims: SsoClaims, policy: SsoPolicy): Promise<{ user: User; created: boolean }> {
    const decision = ssoAccount(claims, policy, {
      linkedUser: (iss, sub) => this.sso.userFor(iss, sub),
      byId: (id) => this.accounts.byId(id),
      byUsername: (name) => this.accounts.byUsername(name),
      linkedToIssuer: (iss, id) => this.sso.linked(iss, id),
    });
    if (decision.kind === "create") {
      const user = await this.changes.insertUser({ username: decision.username, displayName: decision.displayName, passwordHash: "", isAdmin: false }, `sso:${claims.issuer}`.slice(0, 200));
      this.sso.link(claims.issuer, claims.subject, user.id, Date.now());
      return { user, created: true };
    }
    if (decision.kind === "link") this.sso.link(claims.issuer, claims.subject, decision.row.id, Date.now());
    return { user: toUser(decision.row), created: false };
  }

  /** A single sign-on the node refused (audited like a failed password sign-in; `code` is the AppError code). */
  ssoRefused(issuer: string, code: string): void {
    this.audit.audited(() => null, () => [{ actor: "anonymous", action: "auth.signin_failed", detail: { via: "sso", issuer: issuer.slice(0, 200), code } }]);
  }
}
