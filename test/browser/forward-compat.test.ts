/**
 * The web client against a newer node: between the page and a real node, every
 * JSON object the node sends (REST answers and both sockets' frames) gains a
 * field this client has never heard of, and every frame is preceded by a frame
 * of an unknown type. The client must keep rendering history, live messages and
 * its own sends. (When clients parsed strictly, one added field on `Message`
 * made every message vanish from every open tab.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

let node: OutpostNode;
let viewer: UserBrowser;

beforeAll(async () => {
  node = await startNode({ adminPassword: "operator-passphrase-123" });
}, 120_000);
afterAll(async () => {
  await viewer?.close();
  await node?.stop();
});

/** The value with an unknown field in every object, at every depth. */
function withExtras(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withExtras);
  if (value && typeof value === "object") return { ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withExtras(v)])), addedByANewerNode: { since: "2.0" } };
  return value;
}

describe("web client and a newer node", () => {
  it("renders history, live messages and its own sends when every object has an added field and unknown frames arrive", async () => {
    const admin = await loginAs(node.url, "admin", "operator-passphrase-123");
    const me = await createUser(node.url, admin, { username: "reader", password: "pages turning slowly", displayName: "Reader" });
    const room = await rest(node.url, admin, "POST", "/rooms", { name: "Upgrades", visibility: "private", members: [me.id] });
    const messages = `/rooms/${encodeURIComponent(room.id)}/messages`;
    await rest(node.url, admin, "POST", messages, { text: "from before the upgrade", clientId: "old-1" });

    viewer = await openBrowser(node.url);
    const page = viewer.page;
    const seen = { rest: 0, frames: 0 };
    await page.route("**/api/v1/**", async (route) => {
      const res = await route.fetch();
      if (!res.ok() || !(res.headers()["content-type"] ?? "").startsWith("application/json")) return route.fulfill({ response: res });
      seen.rest++;
      return route.fulfill({ response: res, json: withExtras(await res.json()) });
    });
    await page.routeWebSocket(/\/api\/v1\/(rooms\/[^/]+\/)?socket/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => {
        if (typeof frame !== "string") return ws.send(frame);
        seen.frames++;
        ws.send(JSON.stringify({ type: "upgrade.notice", addedByANewerNode: true }));
        ws.send(JSON.stringify(withExtras(JSON.parse(frame))));
      });
    });

    await signIn(page, "reader", "pages turning slowly");
    const item = page.locator(`button.room[data-room-id="${room.id}"]`);
    await item.waitFor({ timeout: 15000 });
    await item.click();
    // History (REST).
    await page.locator("article.msg .md", { hasText: "from before the upgrade" }).waitFor({ timeout: 15000 });
    // A live message (room socket `msg.new`).
    await rest(node.url, admin, "POST", messages, { text: "sent while you watch", clientId: "live-1" });
    await page.locator("article.msg .md", { hasText: "sent while you watch" }).waitFor({ timeout: 15000 });
    // The reader's own send (`msg.ack` and its echo), stored once.
    const box = page.getByRole("textbox", { name: "Message" });
    await box.fill("a reply from the older client");
    await box.press("Enter");
    await page.locator("article.msg .md", { hasText: "a reply from the older client" }).waitFor({ timeout: 15000 });
    await expect.poll(async () => (await rest(node.url, admin, "GET", `${messages}?limit=10`)).messages.length, { timeout: 10000 }).toBe(3);
    expect(await page.locator("article.msg .md", { hasText: "a reply from the older client" }).count()).toBe(1);

    // The newer node really was in between.
    expect(seen.rest).toBeGreaterThan(0);
    expect(seen.frames).toBeGreaterThan(0);
    expect(viewer.pageErrors).toEqual([]);
  });
});
