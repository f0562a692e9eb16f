/**
 * OUTPOST_ADMIN_PASSWORD, checked before a node starts with the same password
 * policy the Worker applies everywhere (durable-objects/shared/password-policy.mjs):
 * a weak one would otherwise start a node that refuses to create the admin and,
 * since a password was given, prints no setup link either — a node nobody can
 * administer. Shared by `npm start` and `npm run dev`.
 *
 * @example
 *   const problem = adminPasswordProblem(process.env.OUTPOST_ADMIN_PASSWORD);
 *   // → "the password is too short: use at least 10 characters", or null
 */
import COMMON_PASSWORDS from "../durable-objects/shared/common-passwords.gen.mjs";
import { passwordProblem } from "../durable-objects/shared/password-policy.mjs";

/** The account OUTPOST_ADMIN_PASSWORD creates (durable-objects/directory). */
export const ADMIN_USERNAME = "admin";

const common = new Set(COMMON_PASSWORDS);

/**
 * Why `password` may not be the admin's password, or null when it may.
 * @param {string} password
 * @returns {string | null}
 */
export function adminPasswordProblem(password) {
  return passwordProblem(password, ADMIN_USERNAME, (p) => common.has(p))?.message ?? null;
}
