/**
 * Server errors in people's words (issue 15, item 11): a room named "   " is
 * refused with a sentence in the UI's language under the name field (the node
 * says which field: `field` in its error body), not the node's English zod text.
 * (Every code's sentence in both languages: test/web/error-messages.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { OpenBrowsers, signIn } from "./browser";
import type { TestUser } from "../e2e/client";

let t: TestNode;
let ann: TestUser;
const browsers = new OpenBrowsers();

beforeAll(async () => {
  t = await withNode();
  ann = await t.user("ann");
}, 120_000);

afterAll(async () => {
  await browsers.closeAll();
  await t?.stop();
});

describe("validation errors", () => {
  it("the node names the field at fault", async () => {
    const res = await fetch(`${t.node.url}/api/v1/rooms`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ann.token}` }, body: JSON.stringify({ name: "   ", visibility: "private", members: [] }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; field?: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.field).toBe("name");
  });

  for (const [locale, button, expected] of [
    ["en-US", "New room", "The room needs a name."],
    ["zh-CN", "新建聊天室", "聊天室需要一个名称。"],
  ] as const) {
    it(`a blank room name is pointed at, in ${locale}`, async () => {
      const b = await browsers.open(t.node.url, { locale });
      await signIn(b.page, "ann", ann.password);
      await b.page.getByRole("button", { name: button }).click();
      const input = b.page.locator('input[name="roomName"]');
      await input.fill("   ");
      await input.press("Enter");
      const note = b.page.locator("#error-roomName");
      await expect.poll(() => note.textContent(), { timeout: 10000 }).toBe(expected);
      expect(await input.getAttribute("aria-invalid")).toBe("true");
      expect(await input.getAttribute("aria-describedby")).toContain("error-roomName");
      expect(await b.page.locator(".modal").textContent()).not.toMatch(/Too small|expected string/);
    });
  }
});
