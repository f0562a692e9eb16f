/**
 * Session tokens and socket tickets.
 *
 * A token is `op1.<base64url(user id)>.<secret>`. The user id part routes the
 * check to that user's own object (sessions live there, so authentication
 * spreads across users instead of queueing at one directory); the secret is
 * 32 random bytes, stored only as its SHA-256.
 */
const PREFIX = { session: "op1", ticket: "opt1" } as const;

export function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export function randomSecret(bytes = 32): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return b64url(buf);
}

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

export async function sha256hex(s: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compare two strings in time independent of where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
