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
import { build, repoRoot } from "../ops/build.mjs";
import { makeNodeConfig, writeWorkerdFiles } from "../ops/node-config.mjs";
import { spawnWorkerd, stopWorkerd, waitForHealthy } from "../ops/workerd.mjs";
import { buildWeb } from "./build-web.mjs";
import net from "node:net";

const OUT = path.join(repoRoot, "docs", "screenshots");
const ADMIN_PASSWORD = "screenshot-admin-password";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

const port = await new Promise((resolve) => {
  const srv = net.createServer().listen(0, "127.0.0.1", () => {
    const p = srv.address().port;
    srv.close(() => resolve(p));
  });
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-screens-"));
await buildWeb({ quiet: true });
const bundlePath = await build({ outfile: path.join(tmp, "worker.js") });
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
    ids[u] = (await call(admin, "POST", "/users", { username: u, password: `${u}-password`, displayName: name })).id;
    tokens[u] = await login(u, `${u}-password`);
  }
  const room = await call(tokens.bob, "POST", "/rooms", { name: "Shanghai branch · 上海分行", visibility: "private", members: [ids.alice, ids.carol, ids.dave] });
  const post = (who, text, replyTo) => call(tokens[who], "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text, clientId: `shot-${Math.random().toString(36).slice(2)}`, ...(replyTo ? { replyTo } : {}) });
  await post("bob", "Morning all! The **quarterly audit** starts on Monday.");
  const q = await post("carol", "Do we need the `ledger-2025` export before then?");
  await post("bob", "Yes, please:\n- full export\n- checksums\n- the signed report", q.id);
  const m = await post("dave", "收到，我今天下午整理好。 See https://intranet.example.org/audit");
  await call(tokens.alice, "POST", `/rooms/${encodeURIComponent(room.id)}/messages/${m.id}/reactions`, { emoji: "👍" });
  await call(tokens.bob, "POST", `/rooms/${encodeURIComponent(room.id)}/messages/${m.id}/reactions`, { emoji: "🎉" });
  await post("carol", "@alice could you review the summary before Friday?");
  const dm = await call(tokens.bob, "POST", "/dms", { userId: ids.alice });
  await call(tokens.bob, "POST", `/rooms/${encodeURIComponent(dm.id)}/messages`, { text: "Lunch at 12:30? 🍜", clientId: "shot-dm-1" });
  await call(tokens.carol, "POST", "/rooms", { name: "IT helpdesk", visibility: "public", members: [ids.alice] });

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
      await page.locator('input[name="password"]').fill("alice-password");
      await page.locator('button[type="submit"]').click();
      await page.locator("button.room").first().waitFor();
      await page.locator(`button.room[data-room-id="${room.id}"]`).click();
      await page.locator("article.msg", { hasText: "@alice" }).waitFor();
      await page.waitForTimeout(400);
      await shot("chat");
      if (scheme === "light") {
        await page.locator(".side-actions button").nth(1).click();
        await page.locator('input[name="roomName"]').fill("Audit 2026");
        await page.waitForTimeout(400);
        await shot("new-room");
        await page.keyboard.press("Escape");
        await page.setViewportSize({ width: 390, height: 844 });
        await page.waitForTimeout(300);
        await shot("mobile-chat");
        await page.locator("button.back").click();
        await page.waitForTimeout(300);
        await shot("mobile-rooms");
      }
      await ctx.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }
  console.log(`screenshots written to ${path.relative(repoRoot, OUT)}/: ${fs.readdirSync(OUT).sort().join(", ")}`);
} finally {
  await stopWorkerd(child, { graceMs: 2000 });
  fs.rmSync(tmp, { recursive: true, force: true });
}
