/**
 * 10,000 messages in one room: the list keeps only the visible rows in the DOM
 * while older pages load on scroll, and scrolling stays fast.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { createUser, openBrowser, refuseFirst, rest, signIn, type UserBrowser } from "./browser";

const COUNT = 10_000;
let node: OutpostNode;
let admin: string;
let viewer: UserBrowser;

beforeAll(async () => {
  // Seeding 10,000 messages from one account: far past the per-user message budget, which is off here.
  ({ node, admin } = await withNode({ limits: { messagesPerSecondPerUser: 0 } }));
}, 120_000);
afterAll(async () => {
  await viewer?.close();
  await node?.stop();
});

describe("a room with 10,000 messages", () => {
  it("renders only what is visible, pages back to the beginning, scrolls smoothly", async () => {
    const me = await createUser(node.url, admin, { username: "reader", password: "pages turning slowly", displayName: "Reader" });
    const room = await rest(node.url, admin, "POST", "/rooms", { name: "Archive", visibility: "private", members: [me.id] });
    // Seeded through one room socket, up to 100 sends unanswered at a time: a REST request per
    // message took 12–20 s of this file.
    const seedStart = Date.now();
    const ws = new WebSocket(`${node.wsUrl}/api/v1/rooms/${encodeURIComponent(room.id)}/socket`, { headers: { authorization: `Bearer ${admin}` } });
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let acked = 0;
      const pump = () => {
        for (; sent < COUNT && sent - acked < 100; sent++) {
          ws.send(JSON.stringify({ type: "msg.send", clientId: `bulk-${sent}`, text: `message number ${sent}${sent % 7 === 0 ? "\nwith a second line and **bold**" : ""}` }));
        }
      };
      ws.once("open", pump);
      ws.on("message", (data) => {
        const frame = JSON.parse(String(data)) as { type: string };
        if (frame.type === "error") reject(new Error(`seeding: ${String(data)}`));
        if (frame.type !== "msg.ack") return;
        if (++acked === COUNT) resolve();
        else pump();
      });
      ws.once("error", reject);
      ws.once("close", (code) => reject(new Error(`seeding: the socket closed (${code}) after ${acked} of ${COUNT}`)));
    });
    ws.close();
    console.log(`seeded ${COUNT} messages in ${Date.now() - seedStart} ms`);

    viewer = await openBrowser(node.url);
    const page = viewer.page;
    await signIn(page, "reader", "pages turning slowly");
    await page.locator(`button.room[data-room-id="${room.id}"]`).click();
    await page.locator("article.msg", { hasText: `message number ${COUNT - 1}` }).waitFor({ timeout: 20000 });

    const list = page.locator('[data-testid="message-list"]');

    // Scrolled once to the very top while the node does not answer the older page (its first two
    // tries fail): the list asks again by itself, with no more scrolling, and when the page comes the
    // reader still sees the message that was at the top, not the new page's oldest, 100 rows above it.
    const older = await refuseFirst(page, /\/api\/v1\/rooms\/[^/]+\/messages\?.*before=/, 2);
    // The oldest message loaded, at the top of the view now (its first two older pages are refused, 1 s apart at least).
    const { oldest, before } = await list.evaluate(async (el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event("scroll"));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const rows = [...el.querySelectorAll("article.msg")];
      const seqs = rows.map((e) => Number(e.getAttribute("data-seq")));
      const first = Math.min(...seqs);
      return { oldest: first, before: rows[seqs.indexOf(first)].getBoundingClientRect().top };
    });
    // The row just above the old top is drawn once the page is in (only rows near the view are in the DOM).
    await page.locator(`article.msg[data-seq="${oldest - 1}"]`).waitFor({ state: "attached", timeout: 15000 });
    expect(older.refused()).toBe(2);
    await older.stop();
    const kept = await list.evaluate((el, seq) => {
      const row = el.querySelector(`article.msg[data-seq="${seq}"]`);
      const box = el.getBoundingClientRect();
      const at = row?.getBoundingClientRect();
      return at ? { top: at.top, inView: at.bottom > box.top && at.top < box.bottom } : null;
    }, oldest);
    console.log(`the top row moved ${kept ? (kept.top - before).toFixed(0) : "out of the DOM"} px while the older page arrived`);
    expect(kept?.inView).toBe(true);

    // Scroll to the top again and again: each time an older page loads above.
    const started = Date.now();
    for (let i = 0; i < 400; i++) {
      const done = await list.evaluate((el) => {
        el.scrollTop = 0;
        el.dispatchEvent(new Event("scroll"));
        return document.querySelector(".list-top")?.textContent === "This is the beginning of the conversation.";
      });
      if (done) break;
      await page.waitForTimeout(40);
    }
    console.log(`paged back through ${COUNT} messages in ${Date.now() - started} ms`);
    await page.locator("article.msg .md", { hasText: /^message number 1$/ }).waitFor({ timeout: 30000 });
    expect(await page.locator(".list-top").textContent()).toBe("This is the beginning of the conversation.");

    const rows = await page.locator("[data-row]").count();
    expect(rows).toBeLessThan(150);
    const spacer = await page.locator(".spacer").evaluate((el) => el.getBoundingClientRect().height);
    expect(spacer).toBeGreaterThan(COUNT * 30); // every message has its place

    // Scroll through the middle in large steps: each step renders within a frame budget.
    const timing = await list.evaluate(async (el) => {
      const times: number[] = [];
      for (let i = 1; i <= 30; i++) {
        const t0 = performance.now();
        el.scrollTop = (el.scrollHeight * i) / 32;
        el.dispatchEvent(new Event("scroll"));
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return { median: times[15], rows: document.querySelectorAll("[data-row]").length };
    });
    console.log(`scroll step median ${timing.median.toFixed(1)} ms, ${timing.rows} rows in the DOM`);
    expect(timing.rows).toBeLessThan(150);
    expect(timing.median).toBeLessThan(200);
    expect(viewer.pageErrors.join("\n")).toBe("");
  }, 400_000);
});
