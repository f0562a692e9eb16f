/**
 * TOTP as RFC 6238 defines it: its Appendix B test vectors (SHA-1, the
 * 20-byte ASCII secret "12345678901234567890", 8 digits), computed by the
 * node's own WebCrypto implementation; then the 6-digit window the node
 * accepts (±1 step) and its replay rule.
 */
import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, totpAt, totpStep } from "../durable-objects/shared/totp";

const RFC_SECRET = new TextEncoder().encode("12345678901234567890");
// RFC 6238 Appendix B, SHA-1 column: time (s) → 8-digit TOTP.
const VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("RFC 6238 test vectors", () => {
  it.each(VECTORS)("T = %i s gives %s", async (t, expected) => {
    expect(await hotp(RFC_SECRET, Math.floor(t / 30), 8)).toBe(expected);
  });
  it("RFC 4226 Appendix D HOTP values (6 digits) for counters 0..9", async () => {
    const hotps = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
    for (let i = 0; i < 10; i++) expect(await hotp(RFC_SECRET, i)).toBe(hotps[i]);
  });
});

describe("base32 and the otpauth URI", () => {
  it("round-trips and matches RFC 4648's example", () => {
    expect(base32Encode(new TextEncoder().encode("foobar"))).toBe("MZXW6YTBOI");
    expect(new TextDecoder().decode(base32Decode("mzxw 6ytb oi======")!)).toBe("foobar");
    expect(base32Decode("not base32!")).toBeNull();
  });
  it("names the node and the person", () => {
    expect(otpauthUri("ABC", "Outpost (hq)", "ann")).toBe("otpauth://totp/Outpost%20(hq):ann?secret=ABC&issuer=Outpost%20(hq)&algorithm=SHA1&digits=6&period=30");
  });
});

describe("the window the node accepts", () => {
  const secret = base32Encode(RFC_SECRET);
  const now = 1_700_000_015_000;
  it("the current step and one either side, nothing further", async () => {
    const step = totpStep(now);
    for (const d of [-1, 0, 1]) expect(await matchTotp(secret, await totpAt(secret, now + d * 30_000), now)).toBe(step + d);
    for (const d of [-2, 2]) expect(await matchTotp(secret, await totpAt(secret, now + d * 30_000), now)).toBeNull();
  });
  it("a code of a step at or before the last one used is refused (replay)", async () => {
    const code = await totpAt(secret, now);
    const step = await matchTotp(secret, code, now);
    expect(step).not.toBeNull();
    expect(await matchTotp(secret, code, now, step!)).toBeNull();
    expect(await matchTotp(secret, await totpAt(secret, now + 30_000), now, step!)).toBe(step! + 1);
  });
  it("anything but six digits is refused", async () => {
    expect(await matchTotp(secret, "12345", now)).toBeNull();
    expect(await matchTotp(secret, "abcdef", now)).toBeNull();
  });
});
