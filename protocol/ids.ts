/**
 * Identifiers that name their home node.
 *
 * Every user and room id carries the node that holds its data (`u_…@beijing`,
 * `r_…@shanghai`), so when nodes federate no id has to be migrated: a node
 * that sees a foreign suffix knows where to forward. Message ids are global
 * too (`m_…`), but a message always lives in its room, so they need no suffix.
 *
 * @example
 *   newId("r", "shanghai") // "r_7f3k2m9q4x1c5v8b@shanghai"
 *   homeNode("u_7f3k2m9q4x1c5v8b@beijing") // "beijing"
 */
import { NODE_NAME, NODE_NAME_RE } from "./node-name.mjs";

// Every id pattern is built from these parts, so a node name means the same in
// a user id, a room id, a file id and the node's own config.
/** A node's name (protocol/node-name.mjs, which ops/ shares): it ends every user, room and file id. */
const NODE = NODE_NAME;
/** The random part of an id: 16 characters of `randomKey()`. */
const KEY = "[a-z0-9]{16}";

export { NODE_NAME_RE };
export const USER_ID_RE = new RegExp(`^u_${KEY}@${NODE}$`);
export const ROOM_ID_RE = new RegExp(`^r_${KEY}@${NODE}$`);
export const MESSAGE_ID_RE = new RegExp(`^m_${KEY}$`);
/** A legal hold (node-local: holds never leave their node). */
export const HOLD_ID_RE = new RegExp(`^h_${KEY}$`);
/** A file id names its room (`f_<key>.<room key>@<node>`), so a download goes straight to the room that decides. */
export const FILE_ID_RE = new RegExp(`^f_(${KEY})\\.(${KEY})@(${NODE})$`);

/** Characters of a client's own message id (`clientId`, the idempotency key). */
export const CLIENT_ID_CHARS = "A-Za-z0-9._:-";
export const CLIENT_ID_MAX = 64;
/** A whole valid `clientId`: what `ClientIdSchema` (protocol/rest.ts) accepts, as one test. */
export const CLIENT_ID_RE = new RegExp(`^[${CLIENT_ID_CHARS}]{1,${CLIENT_ID_MAX}}$`);

const ROOM_KEY_RE = new RegExp(`^r_(${KEY})@(${NODE})$`);

export function newFileId(roomId: string): string {
  const m = ROOM_KEY_RE.exec(roomId);
  if (!m) throw new Error("not a room id");
  return `f_${randomKey()}.${m[1]}@${m[2]}`;
}

export function roomOfFile(fileId: string): string | null {
  const m = FILE_ID_RE.exec(fileId);
  return m ? `r_${m[2]}@${m[3]}` : null;
}

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

/** 16 random base32 characters = 80 bits: unguessable and collision-free in practice. */
export function randomKey(length = 16): string {
  const bytes = new Uint8Array(length);
  // Web Crypto exists in workerd, browsers and Node 20; protocol/ is typed without any of their libs.
  (globalThis as unknown as { crypto: { getRandomValues(a: Uint8Array): Uint8Array } }).crypto.getRandomValues(bytes);
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

export function newId(kind: "u" | "r", node: string): string {
  return `${kind}_${randomKey()}@${node}`;
}

export function newHoldId(): string {
  return `h_${randomKey()}`;
}

export function newMessageId(): string {
  return `m_${randomKey()}`;
}

export function homeNode(id: string): string | null {
  const at = id.lastIndexOf("@");
  return at < 0 ? null : id.slice(at + 1);
}
