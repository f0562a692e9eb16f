/**
 * Runs in every node-side test file (vitest.node.config.ts `setupFiles`): after
 * the file's last test, close the Chromium its browser tests shared
 * (test/browser/browser.ts), so no browser outlives the file that opened it.
 * Found through a global (browser.ts `CLOSE_CHROMIUM`), so files without
 * browsers do not load playwright.
 */
import { afterAll } from "vitest";

afterAll(async () => {
  const close = (globalThis as { __outpostCloseChromium?: () => Promise<void> }).__outpostCloseChromium;
  await close?.();
});
