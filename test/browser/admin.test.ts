/**
 * People administration in real Chromium, each person in their own browser
 * profile: the admin adds a colleague with an invite link, and the colleague
 * opens it in another browser, chooses a password (the policy's message shows
 * in their language) and is signed in; the admin adds one with a password who
 * signs in elsewhere; the admin deactivates a signed-in colleague, whose open
 * page is signed out at once; the last admin cannot remove their own flag.
 * English on a desktop, Chinese on a 390 px phone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, OpenBrowsers, openBrowser, signIn } from "./browser";

const ADMIN_PASSWORD = "operator-passphrase-123";
const PHONE = { width: 390, height: 844 };
let node: OutpostNode;
let adminToken: string;
const browsers = new OpenBrowsers();

beforeAll(async () => {
  node = await startNode({ adminPassword: ADMIN_PASSWORD });
  adminToken = await loginAs(node.url, "admin", ADMIN_PASSWORD);
}, 120_000);

afterAll(async () => {
  await browsers.closeAll();
  await node?.stop();
});

const browser = (options: Parameters<typeof openBrowser>[1] = {}) => browsers.open(node.url, options);

const CASES = [
  { locale: "en-US", viewport: undefined, people: "People", add: "Add person", invite: "Create an invite link", withPassword: "Set a password now", create: "Create", choose: "Choose password and sign in", common: /too easy to guess/, used: /already used/, deactivate: "Deactivate", signedOut: /You were signed out/, lastAdmin: /last active administrator/, removeAdmin: "Remove admin", manage: "Manage" },
  { locale: "zh-CN", viewport: PHONE, people: "成员管理", add: "添加用户", invite: "生成邀请链接", withPassword: "现在设置密码", create: "创建", choose: "设置密码并登录", common: /太容易被猜到/, used: /已被使用/, deactivate: "停用", signedOut: /你已退出登录/, lastAdmin: /最后一位有效的管理员/, removeAdmin: "取消管理员", manage: "管理" },
];

describe("web client: people administration", () => {
  for (const c of CASES) {
    const tag = c.locale === "en-US" ? "en" : "zh";
    it(`an admin invites a colleague, who sets a password in another browser and is signed in (${c.locale})`, async () => {
      const admin = await browser({ locale: c.locale, viewport: c.viewport });
      await signIn(admin.page, "admin", ADMIN_PASSWORD);
      await admin.page.getByRole("button", { name: c.people, exact: true }).click();
      const panel = admin.page.getByTestId("people-panel");
      await panel.waitFor();
      await panel.getByRole("button", { name: c.add }).click();
      await panel.locator('input[name="newUsername"]').fill(`mei${tag}`);
      await panel.locator('input[name="newDisplayName"]').fill("陈梅");
      await panel.getByLabel(c.invite).check();
      await panel.getByRole("button", { name: c.create, exact: true }).click();
      const link = await panel.getByTestId("invite-link").locator("input").inputValue();
      expect(link).toMatch(new RegExp(`^${node.url}/invite/[A-Za-z0-9_-]{43}$`));
      await expect.poll(() => panel.locator(`li.account[data-username="mei${tag}"]`).count()).toBe(1);

      const mei = await browser({ locale: c.locale, viewport: c.viewport });
      await mei.page.goto(link.slice(node.url.length));
      await mei.page.getByText(`mei${tag}`).first().waitFor();
      await mei.page.locator('input[name="password"]').fill("qwertyuiop");
      await mei.page.getByRole("button", { name: c.choose }).click();
      await expect.poll(() => mei.page.getByRole("alert").textContent()).toMatch(c.common);
      await mei.page.locator('input[name="password"]').fill("plum blossoms in spring");
      await mei.page.getByRole("button", { name: c.choose }).click();
      await mei.page.locator("nav.sidebar").waitFor({ timeout: 15_000 });
      expect(await mei.page.locator(".me").textContent()).toBe("陈梅");
      expect(new URL(mei.page.url()).pathname).toBe("/");
      // The same link in a third browser: used up.
      const other = await browser({ locale: c.locale });
      await other.page.goto(link.slice(node.url.length));
      await expect.poll(() => other.page.getByRole("alert").textContent()).toMatch(c.used);
      expect([...admin.pageErrors, ...mei.pageErrors, ...other.pageErrors]).toEqual([]);
    }, 120_000);

    it(`an admin deactivates a signed-in colleague, whose open page is signed out (${c.locale})`, async () => {
      const admin = await browser({ locale: c.locale, viewport: c.viewport });
      await signIn(admin.page, "admin", ADMIN_PASSWORD);
      // Added with a password in the admin's browser; signs in in their own.
      await admin.page.getByRole("button", { name: c.people, exact: true }).click();
      const panel = admin.page.getByTestId("people-panel");
      await panel.getByRole("button", { name: c.add }).click();
      await panel.locator('input[name="newUsername"]').fill(`tao${tag}`);
      await panel.locator('input[name="newDisplayName"]').fill("Tao Wu 吴涛");
      await panel.getByLabel(c.withPassword).check();
      await panel.locator('input[name="newPassword"]').fill("river stones at dawn");
      await panel.getByRole("button", { name: c.create, exact: true }).click();
      const row = panel.locator(`li.account[data-username="tao${tag}"]`);
      await row.waitFor();

      const tao = await browser({ locale: c.locale, viewport: c.viewport });
      await signIn(tao.page, `tao${tag}`, "river stones at dawn");
      // The admin sees the colleague's session, then deactivates them.
      await expect.poll(() => row.locator(".session").count(), { timeout: 10_000 }).toBe(1);
      await row.getByRole("button", { name: c.deactivate, exact: true }).click();
      await tao.page.getByTestId("signed-out-notice").waitFor({ timeout: 10_000 });
      expect(await tao.page.getByTestId("signed-out-notice").textContent()).toMatch(c.signedOut);
      expect(await tao.page.locator("nav.sidebar").count()).toBe(0);
      await expect.poll(() => row.locator(".tag.warn").count()).toBe(1);
      expect([...admin.pageErrors, ...tao.pageErrors]).toEqual([]);
    }, 120_000);
  }

  it("the last administrator cannot remove their own flag; the screen says why", async () => {
    const admin = await browser();
    await signIn(admin.page, "admin", ADMIN_PASSWORD);
    await admin.page.getByRole("button", { name: "People", exact: true }).click();
    const panel = admin.page.getByTestId("people-panel");
    await panel.locator('input[name="accountSearch"]').fill("admin");
    const row = panel.locator('li.account[data-username="admin"]');
    await row.getByRole("button", { name: /Manage/ }).click();
    await row.getByRole("button", { name: "Remove admin" }).click();
    await expect.poll(() => row.getByRole("alert").textContent()).toMatch(/last active administrator/);
    const me = await fetch(`${node.url}/api/v1/me`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(((await me.json()) as { isAdmin: boolean }).isAdmin).toBe(true);
  }, 60_000);

  it("someone who is not an administrator has no People button", async () => {
    await createUser(node.url, adminToken, { username: "plainuser", password: "just a plain passphrase", displayName: "Plain" });
    const b = await browser();
    await signIn(b.page, "plainuser", "just a plain passphrase");
    await b.page.getByRole("button", { name: "Browse rooms" }).waitFor();
    expect(await b.page.getByRole("button", { name: "People", exact: true }).count()).toBe(0);
  }, 60_000);
});
