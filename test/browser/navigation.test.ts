/**
 * Navigation (issue 15, item 7): Back and Forward move between rooms inside
 * the app; `/r/<room>` and `/r/<room>/m/<message>` work after a reload, the
 * message one scrolled to and highlighted with the history around it loaded
 * (far back, so it is not on the first page).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { openBrowser, rest, signIn, type UserBrowser } from "./browser";
import type { TestUser } from "../e2e/client";

let t: TestNode;
let ann: TestUser;
let alice: UserBrowser;
let ops: { id: string };
let lunch: { id: string };
let old: { id: string; seq: number };

beforeAll(async () => {
  t = await withNode();
  ann = await t.user("ann");
  ops = await t.room(ann.token, "Ops");
  lunch = await t.room(ann.token, "Lunch");
  const post = (room: string, text: string, i: number) => rest(t.node.url, ann.token, "POST", `/rooms/${encodeURIComponent(room)}/messages`, { text, clientId: `nav-${room.slice(2, 8)}-${i}` });
  old = (await post(ops.id, "the very old decision", 0)) as { id: string; seq: number };
  for (let i = 1; i <= 130; i++) await post(ops.id, `ops line ${i}`, i);
  await post(lunch.id, "noodles?", 0);
  alice = await openBrowser(t.node.url);
  await signIn(alice.page, "ann", ann.password);
}, 120_000);

afterAll(async () => {
  await alice?.close();
  await t?.stop();
});

const title = () => alice.page.locator(".chat-title").textContent();

describe("navigation", () => {
  it("Back and Forward move between rooms, not out of the app", async () => {
    const page = alice.page;
    await page.locator("button.room", { hasText: "Ops" }).click();
    await expect.poll(title).toBe("Ops");
    expect(new URL(page.url()).pathname).toBe(`/r/${encodeURIComponent(ops.id)}`);
    await page.locator("button.room", { hasText: "Lunch" }).click();
    await expect.poll(title).toBe("Lunch");
    await page.goBack();
    await expect.poll(title).toBe("Ops");
    expect(new URL(page.url()).pathname).toBe(`/r/${encodeURIComponent(ops.id)}`);
    await page.goForward();
    await expect.poll(title).toBe("Lunch");
    await page.goBack();
    await page.goBack();
    // The first entry: the app with no room open, still signed in.
    await expect.poll(() => page.locator(".chat-title").count()).toBe(0);
    expect(await page.locator("nav.sidebar").isVisible()).toBe(true);
  });

  it("/r/<room> opens the room after a reload", async () => {
    await alice.page.goto(`/r/${encodeURIComponent(lunch.id)}`);
    await expect.poll(title, { timeout: 10000 }).toBe("Lunch");
    await alice.page.reload();
    await expect.poll(title, { timeout: 10000 }).toBe("Lunch");
    await alice.page.locator(".msg .md", { hasText: "noodles?" }).waitFor();
  });

  it("/r/<room>/m/<message> scrolls to the message far back in history and highlights it", async () => {
    const page = alice.page;
    await page.goto(`/r/${encodeURIComponent(ops.id)}/m/${encodeURIComponent(old.id)}`);
    const target = page.locator(`article.msg[data-id="${old.id}"]`);
    await target.waitFor({ timeout: 10000 });
    await expect.poll(() => target.getAttribute("class")).toContain("highlight");
    // On screen, inside the message list's viewport.
    const list = (await page.locator('[data-testid="message-list"]').boundingBox())!;
    const box = (await target.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(list.y - 1);
    expect(box.y + box.height).toBeLessThanOrEqual(list.y + list.height + 1);
    expect(new URL(page.url()).pathname).toBe(`/r/${encodeURIComponent(ops.id)}/m/${encodeURIComponent(old.id)}`);
  });

  it("a link to a message that does not exist opens the room", async () => {
    await alice.page.goto(`/r/${encodeURIComponent(ops.id)}/m/m_doesnotexist`);
    await expect.poll(title, { timeout: 10000 }).toBe("Ops");
    await expect.poll(() => new URL(alice.page.url()).pathname).toBe(`/r/${encodeURIComponent(ops.id)}`);
  });
});
