/**
 * Password hashing: PBKDF2-SHA256, 600,000 iterations (OWASP 2023), 16-byte
 * per-user salt, stored as `pbkdf2$<iterations>$<salt>$<hash>` so the cost can
 * be raised later without breaking old hashes. ~77 ms per hash in workerd.
 */
import { b64url, fromB64url, timingSafeEqual } from "./tokens";
import { AppError } from "./app-error";
import { passwordProblem } from "./password-policy.mjs";
import COMMON_PASSWORDS from "./common-passwords.gen.mjs";

export const PBKDF2_ITERATIONS = 600_000;

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = new Uint8Array(16);
  crypto.getRandomValues(salt);
  const hash = await derive(password, salt, iterations);
  return `pbkdf2$${iterations}$${b64url(salt)}$${b64url(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, iter, saltB64, hashB64] = stored.split("$");
  const salt = fromB64url(saltB64 ?? "");
  const iterations = Number(iter);
  if (alg !== "pbkdf2" || !salt || !Number.isInteger(iterations) || iterations < 1) return false;
  const hash = await derive(password, salt, iterations);
  return timingSafeEqual(b64url(hash), hashB64 ?? "");
}

/**
 * A hash of a random password, compared against when the username does not
 * exist, so a login for an unknown user takes as long as a wrong password.
 */
export const DUMMY_HASH = "pbkdf2$600000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

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
