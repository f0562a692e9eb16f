/**
 * Files and search in the web client, two people in two Chromium profiles:
 * Alice attaches an image and a PDF (file picker; upload progress visible),
 * sends them; Bob sees the image preview and the file card and downloads the
 * PDF byte for byte. Refused uploads (type not allowed, too large) show
 * translated errors; drag-and-drop and paste attach files too; a recalled
 * message drops its files. Search finds a 2-character Chinese word and an
 * English prefix with highlighted snippets, and a hit opens its room at the
 * message even when it is far back in the history.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { loginAs, type OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { createUser, openBrowser, refuseFirst, rest, signIn, type UserBrowser } from "./browser";
import { encodePng } from "../../scripts/png.mjs";

const MAX_FILE = 1024 * 1024;
let node: OutpostNode;
let alice: UserBrowser;
let bob: UserBrowser;
let aliceToken: string;
let filesRoom: { id: string };
let notesRoom: { id: string };

/** A real PNG (an RGB gradient), so the preview has something to show. */
const IMAGE = encodePng(120, 80, (x, y) => [(x * 255) / 120, (y * 255) / 80, 160]);
// A PDF-looking file big enough that the upload takes a moment when throttled.
const PDF = Buffer.concat([Buffer.from("%PDF-1.4\n% outpost test\n"), crypto.randomBytes(600 * 1024), Buffer.from("\n%%EOF\n")]);

beforeAll(async () => {
  let admin: string;
  ({ node, admin } = await withNode({ limits: { maxFileBytes: MAX_FILE } }));
  const a = await createUser(node.url, admin, { username: "alice", password: "tea at the old bridge", displayName: "Alice Wang" });
  const b = await createUser(node.url, admin, { username: "bob", password: "rain on the tin roof", displayName: "Bob 李" });
  aliceToken = await loginAs(node.url, "alice", "tea at the old bridge");
  filesRoom = await rest(node.url, aliceToken, "POST", "/rooms", { name: "Files", visibility: "private", members: [b.id] });
  notesRoom = await rest(node.url, aliceToken, "POST", "/rooms", { name: "Notes 笔记", visibility: "private", members: [b.id] });
  // The matches are far back: 150 messages come after them (the room opens on the latest 50).
  const path = `/rooms/${encodeURIComponent(notesRoom.id)}/messages`;
  await rest(node.url, aliceToken, "POST", path, { text: "我家在上海东边，周末见", clientId: "seed-zh" });
  await rest(node.url, aliceToken, "POST", path, { text: "Deployment finished on the staging server", clientId: "seed-en" });
  let next = 0;
  const worker = async () => {
    while (next < 150) {
      const i = next++;
      await rest(node.url, aliceToken, "POST", path, { text: `filler line ${i}`, clientId: `filler-${i}` });
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  void a;
  alice = await openBrowser(node.url);
  bob = await openBrowser(node.url, { locale: "zh-CN" });
  await signIn(alice.page, "alice", "tea at the old bridge");
  await signIn(bob.page, "bob", "rain on the tin roof");
}, 180_000);

afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await node?.stop();
});

const openRoom = (page: Page, id: string) => page.locator(`button.room[data-room-id="${id}"]`).click();
const chips = (page: Page) => page.locator('[data-testid="uploads"] li.upload');

describe("web client: files", () => {
  it("Alice attaches an image and a PDF with visible progress and sends them", async () => {
    const page = alice.page;
    await openRoom(page, filesRoom.id);
    // Slow the upload down so its progress can be seen.
    const cdp = await alice.context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 400 * 1024 });
    await page.locator('[data-testid="file-input"]').setInputFiles([
      { name: "sunset.png", mimeType: "image/png", buffer: IMAGE },
      { name: "report 报告.pdf", mimeType: "application/pdf", buffer: PDF },
    ]);
    await page.getByRole("progressbar", { name: "Uploading report 报告.pdf" }).waitFor({ timeout: 5000 });
    // Send waits for the uploads.
    expect(await page.locator('.composer button[type="submit"]').isDisabled()).toBe(true);
    await expect.poll(() => page.locator('[data-testid="uploads"] li[data-status="done"]').count(), { timeout: 20000 }).toBe(2);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    expect(await chips(page).first().locator("img.upload-thumb").count()).toBe(1); // local preview of the image

    const box = page.getByRole("textbox", { name: "Message" });
    await box.fill("holiday photo and the report");
    await box.press("Enter");
    const msg = page.locator("article.msg", { hasText: "holiday photo and the report" });
    await msg.locator(".att-image img").waitFor();
    await msg.locator(".file-card").waitFor();
    expect(await chips(page).count()).toBe(0);
  });

  it("Bob sees the image preview and the file card and downloads the exact bytes", async () => {
    const page = bob.page;
    await openRoom(page, filesRoom.id);
    const msg = page.locator("article.msg", { hasText: "holiday photo and the report" });
    const img = msg.locator(".att-image img");
    await img.waitFor({ timeout: 10000 });
    expect(await img.getAttribute("alt")).toBe("sunset.png");
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth), { timeout: 10000 }).toBe(120);

    const card = msg.locator(".file-card");
    expect(await card.locator(".file-name").textContent()).toBe("report 报告.pdf");
    expect(await card.locator(".file-text .muted").textContent()).toMatch(/^600\s?kB$/); // localised size
    expect(await card.textContent()).toContain("下载"); // Bob reads Chinese
    const [download] = await Promise.all([page.waitForEvent("download"), card.click()]);
    expect(download.suggestedFilename()).toBe("report 报告.pdf");
    const bytes = fs.readFileSync((await download.path())!);
    expect(bytes.equals(PDF)).toBe(true);
  });

  it("a type that is not allowed and a file that is too large show translated errors", async () => {
    const page = bob.page;
    await page.locator('[data-testid="file-input"]').setInputFiles([{ name: "tool.exe", mimeType: "application/x-msdownload", buffer: Buffer.from("MZ not really a program") }]);
    const alert = page.locator('[data-testid="uploads"] li[data-status="error"] [role="alert"]');
    await alert.waitFor({ timeout: 10000 });
    expect(await alert.textContent()).toBe("此处不允许上传这种类型的文件：“tool.exe”（application/x-msdownload）。");
    await page.getByRole("button", { name: "移除 tool.exe" }).click();
    expect(await chips(page).count()).toBe(0);

    await alice.page.locator('[data-testid="file-input"]').setInputFiles([{ name: "huge.zip", mimeType: "application/zip", buffer: Buffer.alloc(MAX_FILE + 10, 7) }]);
    const big = alice.page.locator('[data-testid="uploads"] li[data-status="error"] [role="alert"]');
    await big.waitFor({ timeout: 10000 });
    expect(await big.textContent()).toBe("“huge.zip” is too large for this server.");
    await alice.page.getByRole("button", { name: "Remove huge.zip" }).click();
  });

  it("drag-and-drop and paste attach files; a file-only message; recall drops the files", async () => {
    const page = alice.page;
    await page.locator("section.chat").evaluate((el) => {
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped notes\n"], "notes.txt", { type: "text/plain" }));
      el.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    const pasted = await page.getByRole("textbox", { name: "Message" }).evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "image.png", { type: "image/png" }));
      const ev = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
      el.dispatchEvent(ev);
      return ev.defaultPrevented;
    }, IMAGE.toString("base64"));
    expect(pasted).toBe(true);
    await expect.poll(() => page.locator('[data-testid="uploads"] li[data-status="done"]').count(), { timeout: 10000 }).toBe(2);
    await page.getByRole("textbox", { name: "Message" }).press("Enter"); // no text: the files alone

    const msg = bob.page.locator("article.msg", { has: bob.page.locator(".file-name", { hasText: "notes.txt" }) });
    await msg.waitFor({ timeout: 10000 });
    expect(await msg.locator(".att-image img").getAttribute("alt")).toBe("image.png");

    const mine = page.locator("article.msg", { has: page.locator(".file-name", { hasText: "notes.txt" }) });
    await mine.hover();
    await mine.getByRole("button", { name: "Recall", exact: true }).click();
    await expect.poll(() => msg.count(), { timeout: 10000 }).toBe(0);
    expect(await bob.page.locator('[data-testid="tombstone"]').count()).toBe(1);
    expect(await bob.page.locator(".file-name", { hasText: "notes.txt" }).count()).toBe(0);
  });
});

describe("web client: search", () => {
  async function searchAndOpen(page: Page, query: string, label: string, marked: string, text: string) {
    const box = page.getByRole("searchbox", { name: label });
    await box.fill(query);
    const hit = page.locator('[data-testid="search-results"] button.hit', { hasText: text });
    await hit.waitFor({ timeout: 10000 });
    expect(await hit.locator("mark").first().textContent()).toBe(marked);
    expect(await hit.locator(".hit-room").textContent()).toBe("Notes 笔记");
    expect(await hit.locator(".hit-head").textContent()).toContain("Alice Wang");
    await hit.click();
    const article = page.locator("article.msg", { hasText: text });
    await article.waitFor({ timeout: 10000 });
    await expect.poll(() => article.evaluate((el) => el.classList.contains("highlight") && document.activeElement === el), { timeout: 5000 }).toBe(true);
    // Visible inside the message list, not merely in the DOM.
    const inView = await article.evaluate((el) => {
      const list = document.querySelector('[data-testid="message-list"]')!.getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.top >= list.top - 1 && r.bottom <= list.bottom + 1;
    });
    expect(inView).toBe(true);
  }

  it("a 2-character Chinese word finds the message far back, highlighted, and jumps to it", async () => {
    await searchAndOpen(bob.page, "上海", "搜索消息", "上海", "我家在上海东边");
    // The history around it was loaded, not all 150 newer messages.
    expect(await bob.page.locator("article.msg", { hasText: "filler line" }).count()).toBeGreaterThan(0);
    const list = bob.page.locator('[data-testid="message-list"]');
    // Scrolled once to the end of that window while the node does not answer the newer page (its first
    // two tries fail): the list asks again by itself, with no more scrolling (at the very bottom a
    // wheel scrolls nothing, so no scroll event would come).
    const newer = await refuseFirst(bob.page, /\/api\/v1\/rooms\/[^/]+\/messages\?.*after=/, 2);
    const newest = await list.evaluate(async (el) => {
      el.scrollTop = el.scrollHeight;
      el.dispatchEvent(new Event("scroll"));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return Math.max(...[...el.querySelectorAll("article.msg")].map((a) => Number(a.getAttribute("data-seq"))));
    });
    await bob.page.locator(`article.msg[data-seq="${newest + 1}"]`).waitFor({ state: "attached", timeout: 15000 });
    expect(newer.refused()).toBe(2);
    await newer.stop();
    // Scrolling down from there loads the newer pages up to the newest message, each once.
    for (let i = 0; i < 100 && (await bob.page.locator('article.msg[data-seq="152"]').count()) === 0; i++) {
      await list.evaluate((el) => {
        el.scrollTop = el.scrollHeight;
        el.dispatchEvent(new Event("scroll"));
      });
      await bob.page.waitForTimeout(50);
    }
    await bob.page.locator('article.msg[data-seq="152"]').waitFor({ timeout: 5000 });
    expect(await bob.page.getByText("正在加载更新的消息…").count()).toBe(0);
    await bob.page.getByRole("button", { name: "清除搜索" }).click();
    await bob.page.locator(`button.room[data-room-id="${notesRoom.id}"]`).waitFor();
  });

  it("an English prefix finds the message with the word marked and jumps to it", async () => {
    await openRoom(alice.page, filesRoom.id);
    await searchAndOpen(alice.page, "deploy", "Search messages", "Deploy", "Deployment finished on the staging server");
    expect(await alice.page.locator(".chat-title").textContent()).toBe("Notes 笔记");
    expect([...alice.pageErrors, ...bob.pageErrors].join("\n")).toBe("");
    expect([...alice.cspViolations, ...bob.cspViolations].join("\n")).toBe("");
  });
});
