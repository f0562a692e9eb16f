/**
 * Time to the first rendered room in real headless Chromium (Debian's
 * /usr/bin/chromium through playwright-core, as the browser tests use): a
 * signed-in person opens /r/<room> and we wait until the room's newest message
 * is on screen. "cold" clears the browser cache first (a first visit after a
 * deploy); "warm" is a returning visitor with the hashed assets cached.
 *
 * `wire` is what the first cold load of every script the room screen fetched cost
 * on the wire (the ones index.html names, `scripts`, and the chunks they import on
 * the way, such as the language's strings), as the browser itself reports it (PerformanceResourceTiming: transferSize
 * includes the response headers; encodedBodySize is the body as sent, compressed
 * or not; decodedBodySize after decoding). Sizes computed from the files would
 * say nothing about whether the node actually compresses them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

export async function timeToFirstRoom({ url, username, password, roomId, lastText, reps = 5, scripts = [] }) {
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
    let wire = null;
    for (let i = 0; i < reps; i++) {
      cold.push(await once(true));
      if (!wire) wire = await wireSizes(page, scripts.map((s) => new URL(s, url).href));
      warm.push(await once(false));
    }
    return { cold, warm, wire };
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Every script under /assets/ the page fetched, or null when one of `named` is
 * missing (the sum would flatter the client).
 *
 * @param {import("playwright-core").Page} page @param {string[]} named
 */
async function wireSizes(page, named) {
  const all = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => /\/assets\/[^/]+\.js$/.test(new URL(e.name).pathname))
      .map((e) => {
        const r = /** @type {PerformanceResourceTiming} */ (e);
        return { url: r.name, file: new URL(r.name).pathname, transferSize: r.transferSize, encodedBodySize: r.encodedBodySize, decodedBodySize: r.decodedBodySize };
      }),
  );
  return named.every((n) => all.some((e) => e.url === n)) ? all.map(({ url: _, ...rest }) => rest) : null;
}
