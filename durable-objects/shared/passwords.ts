/**
 * Password hashing: PBKDF2-SHA256, 600,000 iterations by default (OWASP 2023;
 * the node limit `passwordHashIterations`), 16-byte per-user salt, stored as
 * `pbkdf2$<iterations>$<salt>$<hash>` so the cost can be changed later without
 * breaking old hashes: a hash is always checked at the count it records.
 * ~77 ms per hash in workerd at 600,000. Test nodes set a cheap count.
 *
 * Where the platform caps the count, hashes are made at the cap instead.
 * Self-hosted workerd has no cap; Cloudflare's hosted platform refuses more
 * than 100,000 iterations ("Pbkdf2 failed: iteration counts above 100000 are
 * not supported"), so the same Worker deployed there (`wrangler deploy`) would
 * otherwise fail every sign-in. Fitting to the cap, rather than a setting an
 * operator must remember, keeps a deploy working; the count used is written
 * into each hash, and docs/ARCHITECTURE.md says what it costs. A hash made with
 * more iterations than the platform allows cannot be checked there and never
 * matches (logged): that only happens to hashes carried over from a node.
 */
import { log } from "./log";
import { b64url, fromB64url, timingSafeEqual } from "./bytes";
import { AppError } from "./app-error";
import { passwordProblem } from "./password-policy.mjs";
import COMMON_PASSWORDS from "./common-passwords.gen.mjs";

/** The default cost (`DEFAULT_LIMITS.passwordHashIterations`). */
export const PBKDF2_ITERATIONS = 600_000;

/** The part of WebCrypto PBKDF2 needs (a parameter so a test can stand in for a capped platform). */
export type Pbkdf2Crypto = Pick<SubtleCrypto, "importKey" | "deriveBits">;

/** Iteration caps learned from the platform's refusals, per crypto implementation (one per isolate in practice). */
const learnedCaps = new WeakMap<Pbkdf2Crypto, number>();

/** The cap a platform's refusal names, or null when the error is not such a refusal. */
function refusedAbove(err: unknown): number | null {
  const m = /iteration counts? above (\d+)/i.exec(String((err as Error)?.message ?? err));
  return m ? Number(m[1]) : null;
}

/** The derived bits, and the iteration count actually used (lower than asked only on a capped platform). */
async function derive(password: string, salt: Uint8Array, iterations: number, subtle: Pbkdf2Crypto): Promise<{ hash: Uint8Array; iterations: number }> {
  const key = await subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const run = async (n: number) => new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: n }, key, 256));
  const known = learnedCaps.get(subtle);
  const count = known !== undefined ? Math.min(iterations, known) : iterations;
  try {
    return { hash: await run(count), iterations: count };
  } catch (err) {
    const cap = refusedAbove(err);
    if (cap === null || cap < 1 || cap >= count) throw err;
    learnedCaps.set(subtle, cap);
    log("warn", "passwords.iterations_capped", { cap, configured: iterations });
    return { hash: await run(cap), iterations: cap };
  }
}

/** A new hash at `iterations` (the node's `passwordHashIterations`; fewer on a capped platform). */
export async function hashPassword(password: string, iterations: number, subtle: Pbkdf2Crypto = crypto.subtle): Promise<string> {
  const salt = new Uint8Array(16);
  crypto.getRandomValues(salt);
  const derived = await derive(password, salt, iterations, subtle);
  return `pbkdf2$${derived.iterations}$${b64url(salt)}$${b64url(derived.hash)}`;
}

export async function verifyPassword(password: string, stored: string, subtle: Pbkdf2Crypto = crypto.subtle): Promise<boolean> {
  const [alg, iter, saltB64, hashB64] = stored.split("$");
  const salt = fromB64url(saltB64 ?? "");
  const iterations = Number(iter);
  if (alg !== "pbkdf2" || !salt || !Number.isInteger(iterations) || iterations < 1) return false;
  // Derived even when the count will be capped, so a check costs the same either way.
  const derived = await derive(password, salt, iterations, subtle);
  if (derived.iterations !== iterations) {
    if (!isDummyHash(stored)) log("error", "passwords.hash_not_checkable", { iterations, max: derived.iterations });
    return false;
  }
  return timingSafeEqual(b64url(derived.hash), hashB64 ?? "");
}

const DUMMY_SALT = "AAAAAAAAAAAAAAAAAAAAAA";

/**
 * A hash no password matches, compared against when the username does not
 * exist, so a login for an unknown user takes as long as a wrong password: made
 * at the node's `passwordHashIterations`, the count new hashes get (on a capped
 * platform it is checked at the cap, as real hashes are made there).
 */
export function dummyHash(iterations: number): string {
  return `pbkdf2$${iterations}$${DUMMY_SALT}$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
}

function isDummyHash(stored: string): boolean {
  return stored.split("$")[2] === DUMMY_SALT;
}

const COMMON = new Set(COMMON_PASSWORDS);

/** Why `username` may not choose `password` (password-policy.mjs), or null. */
export function weakPasswordReason(password: string, username: string): string | null {
  return passwordProblem(password, username, (p) => COMMON.has(p))?.message ?? null;
}

/**
 * Refuse a password `username` may not choose (too short, the username, a
 * common password) with 400 `weak_password` and a message naming the rule.
 * Every place that sets a password calls this before writing anything.
 */
export function assertPasswordAllowed(password: string, username: string): void {
  const reason = weakPasswordReason(password, username);
  if (reason) throw new AppError("weak_password", reason);
}
