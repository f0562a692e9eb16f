/**
 * A 390 px phone (issue 15, item 10): the message actions never cover the next
 * message — a tap (or a long press) opens them inside the row, which pushes
 * the rows below down — and no blank gap is left between messages when the
 * menu closes again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { withNode, type TestNode } from "../fixtures";
import { openBrowser, rest, signIn, type UserBrowser } from "./browser";
import type { TestUser } from "../e2e/client";

let t: TestNode;
let ann: TestUser;
let phone: UserBrowser;

beforeAll(async () => {
  t = await withNode();
  ann = await t.user("ann");
  const bob = await t.user("bob");
  const room = await t.room(bob.token, "Ops", [ann.id]);
  for (let i = 1; i <= 12; i++) await rest(t.node.url, i % 2 ? bob.token : ann.token, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text: i === 6 ? "a longer message that wraps over a few lines on a phone screen, to vary the heights" : `line ${i}`, clientId: `ph-${i}` });
  phone = await openBrowser(t.node.url, { viewport: { width: 390, height: 800 } });
  await signIn(phone.page, "ann", ann.password);
  await phone.page.locator("button.room", { hasText: "Ops" }).click();
  await phone.page.locator(".msg .md", { hasText: "line 12" }).waitFor();
}, 120_000);

afterAll(async () => {
  await phone?.close();
  await t?.stop();
});

/** Vertical gaps and overlaps between consecutive message rows on screen (px). */
async function spacing(page: Page): Promise<{ gaps: number[]; overlaps: number[] }> {
  return page.evaluate(() => {
    const boxes = [...document.querySelectorAll("article.msg")].map((el) => el.getBoundingClientRect()).sort((a, b) => a.top - b.top);
    const gaps: number[] = [];
    const overlaps: number[] = [];
    for (let i = 1; i < boxes.length; i++) {
      const d = boxes[i].top - boxes[i - 1].bottom;
      if (d < -1) overlaps.push(-d);
      if (d > 12) gaps.push(d); // rows are 6 px apart (margins); a day line or divider is not between articles here
    }
    return { gaps, overlaps };
  });
}

describe("phone", () => {
  it("hovering shows no floating bar; a tap opens the actions inside the row, pushing the next message down", async () => {
    const page = phone.page;
    const msg = page.locator("article.msg", { hasText: "line 8" });
    await msg.hover();
    await page.waitForTimeout(200);
    expect(await spacing(page)).toEqual({ gaps: [], overlaps: [] });
    await msg.locator(".md").click();
    const bar = msg.getByRole("toolbar");
    await bar.waitFor();
    const barBox = (await bar.boundingBox())!;
    const rowBox = (await msg.boundingBox())!;
    expect(barBox.y + barBox.height).toBeLessThanOrEqual(rowBox.y + rowBox.height + 1);
    await expect.poll(() => spacing(page)).toEqual({ gaps: [], overlaps: [] });
    // The actions are big enough to hit with a finger.
    const reply = (await bar.getByRole("button", { name: "Reply" }).boundingBox())!;
    expect(reply.height).toBeGreaterThanOrEqual(40);
  });

  it("a long press (context menu) opens them too; closing leaves no gap", async () => {
    const page = phone.page;
    const msg = page.locator("article.msg", { hasText: "wraps over" });
    await msg.locator(".md").click({ button: "right" });
    await msg.getByRole("toolbar").waitFor();
    expect(await page.locator("article.msg.selected").count()).toBe(1); // the other one closed
    await expect.poll(() => spacing(page)).toEqual({ gaps: [], overlaps: [] });
    await msg.locator(".md").click();
    await expect.poll(() => page.locator("article.msg.selected").count()).toBe(0);
    await expect.poll(() => spacing(page)).toEqual({ gaps: [], overlaps: [] });
  });
});
