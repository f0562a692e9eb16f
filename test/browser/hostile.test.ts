/**
 * A hostile corpus in message text, display names and room names, viewed in a
 * real browser: nothing executes (no dialog, no global flag set), the CSP is
 * never violated, everything shows as text, and the layout holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, type OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

const PWN = "window.__pwned=1";
const CORPUS = [
  `<script>${PWN}</script>`,
  `<img src=x onerror="${PWN}">`,
  `<svg onload="${PWN}"><circle r=1 /></svg>`,
  `"><iframe src="javascript:${PWN}"></iframe>`,
  `[click me](javascript:${PWN})`,
  `[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
  `[vb](vbscript:msgbox(1)) [js2]( javascript:alert(1)) [case](JaVaScRiPt:alert(1))`,
  `javascript:alert(1) and data:text/html,<script>alert(1)</script>`,
  `<a href="javascript:alert(1)" onclick="${PWN}">link</a>`,
  `**unclosed bold *nested _italics \`code\n\`\`\`\nunclosed fence <b onmouseover=alert(1)>x</b>`,
  `> > > > > > > > > > deep quote ${"[".repeat(200)}${"*".repeat(300)}`,
  "A".repeat(5000),
  "https://example.org/" + "x".repeat(3000),
  "مرحبا بالعالم — שלום עולם ‏RTL‏ text with **bold**",
  "表情 🎉👩‍👩‍👧‍👦🏳️‍🌈 中文消息：你好，世界！ 日本語 한국어",
  "[ok link](https://example.org/?q=<script>) and mailto:team@example.org",
];

let node: OutpostNode;
let admin: string;
let viewer: UserBrowser;

beforeAll(async () => {
  ({ node, admin } = await withNode());
}, 120_000);
afterAll(async () => {
  await viewer?.close();
  await node?.stop();
});

describe("hostile content", () => {
  it("renders as text with zero script executions and zero CSP violations", async () => {
    const me = await createUser(node.url, admin, { username: "viewer", password: "quiet evening lamp", displayName: "Viewer" });
    const evil = await createUser(node.url, admin, { username: "evil", password: "crooked smile at noon", displayName: `<img src=x onerror="${PWN}">` });
    await createUser(node.url, admin, { username: "rtl", password: "right to left we read", displayName: "مستخدم عربي 🎉" });
    const evilToken = await loginAs(node.url, "evil", "crooked smile at noon");
    const room = await rest(node.url, evilToken, "POST", "/rooms", { name: `<script>${PWN}</script>`, visibility: "private", members: [me.id] });
    await rest(node.url, evilToken, "POST", "/rooms", { name: "项目讨论组 🎉 " + "长".repeat(70), visibility: "private", members: [me.id] });
    for (const [i, text] of CORPUS.entries()) await rest(node.url, evilToken, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text, clientId: `hostile-${i}` });
    await rest(node.url, evilToken, "POST", "/dms", { userId: me.id });

    viewer = await openBrowser(node.url, { viewport: { width: 360, height: 740 } });
    const page = viewer.page;
    await signIn(page, "viewer", "quiet evening lamp");
    const roomButton = page.locator(`button.room[data-room-id="${room.id}"]`);
    await roomButton.waitFor({ timeout: 15000 });
    // Names are text, in the list and in the DM entry.
    expect(await roomButton.locator(".room-name").textContent()).toBe(`<script>${PWN}</script>`);
    await page.locator(".room-name", { hasText: /^<img src=x onerror=/ }).waitFor({ timeout: 15000 });

    await roomButton.click();
    await page.locator("article.msg", { hasText: "mailto:team@example.org" }).waitFor({ timeout: 15000 });
    const list = page.locator('[data-testid="message-list"]');
    // Walk the whole list so every row is rendered at least once.
    for (let y = 0; y < 40; y++) {
      await list.evaluate((el, step) => (el.scrollTop = step * 300), y);
      await page.waitForTimeout(30);
    }
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForTimeout(200);

    // The sender's display name shows as text.
    expect(await page.locator("article.msg .sender").first().textContent()).toBe(`<img src=x onerror="${PWN}">`);
    // The composer's mention suggestions show hostile names as text too.
    const box = page.getByRole("textbox", { name: "Message" });
    await box.fill("@");
    await box.press("End");
    await box.pressSequentially("e");
    await page.getByRole("option").first().waitFor();
    expect(await page.getByRole("listbox").textContent()).toContain("<img src=x");
    await box.fill("");

    const report = await page.evaluate(() => {
      const inMessages = document.querySelectorAll(".chat script, .chat img, .chat svg, .chat iframe, .sidebar script, .sidebar img, .sidebar iframe");
      const hrefs = [...document.querySelectorAll(".chat a")].map((a) => a.getAttribute("href") ?? "");
      const handlers = [...document.querySelectorAll("*")].flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith("on")).map((a) => a.name));
      return {
        pwned: (window as unknown as { __pwned?: number }).__pwned ?? 0,
        injected: inMessages.length,
        hrefs,
        handlers,
        overflowX: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        text: document.querySelector(".chat")?.textContent ?? "",
      };
    });
    expect(report.pwned).toBe(0);
    expect(report.injected).toBe(0);
    expect(report.handlers).toEqual([]);
    for (const href of report.hrefs) expect(href).toMatch(/^(https?:|mailto:)/);
    expect(report.hrefs).toContain("https://example.org/?q=%3Cscript%3E");
    expect(report.overflowX).toBeLessThanOrEqual(0);
    expect(viewer.dialogs).toEqual([]);
    expect(viewer.cspViolations.join("\n")).toBe("");
    expect(viewer.pageErrors.join("\n")).toBe("");
  });

  it("markdown that is hostile, long or malformed leaves the visible text intact", async () => {
    const page = viewer.page;
    // Scroll to the first hostile messages and read them as text.
    const list = page.locator('[data-testid="message-list"]');
    await list.evaluate((el) => (el.scrollTop = 0));
    await page.waitForTimeout(300);
    const first = await page.locator("article.msg .md").first().textContent();
    expect(first).toBe(`<script>${PWN}</script>`);
    const link = page.locator("article.msg", { hasText: "click me" }).locator(".md");
    expect(await link.locator("a").count()).toBe(0);
    expect(await link.textContent()).toBe(`[click me](javascript:${PWN})`);
    // After everything was rendered: still nothing ran.
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned ?? 0)).toBe(0);
    expect(viewer.dialogs).toEqual([]);
    expect(viewer.cspViolations.join("\n")).toBe("");
  });
});
