/**
 * The SDK keeps the device token a sign-in returns and sends it with its next
 * login (X-Outpost-Device), against a real node: while someone else is
 * guessing an account's password, the account's own client still signs in; a
 * client that never signed in is refused like any guesser; a bot that saved
 * its token across a restart gets the same treatment as before it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutpostApiError, OutpostClient } from "../../sdk/index";
import type { OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { api, ok } from "./client";
import { recordFigures } from "../figures";

const BOT_PASSWORD = "answers questions all day";
let node: OutpostNode;

beforeAll(async () => {
  let admin: string;
  ({ node, admin } = await withNode());
  await ok(201, node.url, "POST", "/api/v1/users", { token: admin, body: { username: "helpdesk", password: BOT_PASSWORD, displayName: "Helpdesk" } });
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("SDK device token", () => {
  it("keeps the token from a sign-in and signs in with it while the account is locked for everyone else", async () => {
    const bot = new OutpostClient({ baseUrl: node.url });
    expect(bot.deviceToken).toBeNull();
    const first = await bot.login("helpdesk", BOT_PASSWORD);
    expect(first.deviceToken).toMatch(/^od1\./);
    expect(bot.deviceToken).toBe(first.deviceToken);

    // Someone guesses: the username is locked for unknown devices.
    for (let i = 0; i < 6; i++) {
      const r = await api(node.url, "POST", "/api/v1/auth/login", { body: { username: "helpdesk", password: `guess ${i} of many` } });
      expect(r.status).toBe(i < 5 ? 401 : 429);
    }

    // The bot's client sends its token and gets in.
    const again = await bot.login("helpdesk", BOT_PASSWORD);
    expect(again.user.username).toBe("helpdesk");

    // A client that never signed in is refused with the right password.
    const stranger = new OutpostClient({ baseUrl: node.url });
    const refused = await stranger.login("helpdesk", BOT_PASSWORD).catch((e) => e);
    expect(refused).toBeInstanceOf(OutpostApiError);
    expect(refused.status).toBe(429);
    expect(refused.code).toBe("rate_limited");

    // After a restart the bot passes the token it saved.
    const restarted = new OutpostClient({ baseUrl: node.url, deviceToken: bot.deviceToken });
    expect((await restarted.login("helpdesk", BOT_PASSWORD)).user.username).toBe("helpdesk");
    recordFigures("lockout", {
      "wrong passwords from strangers before the account locked for unknown devices": 5,
      "right password from a device that signed in before, during the lockout": "200 (signed in)",
      "right password from a device never seen, during the lockout": `${refused.status} ${refused.code}`,
      "right password with the saved device token after a client restart": "200 (signed in)",
    });
  }, 60_000);
});
