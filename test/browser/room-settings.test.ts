/**
 * Room settings in real Chromium (issue 15, item 3), two people in two
 * browsers: the owner renames the room — a name past 80 characters shows a
 * counter and is refused before sending, never cut — and sets a topic; the
 * other member sees both live; the owner makes them an admin; they leave.
 * Then the panel in 中文 on a 390 px phone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

let node: OutpostNode;
let owner: UserBrowser;
let other: UserBrowser;
let roomId = "";
const PW = "operator-passphrase-123";

beforeAll(async () => {
  node = await startNode({ adminPassword: PW });
  const token = await loginAs(node.url, "admin", PW);
  const o = await createUser(node.url, token, { username: "olga", password: "tea at the old bridge", displayName: "Olga 欧" });
  const m = await createUser(node.url, token, { username: "ming", password: "rain on the tin roof", displayName: "明" });
  const oToken = await loginAs(node.url, "olga", "tea at the old bridge");
  roomId = (await rest(node.url, oToken, "POST", "/rooms", { name: "Ops", visibility: "private", members: [m.id] })).id;
  void o;
}, 120_000);

afterAll(async () => {
  await owner?.close();
  await other?.close();
  await node?.stop();
});

describe("room settings", () => {
  it("rename with a counter (never cut), topic, both seen live by the other member", async () => {
    owner = await openBrowser(node.url);
    other = await openBrowser(node.url);
    await signIn(owner.page, "olga", "tea at the old bridge");
    await signIn(other.page, "ming", "rain on the tin roof");
    for (const b of [owner, other]) {
      await b.page.locator(`button.room[data-room-id="${roomId}"]`).click();
      await expect.poll(() => b.page.locator(".chat-title").textContent()).toBe("Ops");
    }
    const p = owner.page;
    await p.getByTestId("open-room-settings").click();
    const dialog = p.getByRole("dialog", { name: "Room settings" });
    await dialog.waitFor({ timeout: 10000 });
    const name = dialog.locator('input[name="roomName"]');
    // 84 characters, one of them an emoji (two UTF-16 units): all of it stays in the field.
    const long = "Q3 运营周报 " + "x".repeat(75) + "🎉";
    await name.fill(long);
    expect(await name.inputValue()).toBe(long);
    const counter = dialog.getByTestId("counter-roomName");
    await expect.poll(() => counter.textContent()).toBe("84/80: too long, remove 4");
    expect(await dialog.getByRole("button", { name: "Save" }).isDisabled()).toBe(true);
    // 63 characters: the counter shows (nearing the limit) and saving is allowed.
    const ok = "Q3 运营周报 " + "x".repeat(54) + "🎉";
    await name.fill(ok);
    await expect.poll(() => counter.textContent()).toBe("63/80");
    await dialog.locator('input[name="topic"]').fill("每周五 16:00 对账");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByText("Saved").waitFor();
    // The other member: title, topic and room list change without a reload.
    await expect.poll(() => other.page.locator(".chat-title").textContent(), { timeout: 5000 }).toBe(ok);
    await expect.poll(() => other.page.getByTestId("room-topic").textContent(), { timeout: 5000 }).toBe("每周五 16:00 对账");
    await expect.poll(() => other.page.locator(`button.room[data-room-id="${roomId}"] .room-name`).textContent(), { timeout: 5000 }).toBe(ok);
  });

  it("the owner makes a member an admin; the member can then rename; a member leaves", async () => {
    const dialog = owner.page.getByRole("dialog", { name: "Room settings" });
    await dialog.getByRole("combobox", { name: "Role of 明" }).selectOption("admin");
    await expect.poll(async () => (await rest(node.url, await loginAs(node.url, "ming", "rain on the tin roof"), "GET", `/rooms/${roomId}`)).room.role).toBe("admin");
    await dialog.getByRole("button", { name: "Close" }).click();

    const p = other.page;
    await p.getByTestId("open-room-settings").click();
    const mine = p.getByRole("dialog", { name: "Room settings" });
    // The member list shows roles, the owner first.
    await expect.poll(() => mine.locator(".member-row").first().textContent()).toContain("owner");
    expect(await mine.locator('input[name="roomName"]').isDisabled()).toBe(false);
    await mine.getByRole("button", { name: "Leave room" }).click();
    await expect.poll(() => p.locator(`button.room[data-room-id="${roomId}"]`).count(), { timeout: 5000 }).toBe(0);
    await expect.poll(() => owner.page.locator(".chat-head").textContent(), { timeout: 5000 }).toContain("(1)");
  });

  it("中文, 390 px phone: the panel fits and the counter speaks Chinese", async () => {
    const phone = await openBrowser(node.url, { locale: "zh-CN", viewport: { width: 390, height: 844 } });
    try {
      await signIn(phone.page, "olga", "tea at the old bridge");
      await phone.page.locator(`button.room[data-room-id="${roomId}"]`).click();
      await phone.page.getByTestId("open-room-settings").click();
      const dialog = phone.page.getByRole("dialog", { name: "聊天室设置" });
      await dialog.locator('input[name="roomName"]').fill("长".repeat(81));
      await expect.poll(() => dialog.getByTestId("counter-roomName").textContent()).toBe("81/80：太长了，请删去 1 个字");
      const box = await dialog.boundingBox();
      expect(box!.width).toBeLessThanOrEqual(390);
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    } finally {
      await phone.close();
    }
  });
});
