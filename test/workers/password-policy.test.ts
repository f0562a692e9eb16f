/**
 * The password policy wherever a password is set (first-run setup, an admin
 * creating an account, a password change): at least 10 characters, not the
 * username, not one of the 10,000 most common passwords. A refusal is 400
 * `weak_password` naming the rule, and nothing is written.
 */
import { describe, expect, it } from "vitest";
import { admin, api, freshIp, login, newSession, newUser } from "./helpers";

let n = 0;
const freshName = (prefix: string) => `${prefix}${Date.now().toString(36)}${(n++).toString(36)}`;

async function createUser(username: string, password: string) {
  return api("POST", "/api/v1/users", { token: await admin(), body: { username, password, displayName: "Policy" } });
}

/** The account was not created: nobody finds it and nobody signs in with it. */
async function expectNoAccount(username: string, password: string) {
  expect((await api("GET", `/api/v1/users?q=${username}`, { token: await admin() })).body.users).toEqual([]);
  expect((await login(username, password, freshIp())).status).toBe(401);
}

const RULES: [string, (username: string) => string, RegExp][] = [
  ["the word password", () => "password", /at least 10 characters/],
  ["eight digits", () => "12345678", /at least 10 characters/],
  ["eight spaces", () => "        ", /at least 10 characters/],
  ["nine characters", () => "kx7#mq2!z", /at least 10 characters/],
  ["a common ten-character password", () => "qwertyuiop", /most common passwords/],
  ["a common password in other letter case", () => "1Q2W3E4R5T", /most common passwords/],
  ["a common password with spaces around it", () => "  basketball  ", /most common passwords/],
  ["the username", (u) => u, /username/],
  ["the username inside, in capitals", (u) => `My name is ${u.toUpperCase()}!`, /username/],
  ["one character repeated", () => "zzzzzzzzzzzz", /repeated/],
];

describe("password policy", () => {
  for (const [what, password, message] of RULES) {
    it(`an admin cannot create an account with ${what}`, async () => {
      const username = freshName("weakpw");
      const r = await createUser(username, password(username));
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("weak_password");
      expect(r.body.error.message).toMatch(message);
      await expectNoAccount(username, password(username));
    });
  }

  it("accepts long passphrases, a Chinese one counted in characters (not bytes)", async () => {
    for (const password of ["correct horse battery", "我的密码是一句很长的话"]) {
      const username = freshName("goodpw");
      expect((await createUser(username, password)).status).toBe(201);
      expect((await login(username, password)).status).toBe(200);
    }
    // Nine Chinese characters are 27 bytes but still nine characters.
    const short = await createUser(freshName("shortzh"), "一二三四五六七八九");
    expect(short.status).toBe(400);
    expect(short.body.error.code).toBe("weak_password");
  });

  it("a password change to a weak password is refused and changes nothing", async () => {
    const u = await newUser("weakchange");
    const other = await newSession(u);
    for (const newPassword of ["12345678", "1234567890", `${u.username}-2024`]) {
      const r = await api("POST", "/api/v1/me/password", { token: u.token, body: { currentPassword: u.password, newPassword } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("weak_password");
      expect((await login(u.username, newPassword, freshIp())).status).toBe(401);
    }
    // The old password still works and no session was ended.
    expect((await api("GET", "/api/v1/me", { token: other })).status).toBe(200);
    expect((await login(u.username, u.password)).status).toBe(200);
  });

  it("first-run setup refuses a weak password before anything else", async () => {
    const r = await api("POST", "/api/v1/setup", { body: { token: "test-setup-token-0123456789", username: freshName("setup"), password: "1234567890" } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("weak_password");
    const named = await api("POST", "/api/v1/setup", { body: { token: "test-setup-token-0123456789", username: "boss", password: "i am the boss here" } });
    expect(named.status).toBe(400);
    expect(named.body.error.code).toBe("weak_password");
    expect(named.body.error.message).toMatch(/username/);
  });
});
