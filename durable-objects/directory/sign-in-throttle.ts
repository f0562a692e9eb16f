/**
 * Failed sign-ins, counted per key in a fixed window: `u:<username>` and
 * `ip:<address>` for logins from unknown devices, `d:<device id>` for a device
 * that signed in to the account before (device-tokens.ts). A key with too
 * many failures in its window is locked until the window ends.
 */
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";

/**
 * Failed logins allowed per window: per username and per client address for
 * logins from unknown devices, per device for a device that signed in to the
 * account before.
 */
export const LOGIN_LIMITS = { windowMs: 15 * 60_000, perUser: 5, perAddress: 30, perDevice: 5 };

export const deviceKey = (deviceId: string) => `d:${deviceId}`;
export const usernameKey = (username: string) => `u:${username.toLowerCase()}`;

/**
 * Throttle buckets for a login from an unknown device, with their limits. An
 * "unknown" address (no trusted reverse proxy in front, see
 * ops/node-config.mjs) gets no bucket of its own: one shared bucket would let
 * anyone lock everyone out with 30 wrong passwords.
 */
export function throttleKeys(username: string, address: string): [string, number][] {
  const keys: [string, number][] = [[usernameKey(username), LOGIN_LIMITS.perUser]];
  if (address !== "unknown") keys.push([`ip:${address}`, LOGIN_LIMITS.perAddress]);
  return keys;
}

export class SignInThrottle {
  constructor(private readonly db: DrizzleSqliteDODatabase<typeof schema>) {}

  /** Seconds until `key` may try again, or null when it has fewer than `max` failures in the window. */
  lockedFor(key: string, max: number, now: number): number | null {
    const row = this.db.select().from(schema.loginFailures).where(eq(schema.loginFailures.key, key)).get();
    if (row && now - row.windowStart < LOGIN_LIMITS.windowMs && row.count >= max) {
      return Math.ceil((row.windowStart + LOGIN_LIMITS.windowMs - now) / 1000);
    }
    return null;
  }

  /** The first key of `keys` that is locked, as seconds to wait; null when none is. */
  firstLock(keys: [string, number][], now: number): number | null {
    for (const [key, max] of keys) {
      const retryAfter = this.lockedFor(key, max, now);
      if (retryAfter !== null) return retryAfter;
    }
    return null;
  }

  /** Count one failure against each key (a key whose window ended starts a new one). */
  failed(keys: string[], now: number): void {
    const t = schema.loginFailures;
    for (const key of keys) {
      const row = this.db.select().from(t).where(eq(t.key, key)).get();
      if (!row || now - row.windowStart >= LOGIN_LIMITS.windowMs) {
        this.db.insert(t).values({ key, count: 1, windowStart: now }).onConflictDoUpdate({ target: t.key, set: { count: 1, windowStart: now } }).run();
      } else {
        this.db.update(t).set({ count: row.count + 1 }).where(eq(t.key, key)).run();
      }
    }
  }

  clear(key: string): void {
    this.db.delete(schema.loginFailures).where(eq(schema.loginFailures.key, key)).run();
  }
}
