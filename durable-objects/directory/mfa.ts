/**
 * Two-factor sign-in for the directory: TOTP enrolment (begin → confirm with a
 * code), recovery codes, and the short-lived challenge that stands between a
 * right password and a session when an account has a second factor
 * (shared/totp.ts computes the codes).
 *
 * Why here and not in the user's object: the sign-in path (throttling, device
 * tokens, the password hash) is the directory's, and the second step must be
 * counted against the same buckets as the first.
 */
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { AppError } from "../shared/app-error";
import { randomSecret, sha256hex } from "../shared/bytes";
import { base32Encode, matchTotp, newTotpSecret } from "../shared/totp";
import * as schema from "./schema";

export const RECOVERY_CODE_COUNT = 10;
/** How long the second step of a sign-in may take (an app opened, a code typed). */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Wrong codes one challenge takes before it is gone (the throttle counts them too). */
export const CHALLENGE_ATTEMPTS = 5;
/** An enrolment never confirmed is dropped after this, so a stolen session cannot leave one pending forever. */
const PENDING_TTL_MS = 30 * 60_000;

/** `abcde-fghij`: 50 random bits in the alphabet of base32, easy to read out and type. */
function newRecoveryCode(): string {
  const bytes = new Uint8Array(7);
  crypto.getRandomValues(bytes);
  const s = base32Encode(bytes).slice(0, 10).toLowerCase();
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** What a typed recovery code is compared as: no dashes, spaces or case. */
const recoveryHash = (code: string) => sha256hex(`recovery:${code.replace(/[\s-]/g, "").toLowerCase()}`);

export interface MfaStatus {
  enabled: boolean;
  recoveryCodesLeft: number;
}

export class Mfa {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  status(userId: string): MfaStatus {
    const row = this.db.select().from(schema.mfa).where(eq(schema.mfa.userId, userId)).get();
    if (!row?.enabledAt) return { enabled: false, recoveryCodesLeft: 0 };
    const left = this.db
      .select({ h: schema.recoveryCodes.codeHash })
      .from(schema.recoveryCodes)
      .where(and(eq(schema.recoveryCodes.userId, userId), isNull(schema.recoveryCodes.usedAt)))
      .all().length;
    return { enabled: true, recoveryCodesLeft: left };
  }

  enabled(userId: string): boolean {
    return !!this.db.select({ at: schema.mfa.enabledAt }).from(schema.mfa).where(eq(schema.mfa.userId, userId)).get()?.at;
  }

  /** A new secret to enrol (replacing one never confirmed). An account with 2FA on must turn it off first. */
  begin(userId: string, now: number): string {
    if (this.enabled(userId)) throw new AppError("conflict", "two-factor sign-in is already on: turn it off first to enrol a new app");
    const secret = newTotpSecret();
    this.db
      .insert(schema.mfa)
      .values({ userId, secret, createdAt: now, enabledAt: null, lastStep: -1 })
      .onConflictDoUpdate({ target: schema.mfa.userId, set: { secret, createdAt: now, enabledAt: null, lastStep: -1 } })
      .run();
    return secret;
  }

  /**
   * Turn 2FA on with a current code from the app; answers the recovery codes
   * (shown once, stored hashed). `record` runs in the same transaction (the
   * audit record: if it cannot be written, 2FA stays off).
   */
  async confirm(userId: string, code: string, now: number, record: () => void): Promise<string[]> {
    const row = this.db.select().from(schema.mfa).where(eq(schema.mfa.userId, userId)).get();
    if (!row || row.enabledAt) throw new AppError("conflict", row ? "two-factor sign-in is already on" : "start enrolment first");
    if (now - row.createdAt > PENDING_TTL_MS) throw new AppError("conflict", "this enrolment is too old: start again");
    const step = await matchTotp(row.secret, code.trim(), now, row.lastStep);
    if (step === null) throw new AppError("mfa_code_invalid", "the code is wrong or was already used: type the one your app shows now");
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const hashes = await Promise.all(codes.map(recoveryHash));
    this.transaction(() => {
      this.db.update(schema.mfa).set({ enabledAt: now, lastStep: step }).where(eq(schema.mfa.userId, userId)).run();
      this.db.delete(schema.recoveryCodes).where(eq(schema.recoveryCodes.userId, userId)).run();
      for (const codeHash of hashes) this.db.insert(schema.recoveryCodes).values({ userId, codeHash, usedAt: null }).run();
      record();
    });
    return codes;
  }

  /**
   * Check a second factor: a 6-digit code of the current step (±1) not older
   * than the last one accepted, or an unused recovery code. Either is used up
   * by succeeding.
   */
  async verify(userId: string, code: string, now: number): Promise<boolean> {
    const row = this.db.select().from(schema.mfa).where(eq(schema.mfa.userId, userId)).get();
    if (!row?.enabledAt) return false;
    const typed = code.trim();
    if (/^\d{6}$/.test(typed)) {
      const step = await matchTotp(row.secret, typed, now, row.lastStep);
      if (step === null) return false;
      // Conditional on the step read above: two sign-ins racing with one code cannot both pass.
      const r = this.db.update(schema.mfa).set({ lastStep: step }).where(and(eq(schema.mfa.userId, userId), lt(schema.mfa.lastStep, step))).returning().all();
      return r.length === 1;
    }
    if (typed.length > 40) return false;
    const hash = await recoveryHash(typed);
    const rc = schema.recoveryCodes;
    const used = this.db.update(rc).set({ usedAt: now }).where(and(eq(rc.userId, userId), eq(rc.codeHash, hash), isNull(rc.usedAt))).returning().all();
    return used.length === 1;
  }

  /**
   * Turn 2FA off (the caller checked the password, or an administrator reset
   * it): the secret and every recovery code are gone. `record` as in confirm.
   */
  disable(userId: string, record: () => void): void {
    this.transaction(() => {
      this.db.delete(schema.mfa).where(eq(schema.mfa.userId, userId)).run();
      this.db.delete(schema.recoveryCodes).where(eq(schema.recoveryCodes.userId, userId)).run();
      record();
    });
  }

  // ------------------------------------------------ the second step of a sign-in

  async issueChallenge(user: { id: string; username: string }, deviceId: string | null, now: number): Promise<{ challenge: string; expiresAt: number }> {
    this.db.delete(schema.loginChallenges).where(lt(schema.loginChallenges.expiresAt, now)).run();
    const challenge = `mfa_${randomSecret(24)}`;
    const expiresAt = now + CHALLENGE_TTL_MS;
    this.db.insert(schema.loginChallenges).values({ tokenHash: await sha256hex(challenge), userId: user.id, username: user.username, deviceId, expiresAt, attempts: 0 }).run();
    return { challenge, expiresAt };
  }

  /** The challenge behind a token, or null (never issued, expired, used up). */
  async challenge(token: string, now: number): Promise<typeof schema.loginChallenges.$inferSelect | null> {
    if (token.length > 100) return null;
    const row = this.db.select().from(schema.loginChallenges).where(eq(schema.loginChallenges.tokenHash, await sha256hex(token))).get();
    return row && row.expiresAt > now && row.attempts < CHALLENGE_ATTEMPTS ? row : null;
  }

  /** A wrong code against a challenge: one try fewer (the last one ends it). */
  failedAttempt(tokenHash: string): void {
    const c = schema.loginChallenges;
    this.db.update(c).set({ attempts: sql`${c.attempts} + 1` }).where(eq(c.tokenHash, tokenHash)).run();
  }

  endChallenge(tokenHash: string): void {
    this.db.delete(schema.loginChallenges).where(eq(schema.loginChallenges.tokenHash, tokenHash)).run();
  }
}
