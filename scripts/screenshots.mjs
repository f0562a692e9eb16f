/**
 * `npm run screenshots`: start a throwaway node, fill it with a small team's
 * conversation, and photograph the main screens in English and Chinese (light
 * and dark, desktop and a 390 px phone) into docs/screenshots/.
 * Needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { bundleWorker, repoRoot } from "../ops/build.mjs";
import { makeNodeConfig } from "../ops/node-config.mjs";
import { writeWorkerdFiles } from "../ops/workerd-config.mjs";
import { spawnWorkerd, stopWorkerd, waitForHealthy } from "../ops/workerd.mjs";
import { buildWeb } from "./build-web.mjs";
import { encodePng } from "./png.mjs";
import net from "node:net";

const OUT = path.join(repoRoot, "docs", "screenshots");
const ADMIN_PASSWORD = "screenshot-operator-passphrase";
// One for everyone pictured; not built from the username, which the password policy refuses.
const PERSON_PASSWORD = "a long enough passphrase";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

const port = await new Promise((resolve) => {
  const srv = net.createServer().listen(0, "127.0.0.1", () => {
    const p = srv.address().port;
    srv.close(() => resolve(p));
  });
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-screens-"));
await buildWeb({ quiet: true });
const bundlePath = await bundleWorker({ outfile: path.join(tmp, "worker.js") });
const config = makeNodeConfig({ name: "beijing", listen: `127.0.0.1:${port}`, dataDir: path.join(tmp, "data") });
const { configPath } = writeWorkerdFiles(config, { bundlePath });
const child = spawnWorkerd(configPath, { env: { ...process.env, OUTPOST_ADMIN_PASSWORD: ADMIN_PASSWORD, OUTPOST_SETUP_TOKEN: "unused-token" }, stdio: ["ignore", "ignore", "inherit"] });
const url = config.url;

async function call(token, method, p, body) {
  const res = await fetch(`${url}/api/v1${p}`, { method, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
/** A small PNG (a sky-like gradient) for the image preview. @param {number} width @param {number} height */
function png(width, height) {
  return encodePng(width, height, (x, y) => (y < height * 0.7 ? [250 - (y * 120) / height, 170 - (y * 60) / height, 90 + (y * 120) / height] : [40 + x / 8, 60, 90]));
}
async function upload(token, roomId, name, type, body) {
  const res = await fetch(`${url}/api/v1/rooms/${encodeURIComponent(roomId)}/files?name=${encodeURIComponent(name)}`, { method: "POST", headers: { "content-type": type, authorization: `Bearer ${token}` }, body });
  if (res.status !== 201) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
  return res.json();
}
const login = async (u, p) => (await call(null, "POST", "/auth/login", { username: u, password: p })).token;

try {
  await waitForHealthy(url, { child, timeoutMs: 20000 });
  const admin = await login("admin", ADMIN_PASSWORD);
  const people = [
    ["alice", "Alice Wang 王丽"],
    ["bob", "Bob Chen 陈博"],
    ["carol", "Carol Li 李静"],
    ["dave", "Dave Zhou 周达"],
  ];
  const ids = {};
  const tokens = {};
  for (const [u, name] of people) {
    ids[u] = (await call(admin, "POST", "/users", { username: u, password: PERSON_PASSWORD, displayName: name })).id;
    tokens[u] = await login(u, PERSON_PASSWORD);
  }
  // Bob has a picture (avatars, issue 15); the others show their first letter.
  const avatar = await fetch(`${url}/api/v1/me/avatar`, { method: "PUT", headers: { "content-type": "image/png", authorization: `Bearer ${tokens.bob}` }, body: png(256, 256) });
  if (!avatar.ok) throw new Error(`avatar: ${avatar.status} ${await avatar.text()}`);
  const room = await call(tokens.bob, "POST", "/rooms", { name: "Shanghai branch · 上海分行", visibility: "private", members: [ids.alice, ids.carol, ids.dave] });
  const post = (who, text, replyTo) => call(tokens[who], "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text, clientId: `shot-${Math.random().toString(36).slice(2)}`, ...(replyTo ? { replyTo } : {}) });
  await post("bob", "Morning all! The **quarterly audit** starts on Monday.");
  const q = await post("carol", "Do we need the `ledger-2025` export before then?");
  await post("bob", "Yes, please:\n- full export\n- checksums\n- the signed report", q.id);
  const m = await post("dave", "收到，我今天下午整理好。 See https://intranet.example.org/audit");
  await call(tokens.alice, "POST", `/rooms/${encodeURIComponent(room.id)}/messages/${m.id}/reactions`, { emoji: "👍" });
  await call(tokens.bob, "POST", `/rooms/${encodeURIComponent(room.id)}/messages/${m.id}/reactions`, { emoji: "🎉" });
  const photo = await upload(tokens.dave, room.id, "外滩 the Bund.png", "image/png", png(480, 320));
  const report = await upload(tokens.dave, room.id, "audit-checklist-2026.pdf", "application/pdf", Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.alloc(184_000, 32)]));
  await call(tokens.dave, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text: "上海办公室的照片和检查清单", clientId: "shot-files", attachments: [photo.id, report.id] });
  await post("carol", "@alice could you review the summary before Friday?");
  const dm = await call(tokens.bob, "POST", "/dms", { userId: ids.alice });
  await call(tokens.bob, "POST", `/rooms/${encodeURIComponent(dm.id)}/messages`, { text: "Lunch at 12:30? 🍜", clientId: "shot-dm-1" });
  await call(tokens.carol, "POST", "/rooms", { name: "IT helpdesk", visibility: "public", members: [ids.alice] });
  // For the room directory and the people screen (issue 15): public rooms alice is not in, a deactivated and an invited account.
  await call(tokens.bob, "POST", "/rooms", { name: "上海分行 · 午餐群 Lunch club", visibility: "public", members: [ids.carol, ids.dave] });
  const auditRoom = await call(tokens.dave, "POST", "/rooms", { name: "Audit 2026 审计", visibility: "public" });
  // For the retention and legal holds screen (issue 16): a node default and one hold.
  await call(admin, "PUT", "/admin/retention", { defaultDays: 730 });
  await call(admin, "POST", "/admin/holds", { roomId: auditRoom.id, reason: "Case 2026-117 · 案件 2026-117" });
  const erin = await call(admin, "POST", "/users", { username: "erin", password: PERSON_PASSWORD, displayName: "Erin Xu 徐静" });
  await call(admin, "POST", `/users/${erin.id}/deactivate`);
  await call(admin, "POST", "/users", { username: "mei", displayName: "陈梅 Chen Mei" });
  await call(tokens.bob, "PATCH", `/rooms/${encodeURIComponent(room.id)}`, { topic: "Quarterly audit · 季度审计 — checklist in the files" });

  fs.mkdirSync(OUT, { recursive: true });
  for (const locale of ["en", "zh-CN"]) {
    for (const scheme of ["light", "dark"]) {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-shot-profile-"));
      const ctx = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true, args: ARGS, locale, colorScheme: scheme, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, baseURL: url });
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const shot = (name) => page.screenshot({ path: path.join(OUT, `${name}-${locale}${scheme === "dark" ? "-dark" : ""}.png`) });
      await page.goto("/");
      await page.locator('input[name="username"]').waitFor();
      if (scheme === "light") await shot("login");
      await page.locator('input[name="username"]').fill("alice");
      await page.locator('input[name="password"]').fill(PERSON_PASSWORD);
      await page.locator('button[type="submit"]').click();
      await page.locator("button.room").first().waitFor();
      // The one-time "turn on notifications?" bar: shot once, then dismissed so the other screens show without it.
      if (scheme === "light") await shot("notify-prompt");
      await page.getByTestId("notify-prompt").getByRole("button").nth(1).click();
      await page.locator(`button.room[data-room-id="${room.id}"]`).click();
      await page.locator("article.msg", { hasText: "@alice" }).waitFor();
      await page.waitForTimeout(400);
      await shot("chat");
      // Room directory, both languages and themes.
      await page.getByTestId("browse-rooms").click();
      await page.locator("[data-testid=directory-panel] li.public-room").nth(2).waitFor();
      await page.waitForTimeout(300);
      await shot("directory");
      await page.keyboard.press("Escape");
      // Room settings and your settings (issue 15, items 3–5).
      await page.getByTestId("open-room-settings").click();
      await page.getByRole("dialog").locator('input[name="topic"]').waitFor();
      await page.waitForTimeout(300);
      await shot("room-settings");
      await page.keyboard.press("Escape");
      await page.getByTestId("open-settings").click();
      await page.getByRole("dialog").locator('select[name="language"]').waitFor();
      await page.waitForTimeout(300);
      await shot("settings");
      await page.keyboard.press("Escape");
      if (scheme === "light") {
        await page.locator(".side-actions button").nth(1).click();
        await page.locator('input[name="roomName"]').fill("Audit 2026");
        await page.waitForTimeout(400);
        await shot("new-room");
        await page.keyboard.press("Escape");
        await page.locator('input[name="q"]').fill("上海");
        await page.locator(".hit mark").first().waitFor();
        await page.waitForTimeout(300);
        await shot("search");
        await page.locator('input[name="q"]').fill("");
        await page.setViewportSize({ width: 390, height: 844 });
        await page.waitForTimeout(300);
        await shot("mobile-chat");
        await page.getByTestId("open-room-settings").click();
        await page.getByRole("dialog").locator('input[name="topic"]').fill("Quarterly audit · 季度审计 — " + "检查清单".repeat(48));
        await page.waitForTimeout(300);
        await shot("mobile-room-settings");
        await page.keyboard.press("Escape");
        await page.locator("button.back").click();
        await page.waitForTimeout(300);
        await shot("mobile-rooms");
        await page.getByTestId("browse-rooms").click();
        await page.locator("[data-testid=directory-panel] li.public-room").nth(2).waitFor();
        await page.waitForTimeout(300);
        await shot("mobile-directory");
        await page.keyboard.press("Escape");
        await page.getByTestId("open-settings").click();
        await page.getByRole("dialog").locator('select[name="language"]').waitFor();
        await page.waitForTimeout(300);
        await shot("mobile-settings");
        await page.keyboard.press("Escape");
      }
      // People administration, as the admin (desktop; phone in light).
      const adminCtxProfile = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-shot-admin-"));
      const actx = await chromium.launchPersistentContext(adminCtxProfile, { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true, args: ARGS, locale, colorScheme: scheme, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, baseURL: url });
      const apage = actx.pages()[0] ?? (await actx.newPage());
      const ashot = (name) => apage.screenshot({ path: path.join(OUT, `${name}-${locale}${scheme === "dark" ? "-dark" : ""}.png`) });
      await apage.goto("/");
      await apage.locator('input[name="username"]').fill("admin");
      await apage.locator('input[name="password"]').fill(ADMIN_PASSWORD);
      await apage.locator('button[type="submit"]').click();
      await apage.getByTestId("open-people").click();
      const people = apage.getByTestId("people-panel");
      await people.locator('li.account[data-username="mei"]').waitFor();
      await people.locator('li.account[data-username="alice"] .account-line button.link').click();
      await people.locator('li.account[data-username="alice"] .session').first().waitFor();
      await apage.waitForTimeout(300);
      await ashot("people");
      if (scheme === "light") {
        await people.locator('li.account[data-username="alice"] .account-line button.link').click();
        await people.locator(".panel-tools button").click();
        await people.locator('input[name="newUsername"]').fill(locale === "en" ? "lin" : "lin.yu");
        await people.locator('input[name="newDisplayName"]').fill("林小雨 Lin Xiaoyu");
        await people.locator('.new-person button[type="submit"]').click();
        await people.getByTestId("invite-link").waitFor();
        await apage.waitForTimeout(300);
        await ashot("people-invite");
        await apage.setViewportSize({ width: 390, height: 844 });
        await apage.waitForTimeout(300);
        await ashot("mobile-people");
        // The compliance screens (issue 16): retention and legal holds, and the audit trail.
        await apage.setViewportSize({ width: 1280, height: 800 });
        await apage.keyboard.press("Escape");
        await apage.getByTestId("open-compliance").click();
        await apage.getByTestId("hold-list").waitFor();
        await apage.waitForTimeout(300);
        await ashot("compliance");
        await apage.keyboard.press("Escape");
        await apage.getByTestId("open-audit").click();
        await apage.getByTestId("audit-records").waitFor();
        await apage.waitForTimeout(300);
        await ashot("audit");
      }
      await actx.close();
      fs.rmSync(adminCtxProfile, { recursive: true, force: true });
      await ctx.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }
  // Issue 15 (chat): a failed send with its reason (and the too-long warning), the new-messages button,
  // the phone's message menu. Taken after every other screen, since they add messages to the room.
  for (const locale of ["en", "zh-CN"]) {
    for (const scheme of ["light", "dark"]) {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-shot-profile-"));
      const ctx = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true, args: ARGS, locale, colorScheme: scheme, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, baseURL: url });
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const shot = (name) => page.screenshot({ path: path.join(OUT, `${name}-${locale}${scheme === "dark" ? "-dark" : ""}.png`) });
      await page.goto("/");
      await page.locator('input[name="username"]').fill("alice");
      await page.locator('input[name="password"]').fill(PERSON_PASSWORD);
      await page.locator('button[type="submit"]').click();
      await page.locator(`button.room[data-room-id="${room.id}"]`).click();
      await page.locator("article.msg", { hasText: "@alice" }).waitFor();
      const box = page.locator(".composer textarea");
      // The node refuses control characters: a send that fails, with its reason, retry / edit / discard.
      await box.fill("Report attached \u0007 see above");
      await box.press("Enter");
      await page.locator('[data-testid="failed"]').waitFor();
      await box.fill("长".repeat(6000));
      await page.waitForTimeout(400);
      await shot("failed-send");
      await box.fill("");
      await page.locator('[data-testid="failed"]').getByRole("button").last().click(); // discard
      // Scrolled up while three messages arrive.
      await page.setViewportSize({ width: 1280, height: 520 });
      await page.waitForTimeout(300);
      await page.locator('[data-testid="message-list"]').evaluate((el) => (el.scrollTop = 0));
      await page.waitForTimeout(300);
      for (const text of ["Checksums are done ✅", "报告已上传", "Anything else before Friday?"]) await post("bob", text);
      await page.locator('[data-testid="new-messages"]').waitFor();
      await page.waitForTimeout(300);
      await shot("new-messages");
      await page.locator('[data-testid="new-messages"]').click();
      // The phone: a tap opens a message's actions inside its row.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      await page.locator("article.msg", { hasText: "Anything else" }).last().locator(".md").click();
      await page.locator("article.msg.selected .actions").waitFor();
      await page.waitForTimeout(300);
      await shot("mobile-menu");
      await ctx.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }
  console.log(`screenshots written to ${path.relative(repoRoot, OUT)}/: ${fs.readdirSync(OUT).sort().join(", ")}`);
} finally {
  await stopWorkerd(child, { graceMs: 2000 });
  fs.rmSync(tmp, { recursive: true, force: true });
}
