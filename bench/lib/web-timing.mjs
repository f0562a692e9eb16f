/**
 * Time to the first rendered room in real headless Chromium (Debian's
 * /usr/bin/chromium through playwright-core, as the browser tests use): a
 * signed-in person opens /r/<room> and we wait until the room's newest message
 * is on screen. "cold" clears the browser cache first (a first visit after a
 * deploy); "warm" is a returning visitor with the hashed assets cached.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

export async function timeToFirstRoom({ url, username, password, roomId, lastText, reps = 5 }) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-bench-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, baseURL: url, viewport: { width: 1200, height: 800 } });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto("/");
    await page.locator('input[name="username"]').fill(username);
    await page.locator('input[name="password"]').fill(password);
    await page.locator('button[type="submit"]').click();
    await page.locator("nav.sidebar").waitFor({ timeout: 30000 });
    const cdp = await context.newCDPSession(page);
    const once = async (cold) => {
      await page.goto("about:blank");
      if (cold) await cdp.send("Network.clearBrowserCache");
      const t0 = performance.now();
      await page.goto(`/r/${encodeURIComponent(roomId)}`);
      await page.locator("article.msg", { hasText: lastText }).waitFor({ timeout: 30000 });
      return performance.now() - t0;
    };
    const cold = [];
    const warm = [];
    for (let i = 0; i < reps; i++) {
      cold.push(await once(true));
      warm.push(await once(false));
    }
    return { cold, warm };
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
