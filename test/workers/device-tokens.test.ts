/**
 * Device cookies (OWASP): guessers cannot lock an account's owner out. Wrong
 * passwords from unknown devices lock the username as before, but a browser
 * or client that signed in to the account before (its device cookie, or the
 * `deviceToken` sent back as X-Outpost-Device) is judged by its own failures
 * only. A token helps only the account it was issued for and cannot be forged.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { freshIp, login, newUser, type Res } from "./helpers";

const cookie = (deviceToken: string) => ({ cookie: `outpost_device=${deviceToken}` });
const header = (deviceToken: string) => ({ "x-outpost-device": deviceToken });

/** The outpost_device Set-Cookie line of a response, if any. */
function deviceSetCookie(res: Res): string | null {
  return res.headers.getSetCookie().find((c) => c.startsWith("outpost_device=")) ?? null;
}

/** Lock `username` for unknown devices: 20 wrong passwords from 20 addresses (the first 5 count, the rest are refused). */
async function lockOut(username: string) {
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await login(username, `wrong guess number ${i}`, freshIp())).status);
  expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
  expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
}

describe("device cookies", () => {
  it("a sign-in hands out a device token: in the body and as an HttpOnly, SameSite=Strict cookie for the sign-in routes", async () => {
    const u = await newUser("devissue");
    const r = await login(u.username, u.password);
    expect(r.status).toBe(200);
    expect(r.body.deviceToken).toMatch(/^od1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const set = deviceSetCookie(r) ?? "";
    expect(set.startsWith(`outpost_device=${r.body.deviceToken};`)).toBe(true);
    expect(set).toMatch(/;\s*HttpOnly/i);
    expect(set).toMatch(/;\s*SameSite=Strict/i);
    expect(set).toMatch(/;\s*Path=\/api\/v1\/auth(;|$)/);
    expect(set).toMatch(/;\s*Max-Age=31536000/);
    expect(set).not.toMatch(/;\s*Secure/i); // plain http here: a Secure cookie would never come back
    // A failed sign-in hands out nothing.
    const wrong = await login(u.username, "not the right password", freshIp());
    expect(wrong.status).toBe(401);
    expect(deviceSetCookie(wrong)).toBeNull();
    expect(wrong.body.deviceToken).toBeUndefined();
  });

  it("the device cookie is Secure when the node is reached over https", async () => {
    const u = await newUser("devhttps");
    const res = await SELF.fetch("https://outpost.test/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: u.username, password: u.password }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const set = res.headers.getSetCookie().find((c) => c.startsWith("outpost_device=")) ?? "";
    expect(set).toMatch(/;\s*Secure/i);
  });

  it("after 20 wrong passwords from elsewhere, the right password works WITH the device cookie (or header) and is still refused without", async () => {
    const victim = await newUser("devvictim"); // signed in once: this is its device token
    await lockOut(victim.username);

    const withCookie = await login(victim.username, victim.password, freshIp(), cookie(victim.deviceToken));
    expect(withCookie.status).toBe(200);
    expect(withCookie.body.user.id).toBe(victim.id);
    // The same device keeps its token.
    expect(withCookie.body.deviceToken).toBe(victim.deviceToken);

    const withHeader = await login(victim.username, victim.password, freshIp(), header(victim.deviceToken));
    expect(withHeader.status).toBe(200);

    const without = await login(victim.username, victim.password, freshIp());
    expect(without.status).toBe(429);
    expect(without.body.error.code).toBe("rate_limited");
    expect(Number(without.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("a device cookie of another account does not help", async () => {
    const victim = await newUser("devother1");
    const attacker = await newUser("devother2");
    await lockOut(victim.username);
    for (const extra of [cookie(attacker.deviceToken), header(attacker.deviceToken)]) {
      const r = await login(victim.username, victim.password, freshIp(), extra);
      expect(r.status).toBe(429);
    }
    // The token is genuine: it still works for the account it was issued to.
    expect((await login(attacker.username, attacker.password, freshIp(), cookie(attacker.deviceToken))).status).toBe(200);
  });

  it("a forged device token does not help", async () => {
    const victim = await newUser("devforged");
    await lockOut(victim.username);
    const [prefix, nonce, mac] = victim.deviceToken.split(".");
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    const forged = [
      `${prefix}.${nonce}.${flip(mac)}`, // MAC altered
      `${prefix}.${flip(nonce)}.${mac}`, // another device id under the same MAC
      `od1.${"A".repeat(22)}.${"A".repeat(43)}`, // right shape, made up
      "od1.garbage",
      "x".repeat(5000), // oversized: ignored, not an error
    ];
    for (const token of forged) {
      expect((await login(victim.username, victim.password, freshIp(), cookie(token))).status).toBe(429);
      expect((await login(victim.username, victim.password, freshIp(), header(token))).status).toBe(429);
    }
    // The real one still works.
    expect((await login(victim.username, victim.password, freshIp(), cookie(victim.deviceToken))).status).toBe(200);
  });

  it("a known device that fails too often is locked out alone: its cookie stops helping, other devices keep theirs", async () => {
    const victim = await newUser("devlocked"); // device A
    const deviceB = (await login(victim.username, victim.password)).body.deviceToken as string;
    expect(deviceB).not.toBe(victim.deviceToken);

    // Device A gets its own 5 tries; they do not count against the username…
    for (let i = 0; i < 5; i++) expect((await login(victim.username, `device A typo ${i}`, freshIp(), cookie(victim.deviceToken))).status).toBe(401);
    expect((await login(victim.username, victim.password, freshIp())).status).toBe(200);

    // …and once someone has locked the username as well, device A is refused like any unknown device…
    await lockOut(victim.username);
    const a = await login(victim.username, victim.password, freshIp(), cookie(victim.deviceToken));
    expect(a.status).toBe(429);
    // …while device B, which made no mistakes, signs in.
    expect((await login(victim.username, victim.password, freshIp(), cookie(deviceB))).status).toBe(200);
  });
});
