/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP) with
 * WebCrypto's HMAC, as authenticator apps make them: SHA-1, 6 digits, 30 s
 * steps — the parameters every app accepts when the `otpauth://` URI leaves
 * them at their defaults. Pure functions: the directory keeps the secrets and
 * the last step used (directory/mfa.ts).
 *
 * @example
 *   const secret = newTotpSecret();                 // base32, 20 random bytes
 *   const step = await matchTotp(secret, "123456", Date.now()); // the step it matched, or null
 */

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding (what `otpauth://` URIs carry). */
export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The inverse; spaces, padding and case are forgiven (people copy secrets by hand). Null: not base32. */
export function base32Decode(text: string): Uint8Array | null {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** A new secret: 20 random bytes (the HMAC-SHA1 block RFC 4226 recommends), base32. */
export function newTotpSecret(): string {
  const bytes = new Uint8Array(20);
  crypto.getRandomValues(bytes);
  return base32Encode(bytes);
}

export type TotpHash = "SHA-1" | "SHA-256" | "SHA-512";

/** HOTP (RFC 4226 §5.3) of one counter value, `digits` long with leading zeros. */
export async function hotp(key: Uint8Array, counter: number, digits = TOTP_DIGITS, hash: TotpHash = "SHA-1"): Promise<string> {
  const msg = new Uint8Array(8);
  // The counter is a 64-bit big-endian integer; steps stay far below 2^53.
  new DataView(msg.buffer).setUint32(0, Math.floor(counter / 2 ** 32));
  new DataView(msg.buffer).setUint32(4, counter >>> 0);
  const cryptoKey = await crypto.subtle.importKey("raw", new Uint8Array(key), { name: "HMAC", hash }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, msg));
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(bin % 10 ** digits).padStart(digits, "0");
}

/** The 30-second step `nowMs` falls in (RFC 6238's T with T0 = 0). */
export const totpStep = (nowMs: number) => Math.floor(nowMs / 1000 / TOTP_PERIOD_S);

/** The code for the step `nowMs` falls in. */
export async function totpAt(secretBase32: string, nowMs: number): Promise<string> {
  const key = base32Decode(secretBase32);
  if (!key) throw new Error("totpAt: the secret is not base32");
  return hotp(key, totpStep(nowMs));
}

/**
 * The step a code matches, trying the current one and one either side (a
 * phone's clock a little off, a code typed as it turned over: RFC 6238 §5.2's
 * one step of drift); null when it matches none. Steps at or before
 * `notAfter` are skipped: the caller passes the last step used, so a code
 * once accepted cannot be replayed within its window.
 */
export async function matchTotp(secretBase32: string, code: string, nowMs: number, notAfter = -1): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  const key = base32Decode(secretBase32);
  if (!key) return null;
  const now = totpStep(nowMs);
  let found: number | null = null;
  // All three are computed whatever matches, so the time taken says nothing about which one did.
  for (const step of [now - 1, now, now + 1]) {
    const expected = await hotp(key, step);
    let diff = 0;
    for (let i = 0; i < TOTP_DIGITS; i++) diff |= expected.charCodeAt(i) ^ code.charCodeAt(i);
    if (diff === 0 && step > notAfter && found === null) found = step;
  }
  return found;
}

/**
 * The `otpauth://` URI authenticator apps read from the QR code
 * (Google Authenticator's key-uri format): `issuer` names the node in the app's
 * list, `account` the person.
 */
export function otpauthUri(secretBase32: string, issuer: string, account: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  return `otpauth://totp/${label}?secret=${secretBase32}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_S}`;
}
