/**
 * Device tokens: OWASP's "device cookies"
 * (https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies).
 *
 * Counting failed sign-ins per username lets anyone lock an account out: five
 * wrong passwords for `admin`, from anywhere, and the administrator cannot sign
 * in either. So every successful sign-in hands the browser (an HttpOnly cookie)
 * or the API client (`deviceToken` in the login answer, sent back as
 * `X-Outpost-Device`) a token that says "this device signed in to this account
 * before". A login that presents one is judged by that device's own failures,
 * not by the account's: guessers elsewhere cannot lock it out, and a device
 * that fails too often is locked out alone.
 *
 * A token is `od1.<nonce>.<mac>`: 16 random bytes and an HMAC-SHA256 of the
 * account's user id and the nonce under a key only the directory holds. It
 * cannot be forged, and it helps only the account it was issued for (the
 * directory checks the MAC against the id of the account being signed in to).
 * Nothing is stored per token: the nonce names the device's failure bucket.
 * The token is no credential: it never signs anyone in, it only exempts the
 * password check from the account-wide lockout.
 *
 * @example
 *   const devices = new DeviceTokens(() => secretBytes);
 *   const token = await devices.issue(userId);                  // "od1.…"
 *   await devices.verify(token, userId);      // the device id (nonce)
 *   await devices.verify(token, otherUserId); // null
 */
import { b64url, fromB64url } from "../shared/bytes";

const PREFIX = "od1";
const TOKEN_RE = /^od1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** Longest device token a request may carry; longer ones are ignored without parsing. */
export const MAX_DEVICE_TOKEN_LENGTH = 80;

/** A fresh signing key: 32 random bytes, base64url (stored in the directory's settings). */
export function newDeviceKey(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return b64url(bytes);
}

export class DeviceTokens {
  private key: Promise<CryptoKey> | null = null;

  /** `secret`: the base64url key, read (or created) on first use. */
  constructor(private readonly secret: () => string) {}

  /** A token for a device of `userId`; `nonce` re-issues an existing device's token. */
  async issue(userId: string, nonce?: string): Promise<string> {
    if (!nonce) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      nonce = b64url(bytes);
    }
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.hmacKey(), signed(userId, nonce)));
    return `${PREFIX}.${nonce}.${b64url(mac)}`;
  }

  /** The device id (the token's nonce) if this node issued `token` for `userId`; otherwise null. */
  async verify(token: string, userId: string): Promise<string | null> {
    const m = token.length <= MAX_DEVICE_TOKEN_LENGTH ? TOKEN_RE.exec(token) : null;
    const mac = m ? fromB64url(m[2]) : null;
    if (!m || !mac || mac.length !== 32) return null;
    // crypto.subtle.verify compares in constant time.
    return (await crypto.subtle.verify("HMAC", await this.hmacKey(), mac, signed(userId, m[1]))) ? m[1] : null;
  }

  private hmacKey(): Promise<CryptoKey> {
    this.key ??= crypto.subtle.importKey("raw", fromB64url(this.secret())!, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    return this.key;
  }
}

/** What the MAC covers. User ids never contain a newline (protocol/ids), so the pair is unambiguous. */
function signed(userId: string, nonce: string): Uint8Array {
  return new TextEncoder().encode(`outpost-device\n${userId}\n${nonce}`);
}
