/**
 * Single sign-on's part of the directory: which account an identity
 * provider's subject is (`iss` + `sub`, the only claims OpenID Connect
 * promises never to reassign), and the sign-ins under way (state, nonce, PKCE
 * verifier: server-side, ten minutes, single use — a cookie would do too, but
 * a row that is deleted when read is single use without a signing key to
 * manage, and the callback finds it by the `state` the browser brings back).
 */
import { and, eq, lt } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { sha256hex } from "../shared/bytes";
import * as schema from "./schema";

export const SSO_STATE_TTL_MS = 10 * 60_000;

export class SsoIdentities {
  constructor(private readonly db: DrizzleSqliteDODatabase<typeof schema>) {}

  userFor(issuer: string, subject: string): string | null {
    const t = schema.ssoIdentities;
    return this.db.select({ userId: t.userId }).from(t).where(and(eq(t.issuer, issuer), eq(t.subject, subject))).get()?.userId ?? null;
  }

  /** Is this account already linked to a subject of `issuer`? (then it is never linked to a second one) */
  linked(issuer: string, userId: string): boolean {
    const t = schema.ssoIdentities;
    return !!this.db.select({ subject: t.subject }).from(t).where(and(eq(t.issuer, issuer), eq(t.userId, userId))).get();
  }

  link(issuer: string, subject: string, userId: string, now: number): void {
    this.db.insert(schema.ssoIdentities).values({ issuer, subject, userId, linkedAt: now }).run();
  }

  async saveState(state: string, nonce: string, verifier: string, now: number): Promise<void> {
    this.db.delete(schema.ssoStates).where(lt(schema.ssoStates.expiresAt, now)).run();
    this.db.insert(schema.ssoStates).values({ stateHash: await sha256hex(state), nonce, verifier, expiresAt: now + SSO_STATE_TTL_MS }).run();
  }

  /** The nonce and verifier of a sign-in under way, deleted as they are read; null: unknown, used or expired. */
  async takeState(state: string, now: number): Promise<{ nonce: string; verifier: string } | null> {
    if (state.length > 200) return null;
    const rows = this.db.delete(schema.ssoStates).where(eq(schema.ssoStates.stateHash, await sha256hex(state))).returning().all();
    const row = rows[0];
    return row && row.expiresAt > now ? { nonce: row.nonce, verifier: row.verifier } : null;
  }
}
