/**
 * First-run setup in the browser with a password the node refuses
 * (`weak_password`): the page says which rule, in the reader's language
 * (English and Simplified Chinese), and no administrator is created.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, type OutpostNode } from "../harness";
import { openBrowser } from "./browser";

let node: OutpostNode;

beforeAll(async () => {
  node = await startNode(); // no admin password: setup happens in the browser
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

const CASES = [
  { locale: "en-US", button: "Create administrator", common: /too easy to guess/, username: /must not be or contain the username/ },
  { locale: "zh-CN", button: "创建管理员", common: /太容易被猜到/, username: /不能包含用户名/ },
];

describe("web client: setup with a weak password", () => {
  for (const c of CASES) {
    it(`says which rule failed (${c.locale}) and creates no administrator`, async () => {
      const b = await openBrowser(node.url, { locale: c.locale });
      try {
        await b.page.goto(`/setup#token=${node.setupToken}`);
        const alert = b.page.getByRole("alert");
        const attempt = async (password: string) => {
          await b.page.locator('input[name="password"]').fill(password);
          await b.page.getByRole("button", { name: c.button }).click();
        };
        await attempt("qwertyuiop"); // ten characters, one of the most common passwords
        await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toMatch(c.common);
        await attempt("admin at the branch"); // the username field says "admin"
        await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toMatch(c.username);
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }
      expect(await (await fetch(`${node.url}/api/v1/setup`)).json()).toEqual({ needed: true });
    }, 60_000);
  }
});
