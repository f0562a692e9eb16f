/**
 * After a node answers: ask it whether first-run setup is still needed and, if so,
 * print how to create the admin account with this run's one-time setup token.
 * Shared by `npm start` and `npm run dev`.
 */
import { randomBytes } from "node:crypto";
import { request } from "./workerd.mjs";

/** A fresh setup token for this run: 24 random bytes, base64url (32 characters). */
export function newSetupToken() {
  return randomBytes(24).toString("base64url");
}

/**
 * @param {string} url  where the node answers, e.g. http://127.0.0.1:8787
 * @param {string} token  the setup token the node was started with
 * @param {{ adminPassword?: string, log?: (line: string) => void }} [options]
 * @returns {Promise<boolean | null>} whether setup is needed; null if the node could not say
 */
export async function printSetupHint(url, token, { adminPassword, log = console.log } = {}) {
  let needed;
  try {
    const res = await request(`${url}/api/v1/setup`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    needed = JSON.parse(res.body).needed;
    if (typeof needed !== "boolean") throw new Error(`unexpected answer ${res.body.slice(0, 200)}`);
  } catch (err) {
    log(`(could not ask ${url}/api/v1/setup whether setup is needed: ${/** @type {Error} */ (err).message})`);
    return null;
  }
  if (needed && !adminPassword) {
    const line = "=".repeat(78);
    log(
      [
        "",
        line,
        `First run: create the admin account at ${url}/setup#token=${token}`,
        "or from a shell:",
        `  curl -X POST ${url}/api/v1/setup -H 'content-type: application/json' -d '{"token":"${token}","username":"admin","password":"…"}'`,
        "The token is valid until this node stops.",
        line,
        "",
      ].join("\n"),
    );
  }
  return needed;
}
