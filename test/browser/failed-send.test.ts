/**
 * Failed sends (issue 15, item 8): a text over the node's limit (counted in
 * UTF-8 bytes, as the node counts) is stopped before it leaves with a warning;
 * a message the node refuses says why (a translated error code), offers
 * retry / edit / discard, keeps its place (what is sent later is drawn below
 * it) and survives a reload.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { openBrowser, signIn, type UserBrowser } from "./browser";
import type { TestUser } from "../e2e/client";

let t: TestNode;
let ann: TestUser;
let alice: UserBrowser;

beforeAll(async () => {
  t = await withNode();
  ann = await t.user("ann");
  await t.room(ann.token, "Ops");
  alice = await openBrowser(t.node.url);
  await signIn(alice.page, "ann", ann.password);
  await alice.page.locator("button.room", { hasText: "Ops" }).click();
}, 120_000);

afterAll(async () => {
  await alice?.close();
  await t?.stop();
});

const box = () => alice.page.getByRole("textbox", { name: "Message" });
async function send(text: string) {
  await box().fill(text);
  await box().press("Enter");
}
const top = async (selector: string) => (await alice.page.locator(selector).boundingBox())!.y;

describe("failed sends", () => {
  it("6,000 × 长 (18,000 bytes) is stopped before sending, with the byte count", async () => {
    await box().fill("长".repeat(6000));
    const warning = alice.page.locator('[data-testid="text-limit"]');
    await expect.poll(() => warning.textContent()).toBe("Too long to send: 18,000 of 16,384 bytes. Shorten it, or send it as a file.");
    expect(await alice.page.getByRole("button", { name: "Send" }).isDisabled()).toBe(true);
    await box().press("Enter");
    await new Promise((r) => setTimeout(r, 300));
    expect(await alice.page.locator('[data-testid="pending"], [data-testid="failed"]').count()).toBe(0);
    expect(await box().inputValue()).toHaveLength(6000); // nothing lost
    // 5,461 × 长 = 16,383 bytes plus "ab" = 16,385: one over, as the node counts.
    await box().fill("长".repeat(5461) + "ab");
    await expect.poll(() => warning.textContent()).toContain("16,385 of 16,384");
    await box().fill("长".repeat(5461) + "a");
    await expect.poll(() => warning.getAttribute("class")).not.toContain("error");
    await box().fill("");
  });

  it("a refused message says why, keeps its place and survives a reload; discard and edit", async () => {
    const page = alice.page;
    await send("first, delivered");
    await page.locator(".msg .md", { hasText: "first, delivered" }).waitFor();
    await send("bell \u0007 in the text"); // the node refuses control characters
    const failed = page.locator('[data-testid="failed"]');
    await failed.waitFor({ timeout: 10000 });
    expect(await failed.locator(".meta").textContent()).toBe("Not sent: Some of what you entered is not valid.");
    await send("written after it");
    const after = page.locator("article.msg", { hasText: "written after it" });
    await after.waitFor();
    expect(await top('[data-testid="failed"]')).toBeLessThan(await top('article.msg:has-text("written after it")'));
    expect(await top('article.msg:has-text("first, delivered")')).toBeLessThan(await top('[data-testid="failed"]'));

    await page.reload();
    await failed.waitFor({ timeout: 10000 });
    await after.waitFor();
    expect(await failed.locator(".meta").textContent()).toBe("Not sent: Some of what you entered is not valid.");
    expect(await failed.textContent()).toContain("bell");
    expect(await top('[data-testid="failed"]')).toBeLessThan(await top('article.msg:has-text("written after it")'));

    // Edit: the text goes back to the composer, the failed row goes away.
    await failed.getByRole("button", { name: "Edit" }).click();
    await expect.poll(() => box().inputValue()).toBe("bell \u0007 in the text");
    expect(await failed.count()).toBe(0);
    // Send it again (refused again), then discard it: gone, also after a reload.
    await box().press("Enter");
    await failed.waitFor({ timeout: 10000 });
    await failed.getByRole("button", { name: "Discard" }).click();
    expect(await failed.count()).toBe(0);
    await page.reload();
    await after.waitFor({ timeout: 10000 });
    expect(await failed.count()).toBe(0);
  });

  it("retry sends it again", async () => {
    await send("ring \u0007 again");
    const failed = alice.page.locator('[data-testid="failed"]');
    await failed.waitFor({ timeout: 10000 });
    await failed.getByRole("button", { name: "Retry" }).click();
    // Refused again (the text still has the bell), and still exactly one row for it.
    await expect.poll(() => failed.count(), { timeout: 10000 }).toBe(1);
    expect(await failed.textContent()).toContain("ring");
  });
});
