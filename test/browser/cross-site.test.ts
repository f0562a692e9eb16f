/**
 * Cross-site WebSocket hijacking, in real Chromium. A signed-in person visits
 * a page served from another port of the node's host. SameSite ignores ports
 * and the WebSocket handshake is not subject to CORS, so the browser sends the
 * node's session cookie with that page's upgrade: the node must refuse it by
 * its Origin. The same script on the node's own page gets its socket (so the
 * test would see a hijack if there were one).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { freePort, loginAs, type OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

let node: OutpostNode;
let browser: UserBrowser;
let attacker: http.Server;
let attackerUrl: string;
let roomId: string;

/** Opens the room socket and the device socket; resolves with what each got within 5 s. */
const PROBE = (nodeWs: string, room: string) => `
  window.__probe = Promise.all(["${nodeWs}/api/v1/rooms/${room}/socket", "${nodeWs}/api/v1/socket"].map((url) => new Promise((resolve) => {
    const got = { url, opened: false, frames: [], closed: null };
    const ws = new WebSocket(url);
    ws.onopen = () => { got.opened = true; ws.send(JSON.stringify({ type: "msg.send", clientId: "hijack", text: "sent by another site" })); };
    ws.onmessage = (e) => got.frames.push(String(e.data).slice(0, 200));
    ws.onclose = (e) => { got.closed = e.code; resolve(got); };
    setTimeout(() => { try { ws.close(); } catch {} resolve(got); }, 5000);
  })));
`;

beforeAll(async () => {
  let admin: string;
  ({ node, admin } = await withNode());
  await createUser(node.url, admin, { username: "target", password: "correct horse battery", displayName: "Target" });
  const token = await loginAs(node.url, "target", "correct horse battery");
  roomId = (await rest(node.url, token, "POST", "/rooms", { name: "Board only", visibility: "private" })).id;
  await rest(node.url, token, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { clientId: "secret", text: "the secret plan" });

  const port = await freePort();
  const nodeWs = node.wsUrl;
  attacker = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>cute cats</title><script>${PROBE(nodeWs, encodeURIComponent(roomId))}</script>`);
  });
  await new Promise<void>((resolve) => attacker.listen(port, "127.0.0.1", resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  browser = await openBrowser(node.url);
  await signIn(browser.page, "target", "correct horse battery");
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => attacker?.close(r));
  await node?.stop();
});

describe("a page on another port of the node's host", () => {
  it("gets no socket and no frame with the signed-in person's cookie", async () => {
    const page = await browser.context.newPage();
    await page.goto(attackerUrl);
    const results = (await page.evaluate("window.__probe")) as { url: string; opened: boolean; frames: string[]; closed: number | null }[];
    for (const r of results) {
      expect(r.frames, r.url).toEqual([]);
      expect(r.opened, r.url).toBe(false);
    }
    await page.close();
    // Nothing was sent on the person's behalf.
    const token = await loginAs(node.url, "target", "correct horse battery");
    const history = await rest(node.url, token, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`);
    expect(history.messages.map((m: { text: string }) => m.text)).toEqual(["the secret plan"]);
  });

  it("while the node's own page opens both sockets with the same cookie", async () => {
    await browser.page.goto(node.url);
    await browser.page.evaluate(PROBE(node.wsUrl, encodeURIComponent(roomId)));
    const results = (await browser.page.evaluate("window.__probe")) as { url: string; opened: boolean; frames: string[] }[];
    for (const r of results) expect(r.opened, r.url).toBe(true);
    expect(results[0].frames.some((f) => f.includes('"hello"'))).toBe(true);
    expect(results[1].frames.some((f) => f.includes('"inbox.hello"'))).toBe(true);
  });
});
