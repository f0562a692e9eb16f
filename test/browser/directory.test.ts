/**
 * Room discovery in real Chromium: a person finds public rooms they are not in
 * (searching in Chinese and in English, with member counts), joins one with
 * one click and lands in it; a member who has that room open in another
 * browser sees the newcomer join; rooms one is in say "Open"; private rooms
 * never show. English on a desktop, Chinese on a 390 px phone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, OpenBrowsers, openBrowser, rest, signIn } from "./browser";

const ADMIN_PASSWORD = "operator-passphrase-123";
const PASSWORD = "a long enough passphrase";
let node: OutpostNode;
const browsers = new OpenBrowsers();
let ownerToken: string;
let shanghai: { id: string };

beforeAll(async () => {
  node = await startNode({ adminPassword: ADMIN_PASSWORD });
  const admin = await loginAs(node.url, "admin", ADMIN_PASSWORD);
  for (const [u, name] of [["owner", "Owner 王"], ["newbie", "Newbie 新"], ["newbie2", "Newbie Two"]]) await createUser(node.url, admin, { username: u, password: PASSWORD, displayName: name });
  ownerToken = await loginAs(node.url, "owner", PASSWORD);
  shanghai = (await rest(node.url, ownerToken, "POST", "/rooms", { name: "上海分行 Shanghai branch", visibility: "public" })) as { id: string };
  await rest(node.url, ownerToken, "POST", "/rooms", { name: "IT helpdesk", visibility: "public" });
  await rest(node.url, ownerToken, "POST", "/rooms", { name: "上海 secret board", visibility: "private" });
}, 120_000);

afterAll(async () => {
  await browsers.closeAll();
  await node?.stop();
});

const browser = (options: Parameters<typeof openBrowser>[1] = {}) => browsers.open(node.url, options);

const CASES = [
  { who: "newbie", locale: "en-US", viewport: undefined, browse: "Browse rooms", search: "Search public rooms", join: "Join", open: "Open", members: (n: number) => (n === 1 ? "1 member" : `${n} members`), membersButton: /Members \((\d+)\)/ },
  { who: "newbie2", locale: "zh-CN", viewport: { width: 390, height: 844 }, browse: "浏览聊天室", search: "搜索公开聊天室", join: "加入", open: "打开", members: (n: number) => `${n} 位成员`, membersButton: /成员 \((\d+)\)/ },
];

describe("web client: browse and join public rooms", () => {
  for (const c of CASES) {
    it(`finds a public room by a Chinese or English word, joins with one click, and a member sees it (${c.locale})`, async () => {
      // The owner has the room open in their own browser.
      const owner = await browser({ locale: c.locale });
      await signIn(owner.page, "owner", PASSWORD);
      await owner.page.locator(`button.room[data-room-id="${shanghai.id}"]`).click();
      const membersButton = owner.page.locator(".chat-head button.link");
      await expect.poll(async () => c.membersButton.exec((await membersButton.textContent()) ?? "")?.[1]).toBeDefined();
      const before = Number(c.membersButton.exec((await membersButton.textContent()) ?? "")![1]);

      const me = await browser({ locale: c.locale, viewport: c.viewport });
      await signIn(me.page, c.who, PASSWORD);
      await me.page.getByRole("button", { name: c.browse }).click();
      const panel = me.page.getByTestId("directory-panel");
      const rows = panel.locator("li.public-room");
      await expect.poll(() => rows.count()).toBe(2);
      // Chinese: finds the public room, never the private one with the same word.
      await panel.getByRole("searchbox", { name: c.search }).fill("上海");
      await expect.poll(async () => (await rows.allTextContents()).join("|")).toMatch(/^[^|]*上海分行 Shanghai branch[^|]*$/);
      // English, any case.
      await panel.getByRole("searchbox", { name: c.search }).fill("SHANGHAI");
      await expect.poll(() => rows.count()).toBe(1);
      const row = panel.locator(`li.public-room[data-room-id="${shanghai.id}"]`);
      expect(await row.textContent()).toContain(c.members(before));
      await row.getByRole("button", { name: new RegExp(`^${c.join} `) }).click();

      // In the room at once, and in the room list.
      await me.page.locator(".chat-head .chat-title", { hasText: "上海分行" }).waitFor({ timeout: 10_000 });
      await me.page.getByRole("textbox").first().waitFor();
      // The owner, in their own browser, sees the newcomer arrive.
      await expect.poll(async () => Number(c.membersButton.exec((await membersButton.textContent()) ?? "")?.[1]), { timeout: 10_000 }).toBe(before + 1);

      // Back in the directory: the joined room now says "Open"; the count moved.
      if (c.viewport) await me.page.locator("button.back").click();
      await me.page.getByRole("button", { name: c.browse }).click();
      await panel.getByRole("searchbox", { name: c.search }).fill("上海");
      await row.getByRole("button", { name: new RegExp(`^${c.open} `) }).waitFor();
      await expect.poll(async () => await row.textContent()).toContain(c.members(before + 1));
      expect([...owner.pageErrors, ...me.pageErrors]).toEqual([]);
    }, 120_000);
  }
});
