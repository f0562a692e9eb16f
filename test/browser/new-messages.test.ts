/**
 * "New messages ↓" (issue 15, item 6), two people in two Chromium profiles:
 * while Ann reads older messages, what Bob sends is counted on a button
 * instead of yanking her view down; the button takes her to the end; the
 * room she has open never shows an unread badge in the list.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { openBrowser, rest, signIn, type UserBrowser } from "./browser";
import type { TestUser } from "../e2e/client";

let t: TestNode;
let ann: TestUser;
let bob: TestUser;
let annB: UserBrowser;
let bobB: UserBrowser;

beforeAll(async () => {
  t = await withNode();
  ann = await t.user("ann");
  bob = await t.user("bob");
  const room = await t.room(bob.token, "Ops", [ann.id]);
  for (let i = 1; i <= 60; i++) await rest(t.node.url, bob.token, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text: `earlier line ${i}`, clientId: `nm-${i}` });
  annB = await openBrowser(t.node.url);
  bobB = await openBrowser(t.node.url);
  await signIn(annB.page, "ann", ann.password);
  await signIn(bobB.page, "bob", bob.password);
  await annB.page.locator("button.room", { hasText: "Ops" }).click();
  await bobB.page.locator("button.room", { hasText: "Ops" }).click();
  await annB.page.locator(".msg .md", { hasText: "earlier line 60" }).waitFor();
}, 120_000);

afterAll(async () => {
  await annB?.close();
  await bobB?.close();
  await t?.stop();
});

async function bobSays(text: string) {
  const box = bobB.page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}
const annRoom = () => annB.page.locator("button.room", { hasText: "Ops" });

describe("new messages while scrolled up", () => {
  it("at the end: new messages show, no button, no badge on the open room", async () => {
    await bobSays("live one");
    await annB.page.locator(".msg .md", { hasText: "live one" }).waitFor({ timeout: 10000 });
    await new Promise((r) => setTimeout(r, 1500)); // the inbox summary arrives within the coalescing interval
    expect(await annB.page.locator('[data-testid="new-messages"]').count()).toBe(0);
    expect(await annRoom().locator('[data-testid="unread-badge"]').count()).toBe(0);
  });

  it("scrolled up: a count on 'new messages ↓', the view stays, the button goes to the end", async () => {
    const list = annB.page.locator('[data-testid="message-list"]');
    await list.evaluate((el) => (el.scrollTop = 0));
    await annB.page.waitForTimeout(300);
    const before = await list.evaluate((el) => el.scrollTop);
    await bobSays("new A");
    await bobSays("new B");
    await bobSays("new C");
    const button = annB.page.locator('[data-testid="new-messages"]');
    await expect.poll(() => button.textContent(), { timeout: 10000 }).toBe("3 new messages ↓");
    expect(await list.evaluate((el) => el.scrollTop)).toBeLessThan(before + 400); // not pulled down
    await new Promise((r) => setTimeout(r, 1500));
    expect(await annRoom().locator('[data-testid="unread-badge"]').count()).toBe(0);
    await button.click();
    await annB.page.locator(".msg .md", { hasText: "new C" }).waitFor();
    await expect.poll(() => list.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 8)).toBe(true);
    await expect.poll(() => button.count()).toBe(0);
  });
});
