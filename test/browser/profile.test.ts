/**
 * "Settings" in real Chromium (issue 15, item 4): the language chosen there
 * follows the person to another browser (kept on the node), read receipts
 * switched off are kept on the node and others no longer see the position,
 * the theme applies at once, and a password change needs the current password
 * and signs out the person's other browser.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

let node: OutpostNode;
let first: UserBrowser;
let roomId = "";
let carolToken = "";
let daveId = "";
const PW = "operator-passphrase-123";
const OLD = "tea at the old bridge";
const NEW = "lanterns over the river";

beforeAll(async () => {
  node = await startNode({ adminPassword: PW });
  const token = await loginAs(node.url, "admin", PW);
  await createUser(node.url, token, { username: "carol", password: "rain on the tin roof", displayName: "Carol" });
  daveId = (await createUser(node.url, token, { username: "dave", password: OLD, displayName: "Dave 戴" })).id;
  carolToken = await loginAs(node.url, "carol", "rain on the tin roof");
  roomId = (await rest(node.url, carolToken, "POST", "/rooms", { name: "Desk", visibility: "private", members: [daveId] })).id;
  await rest(node.url, carolToken, "POST", `/rooms/${roomId}/messages`, { text: "one", clientId: "p1" });
}, 120_000);

afterAll(async () => {
  await first?.close();
  await node?.stop();
});

const openSettings = async (b: UserBrowser, title = "Settings") => {
  await b.page.getByTestId("open-settings").click();
  const dialog = b.page.getByRole("dialog", { name: title });
  await dialog.waitFor({ timeout: 10000 });
  return dialog;
};

describe("your settings", () => {
  it("language chosen in one browser follows the person to another", async () => {
    first = await openBrowser(node.url);
    await signIn(first.page, "dave", OLD);
    const dialog = await openSettings(first);
    await dialog.locator('select[name="language"]').selectOption("zh-CN");
    await first.page.getByRole("dialog", { name: "设置" }).waitFor();
    await expect.poll(async () => (await rest(node.url, await loginAs(node.url, "dave", OLD), "GET", "/me/settings")).language).toBe("zh");
    const second = await openBrowser(node.url, { locale: "en-US" });
    try {
      await signIn(second.page, "dave", OLD);
      await expect.poll(() => second.page.getByTestId("open-settings").textContent(), { timeout: 5000 }).toBe("设置");
    } finally {
      await second.close();
    }
    await first.page.getByRole("dialog", { name: "设置" }).locator('select[name="language"]').selectOption("en");
  });

  it("read receipts off: kept on the node, and the others no longer get the position", async () => {
    const dialog = first.page.getByRole("dialog", { name: "Settings" });
    const box = dialog.getByRole("checkbox", { name: /Send read receipts/ });
    await expect.poll(() => box.isEnabled()).toBe(true);
    expect(await box.isChecked()).toBe(true);
    await box.uncheck();
    await expect.poll(async () => (await rest(node.url, await loginAs(node.url, "dave", OLD), "GET", "/me/settings")).sendReceipts).toBe(false);
    await dialog.getByRole("button", { name: "Close" }).click();
    await first.page.locator(`button.room[data-room-id="${roomId}"]`).click();
    await first.page.locator(".msg .md", { hasText: "one" }).waitFor();
    // Dave has read the room, but Carol sees no receipt of his.
    await new Promise((r) => setTimeout(r, 1500));
    const receipts = (await rest(node.url, carolToken, "GET", `/rooms/${roomId}/receipts`)).receipts as { userId: string }[];
    expect(receipts.map((r) => r.userId)).not.toContain(daveId);
    // The switch shows the node's value when the panel opens again.
    const again = await openSettings(first);
    await expect.poll(() => again.getByRole("checkbox", { name: /Send read receipts/ }).isChecked()).toBe(false);
  });

  it("the theme applies at once", async () => {
    const dialog = first.page.getByRole("dialog", { name: "Settings" });
    await dialog.locator('select[name="theme"]').selectOption("dark");
    expect(await first.page.evaluate(() => document.documentElement.classList.contains("dark"))).toBe(true);
    await dialog.locator('select[name="theme"]').selectOption("light");
    expect(await first.page.evaluate(() => document.documentElement.classList.contains("dark"))).toBe(false);
  });

  it("a password change needs the current password and signs out the other browser", async () => {
    const other = await openBrowser(node.url);
    try {
      await signIn(other.page, "dave", OLD);
      const dialog = first.page.getByRole("dialog", { name: "Settings" });
      await dialog.locator('input[name="currentPassword"]').fill("not my password");
      await dialog.locator('input[name="newPassword"]').fill(NEW);
      await dialog.getByRole("button", { name: "Change password" }).click();
      await expect.poll(() => dialog.getByRole("alert").textContent()).toBe("The current password is wrong.");
      await dialog.locator('input[name="currentPassword"]').fill(OLD);
      await dialog.locator('input[name="newPassword"]').fill(NEW);
      await dialog.getByRole("button", { name: "Change password" }).click();
      await expect.poll(() => dialog.getByRole("status").last().textContent()).toContain("Password changed");
      // The other browser is signed out (its sockets close, the next request is a 401) …
      await other.page.reload();
      await other.page.locator('input[name="username"]').waitFor({ timeout: 10000 });
      // … this one is not.
      await first.page.reload();
      await first.page.locator("nav.sidebar").waitFor();
      expect(await loginAs(node.url, "dave", NEW)).toBeTruthy();
    } finally {
      await other.close();
    }
  });
});
