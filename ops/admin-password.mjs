/**
 * OUTPOST_ADMIN_PASSWORD, checked before a node starts with the same password
 * policy the Worker applies everywhere (durable-objects/shared/password-policy.mjs):
 * a weak one would otherwise start a node that refuses to create the admin and,
 * since a password was given, prints no setup link either — a node nobody can
 * administer. Shared by `npm start` and `npm run dev`.
 *
 * @example
 *   const problem = await adminPasswordProblem(process.env.OUTPOST_ADMIN_PASSWORD);
 *   // → "the password is too short: use at least 10 characters", or null
 */
import { writeCommonPasswords } from "../scripts/common-passwords.mjs";

/** The account OUTPOST_ADMIN_PASSWORD creates (durable-objects/directory). */
export const ADMIN_USERNAME = "admin";

/** Why `password` may not be the admin's password, or null when it may. */
export async function adminPasswordProblem(password) {
  // The list is a generated module: write it (a no-op when current) before importing it.
  writeCommonPasswords();
  const [{ passwordProblem }, { default: common }] = await Promise.all([
    import("../durable-objects/shared/password-policy.mjs"),
    import("../durable-objects/shared/common-passwords.gen.mjs"),
  ]);
  const set = new Set(common);
  return passwordProblem(password, ADMIN_USERNAME, (p) => set.has(p))?.message ?? null;
}
