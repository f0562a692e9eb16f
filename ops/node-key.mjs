// @ts-check
/**
 * The node's Ed25519 key pair: made at its first start, kept in its data folder
 * (`node-key.json`, mode 0600: only the node's own user may read the private
 * key), used to sign every request to other nodes and every answer (see
 * durable-objects/shared/link-auth.ts). The public key is what an operator puts
 * in the cluster file, and what `GET /healthz` shows.
 *
 * The private key reaches workerd through its environment (never through the
 * generated capnp file, which other tools may read).
 */
import fs from "node:fs";
import path from "node:path";
import { webcrypto } from "node:crypto";

export const NODE_KEY_FILE = "node-key.json";

/**
 * @typedef {{ publicKey: string, privateKey: string }} NodeKey
 *   publicKey: base64url of the raw 32-byte Ed25519 public key;
 *   privateKey: base64url of the PKCS #8 private key.
 */

/** @returns {Promise<NodeKey>} */
export async function generateNodeKey() {
  const pair = /** @type {import("node:crypto").webcrypto.CryptoKeyPair} */ (await webcrypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]));
  const publicKey = Buffer.from(await webcrypto.subtle.exportKey("raw", pair.publicKey)).toString("base64url");
  const privateKey = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey)).toString("base64url");
  return { publicKey, privateKey };
}

/**
 * The node's key from `<dataDir>/node-key.json`, made (0600) when there is none.
 * A file that exists but is unreadable, malformed or readable by others is an
 * error naming the file: a node never silently replaces its identity.
 *
 * @param {string} dataDir
 * @returns {Promise<NodeKey & { created: boolean, file: string }>}
 */
export async function ensureNodeKey(dataDir) {
  const file = path.join(dataDir, NODE_KEY_FILE);
  if (!fs.existsSync(file)) {
    const key = await generateNodeKey();
    fs.mkdirSync(dataDir, { recursive: true });
    // "wx": never overwrite a key another start wrote a moment ago.
    try {
      fs.writeFileSync(file, JSON.stringify(key, null, 2) + "\n", { mode: 0o600, flag: "wx" });
      return { ...key, created: true, file };
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) throw new Error(`${file}: the node's private key is readable by other users (mode ${mode.toString(8)}); run chmod 600 on it`);
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file}: not a node key file (${/** @type {Error} */ (err).message})`);
  }
  const key = /** @type {Partial<NodeKey>} */ (parsed ?? {});
  if (typeof key.publicKey !== "string" || Buffer.from(key.publicKey, "base64url").length !== 32 || typeof key.privateKey !== "string") {
    throw new Error(`${file}: not a node key file (expected {"publicKey", "privateKey"})`);
  }
  // The pair must belong together: import the private key and compare its public half.
  const priv = await webcrypto.subtle.importKey("pkcs8", Buffer.from(key.privateKey, "base64url"), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await webcrypto.subtle.exportKey("jwk", priv);
  if (jwk.x !== key.publicKey) throw new Error(`${file}: the public key does not belong to the private key`);
  return { publicKey: key.publicKey, privateKey: key.privateKey, created: false, file };
}

/**
 * The public key in `<dataDir>/node-key.json`, or null when there is no
 * readable one. For the commands that read a node's files beside it (backup,
 * audit): they must never make a key, and a missing key is theirs to report.
 *
 * @param {string} dataDir
 * @returns {string | null}
 */
export function readPublicKey(dataDir) {
  try {
    const key = JSON.parse(fs.readFileSync(path.join(dataDir, NODE_KEY_FILE), "utf8"));
    return typeof key.publicKey === "string" ? key.publicKey : null;
  } catch {
    return null;
  }
}
