/**
 * Which passwords a person may choose (NIST SP 800-63B §5.1.1.2): long enough,
 * not the username, not one of the passwords attackers try first. No
 * composition rules (digits, symbols): they make passwords harder to remember,
 * not harder to guess.
 *
 * Plain JavaScript so that `npm start` (Node, ops/start.mjs) can check
 * OUTPOST_ADMIN_PASSWORD with exactly the rules the Worker applies to every
 * other password. It takes the common-password test as a function, so this
 * module stays free of the list: the list is a generated data module
 * (common-passwords.gen.mjs, from scripts/common-passwords.mjs) that only the
 * Worker and ops/admin-password.mjs import — never the web client.
 *
 * @example
 *   passwordProblem("password", "alice", isCommon)
 *   // → { rule: "too_short", message: "use at least 10 characters" }
 */

/** Characters (Unicode code points), not bytes: a Chinese passphrase counts as it reads. */
export const MIN_PASSWORD_LENGTH = 10;

/** How many of the most common passwords are refused (a ranked list, most common first). */
export const COMMON_PASSWORD_COUNT = 10_000;

/**
 * A username shorter than this is only refused as the whole password, not as a
 * part of it: with a two-letter username ("li", "al") "contains" would refuse
 * a large share of good passphrases for no gain.
 */
const CONTAINS_USERNAME_FROM = 3;

/**
 * Why `password` may not be used by `username`, or null when it may.
 *
 * @param {string} password
 * @param {string} username
 * @param {(lowerCased: string) => boolean} isCommon  whether a lower-cased password is on the common list
 * @returns {{ rule: "too_short" | "contains_username" | "common" | "repetitive", message: string } | null}
 */
export function passwordProblem(password, username, isCommon) {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    return { rule: "too_short", message: `the password is too short: use at least ${MIN_PASSWORD_LENGTH} characters` };
  }
  const lower = password.toLowerCase();
  const name = username.toLowerCase();
  if (name && (lower === name || (name.length >= CONTAINS_USERNAME_FROM && lower.includes(name)))) {
    return { rule: "contains_username", message: "the password must not be or contain the username" };
  }
  // Case and surrounding spaces do not make a listed password any safer.
  if (isCommon(lower) || isCommon(lower.trim())) {
    return { rule: "common", message: `the password is one of the ${COMMON_PASSWORD_COUNT.toLocaleString("en")} most common passwords: choose another` };
  }
  // NIST also names repetitive passwords ("aaaaaaaaaa", ten spaces): one
  // character repeated is guessed as fast as a listed one.
  if (new Set(password).size === 1) {
    return { rule: "repetitive", message: "the password is one character repeated: choose another" };
  }
  return null;
}
