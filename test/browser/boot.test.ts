/**
 * The first screen appears however fast the node answers. A tab opened in the
 * background gets no animation frames, so Preact runs effects (where the app
 * subscribes to its store) only after its 100 ms fallback; a node on the same
 * LAN answers `GET /api/v1/me` sooner than that. The answer must not be lost:
 * the page once stayed on "Loading…" for good (seen as a flaky sign-in in the
 * axe suite).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { openBrowser, signIn } from "./browser";

let t: TestNode;
beforeAll(async () => {
  t = await withNode();
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

describe("web client: start-up in a background tab", () => {
  it("shows the sign-in form, then the rooms after a reload, without animation frames", async () => {
    const b = await openBrowser(t.node.url);
    try {
      // As in a hidden tab: requestAnimationFrame callbacks never run.
      await b.page.addInitScript(() => {
        window.requestAnimationFrame = () => 0;
      });
      for (let i = 0; i < 5; i++) {
        await b.page.goto("/");
        await b.page.locator('input[name="username"]').waitFor({ timeout: 5000 });
      }
      await signIn(b.page, "admin", t.adminPassword);
      for (let i = 0; i < 3; i++) {
        await b.page.reload();
        await b.page.locator("nav.sidebar").waitFor({ timeout: 5000 });
      }
      expect(b.pageErrors).toEqual([]);
    } finally {
      await b.close();
    }
  }, 60_000);
});

describe("web client: the signed-in app's own chunk", () => {
  it("is not fetched for the sign-in form; one that fails to arrive is fetched again and the app appears", async () => {
    const b = await openBrowser(t.node.url);
    try {
      const shellRequests: string[] = [];
      b.page.on("request", (r) => {
        if (/\/assets\/Shell-[^/]+\.js$/.test(new URL(r.url()).pathname)) shellRequests.push(r.url());
      });
      await b.page.goto("/");
      await b.page.locator('input[name="username"]').waitFor({ timeout: 5000 });
      await b.page.waitForTimeout(500);
      expect(shellRequests).toEqual([]);
      // The first fetch of the chunk fails (the node restarting); the sign-in itself works.
      let failed = 0;
      await b.page.route(/\/assets\/Shell-[^/]+\.js$/, async (route) => {
        if (failed++ === 0) await route.abort("connectionreset");
        else await route.continue();
      });
      await signIn(b.page, "admin", t.adminPassword);
      await b.page.locator("nav.sidebar").waitFor({ timeout: 15_000 });
      expect(failed).toBeGreaterThanOrEqual(2);
    } finally {
      await b.close();
    }
  }, 60_000);
});
