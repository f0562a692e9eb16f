/**
 * Session tokens and socket tickets.
 *
 * A token is `op1.<base64url(user id)>.<secret>` (a ticket `opt1.…`). The user
 * id part routes the check to that user's own object (sessions live there, so
 * authentication spreads across users instead of queueing at one directory);
 * the secret is 32 random bytes, stored only as its SHA-256 (`sha256hex`).
 *
 * @example
 *   const { token, secret } = makeToken("session", "u_…@local"); // token to the client, hash of secret stored
 *   parseToken("session", token); // { userId: "u_…@local", secret }
 */
import { b64url, fromB64url, randomSecret } from "./bytes";

const PREFIX = { session: "op1", ticket: "opt1" } as const;

export function makeToken(kind: keyof typeof PREFIX, userId: string): { token: string; secret: string } {
  const secret = randomSecret();
  return { token: `${PREFIX[kind]}.${b64url(new TextEncoder().encode(userId))}.${secret}`, secret };
}

export function parseToken(kind: keyof typeof PREFIX, token: string): { userId: string; secret: string } | null {
  if (token.length > 300) return null;
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX[kind] || parts[2].length < 40) return null;
  const raw = fromB64url(parts[1]);
  if (!raw) return null;
  const userId = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false }).decode(raw);
  return { userId, secret: parts[2] };
}
