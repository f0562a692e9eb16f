/**
 * A branch office in real Chromium: 陈梅 uses the Shanghai node, in a room
 * homed in Beijing. When the WAN link is cut she sees which node is
 * unreachable and that the room shows what arrived before; what she writes
 * waits, shown as waiting for Beijing; when the link returns it is delivered
 * once and shows as sent, and Beijing has it. Her DM partner in Beijing shows
 * online while he is connected there, offline while the link is cut, and
 * online again when it returns. A file
 * she attaches goes to Beijing through the link; she and Beijing download the
 * same bytes.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, wsConnect } from "../harness";
import { startCluster, type TestCluster } from "../cluster/cluster-harness";
import { openBrowser, rest, signIn, type UserBrowser } from "./browser";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
let cluster: TestCluster;
let browser: UserBrowser;
let roomId: string;
let liwei: string;
let dmId: string;

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD });
  const bjAdmin = await loginAs(cluster.nodes.beijing.url, "admin", PASSWORD);
  const shAdmin = await loginAs(cluster.nodes.shanghai.url, "admin", PASSWORD);
  await rest(cluster.nodes.beijing.url, bjAdmin, "POST", "/users", { username: "liwei", password: USER_PASSWORD, displayName: "李伟" });
  const chenmei = await rest(cluster.nodes.shanghai.url, shAdmin, "POST", "/users", { username: "chenmei", password: USER_PASSWORD, displayName: "陈梅" });
  liwei = await loginAs(cluster.nodes.beijing.url, "liwei", USER_PASSWORD);
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`${cluster.nodes.beijing.url}/api/v1/users/${chenmei.id}`, { headers: { authorization: `Bearer ${liwei}` } });
    if (r.status === 200) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  roomId = (await rest(cluster.nodes.beijing.url, liwei, "POST", "/rooms", { name: "季度报表", visibility: "private", members: [chenmei.id] })).id;
  await rest(cluster.nodes.beijing.url, liwei, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "hello", text: "早上好 from Beijing" });
  dmId = (await rest(cluster.nodes.beijing.url, liwei, "POST", "/dms", { userId: chenmei.id })).id;
  browser = await openBrowser(cluster.nodes.shanghai.url, { locale: "zh-CN" });
  await signIn(browser.page, "chenmei", USER_PASSWORD);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

describe("a branch office whose link to head office is cut", () => {
  it("shows the unreachable node, keeps the room readable, queues what she writes and sends it when the link returns", async () => {
    const page = browser.page;
    await page.getByText("季度报表").first().click();
    await page.locator(".msg", { hasText: "早上好 from Beijing" }).first().waitFor();
    // 李伟 connects in Beijing: his dot in her DM list turns green on her Shanghai node.
    const dmDot = (status: string) => page.locator(`[data-room-id="${dmId}"] [data-testid="presence"].${status}`);
    await dmDot("offline").waitFor({ timeout: 20_000 });
    const liweiDevice = await wsConnect(`${cluster.nodes.beijing.wsUrl}/api/v1/socket`, liwei);
    await dmDot("online").waitFor({ timeout: 10_000 });

    await cluster.cut("beijing", "shanghai");
    const banner = page.getByTestId("node-banner");
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.textContent()).toContain("无法连接北京节点");
    await page.getByTestId("room-stale").waitFor();
    expect(await page.getByTestId("room-stale").textContent()).toContain("北京");
    await dmDot("offline").waitFor({ timeout: 10_000 });
    await expect(page.locator(".msg", { hasText: "早上好 from Beijing" }).first().isVisible()).resolves.toBe(true);

    await page.locator("textarea").fill("收到，下午发报表");
    await page.keyboard.press("Enter");
    const waiting = page.getByTestId("pending");
    await waiting.waitFor();
    await page.getByText("等待连接北京节点").waitFor({ timeout: 15_000 });

    await cluster.heal("beijing", "shanghai");
    await waiting.waitFor({ state: "detached", timeout: 20_000 });
    await page.locator(".msg", { hasText: "收到，下午发报表" }).first().waitFor();
    await banner.waitFor({ state: "detached", timeout: 20_000 });
    await dmDot("online").waitFor({ timeout: 15_000 });
    await liweiDevice.close();
    const home = await rest(cluster.nodes.beijing.url, liwei, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`);
    expect(home.messages.map((m: { text: string }) => m.text)).toEqual(["早上好 from Beijing", "收到，下午发报表"]);
    expect(browser.pageErrors).toEqual([]);
  }, 90_000);
});

describe("a file in a room homed at head office", () => {
  it("uploads from the branch through the UI, and the card downloads the exact bytes through the link", async () => {
    const page = browser.page;
    const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n% branch upload\n"), crypto.randomBytes(700 * 1024), Buffer.from("\n%%EOF\n")]);
    await page.getByText("季度报表").first().click();
    await page.locator('[data-testid="file-input"]').setInputFiles([{ name: "上海 报表.pdf", mimeType: "application/pdf", buffer: pdf }]);
    await expect.poll(() => page.locator('[data-testid="uploads"] li[data-status="done"]').count(), { timeout: 20_000 }).toBe(1);
    await page.locator("textarea").fill("附件是上海的报表");
    await page.keyboard.press("Enter");
    const card = page.locator(".msg", { hasText: "附件是上海的报表" }).locator(".file-card");
    await card.waitFor({ timeout: 20_000 });
    expect(await card.locator(".file-name").textContent()).toBe("上海 报表.pdf");
    const [download] = await Promise.all([page.waitForEvent("download"), card.click()]);
    expect(download.suggestedFilename()).toBe("上海 报表.pdf");
    expect(fs.readFileSync((await download.path())!).equals(pdf)).toBe(true);
    // Stored at the home: Beijing serves the same bytes to its own member.
    const home = await rest(cluster.nodes.beijing.url, liwei, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`);
    const attachment = home.messages.find((m: { text: string }) => m.text === "附件是上海的报表").attachments[0];
    const there = await fetch(`${cluster.nodes.beijing.url}/api/v1/files/${encodeURIComponent(attachment.id)}`, { headers: { authorization: `Bearer ${liwei}` } });
    expect(Buffer.from(await there.arrayBuffer()).equals(pdf)).toBe(true);
    expect(browser.pageErrors).toEqual([]);
  }, 90_000);
});

describe("visiting head office", () => {
  it("signs in at the Beijing node with her Shanghai account, sees her rooms and chats there", async () => {
    const visiting = await openBrowser(cluster.nodes.beijing.url, { locale: "zh-CN" });
    try {
      const page = visiting.page;
      await signIn(page, "chenmei", USER_PASSWORD);
      // Her room list comes from her home (through the link); the room is Beijing's own.
      await page.getByText("季度报表").first().click();
      await page.locator(".msg", { hasText: "早上好 from Beijing" }).first().waitFor({ timeout: 15_000 });
      await page.locator("textarea").fill("我今天在北京办公室");
      await page.keyboard.press("Enter");
      await page.locator(".msg", { hasText: "我今天在北京办公室" }).first().waitFor({ timeout: 15_000 });
      await expect.poll(async () => (await rest(cluster.nodes.beijing.url, liwei, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`)).messages.map((m: { text: string }) => m.text), { timeout: 15_000 }).toContain("我今天在北京办公室");
      const mine = (await rest(cluster.nodes.beijing.url, liwei, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`)).messages.find((m: { text: string }) => m.text === "我今天在北京办公室");
      expect(mine.senderId).toMatch(/@shanghai$/);
      // A message from 李伟 arrives live.
      await rest(cluster.nodes.beijing.url, liwei, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "welcome", text: "欢迎来北京" });
      await page.locator(".msg", { hasText: "欢迎来北京" }).first().waitFor({ timeout: 15_000 });
      expect(visiting.pageErrors).toEqual([]);
    } finally {
      await visiting.close();
    }
  }, 90_000);

  it("is told clearly when her home node cannot check her password", async () => {
    await cluster.cut("beijing", "shanghai");
    const visiting = await openBrowser(cluster.nodes.beijing.url, { locale: "zh-CN" });
    try {
      const page = visiting.page;
      await page.goto("/");
      await page.locator('input[name="username"]').fill("chenmei");
      await page.locator('input[name="password"]').fill(USER_PASSWORD);
      await page.locator('button[type="submit"]').click();
      await page.getByText("暂时无法连接您所属分支机构的服务器").waitFor({ timeout: 15_000 });
    } finally {
      await visiting.close();
      await cluster.heal("beijing", "shanghai");
    }
  }, 60_000);
});
