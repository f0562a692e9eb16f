/**
 * The message budget of a member who sends into a room homed on another node
 * whose messages never leave it (residency "home"), on two real nodes: the
 * budget is their own node's to keep, with the room's rule — only a message the
 * home stored costs one. Sends refused by the home, sends that cannot reach it
 * during a cut, and repeats of a stored message cost nothing, and a repeat is
 * answered as the duplicate it is even on an empty budget.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { roomWs } from "../e2e/client";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
/** 10 messages at once, one more a second */
const BURST = 10;
let cluster: TestCluster;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
let roomId: string;

const enc = encodeURIComponent;
const send = (clientId: string, extra: Record<string, unknown> = {}) =>
  callNode(cluster, "shanghai", tokens.sunli, "POST", `/rooms/${enc(roomId)}/messages`, { clientId, text: `message ${clientId}`, ...extra });

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 1, messageBurstPerUser: BURST } });
  const admin = { beijing: await loginAs(cluster.nodes.beijing.url, "admin", PASSWORD), shanghai: await loginAs(cluster.nodes.shanghai.url, "admin", PASSWORD) };
  for (const [who, node] of [["liwei", "beijing"], ["sunli", "shanghai"]] as const) {
    const made = await callNode(cluster, node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    expect(made.status).toBe(201);
    ids[who] = made.body.id;
    tokens[who] = await loginAs(cluster.nodes[node].url, who, USER_PASSWORD);
  }
  await eventually("Beijing knows 孙丽", async () => (await callNode(cluster, "beijing", admin.beijing, "GET", `/users/${ids.sunli}`)).status === 200, 15_000);
  const made = await callNode(cluster, "beijing", tokens.liwei, "POST", "/rooms", { name: "病历 会诊", visibility: "private", members: [ids.sunli], residency: "home" });
  expect(made.status).toBe(201);
  roomId = made.body.id;
  await eventually("Shanghai serves the room to 孙丽", async () => (await callNode(cluster, "shanghai", tokens.sunli, "GET", `/rooms/${enc(roomId)}`)).status === 200, 15_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a member's message budget in a home-only room on another node", () => {
  it("is not spent by sends that cannot reach the home during a cut", async () => {
    await cluster.cut("beijing", "shanghai");
    const codes: string[] = [];
    for (let i = 0; i < BURST + 5; i++) codes.push((await send(`cut-${i}`)).body.error?.code);
    // Every one refused for what it is; none for the budget (each used to take one, the 10th on were 429).
    expect(codes).toEqual(Array(BURST + 5).fill("room_unreachable"));
    await cluster.heal("beijing", "shanghai");
  }, 60_000);

  it("is spent only by stored messages: refusals and repeats cost nothing, and a repeat is answered on an empty budget", async () => {
    // The link is back: the first stored message (failed attempts before it cost nothing either).
    const first = await eventually("a send reaches Beijing again", async () => {
      const r = await send("first");
      return r.status === 201 ? r.body : null;
    }, 20_000, 250);
    // Repeats of it: the same message, answered 200 (each used to cost one).
    for (let i = 0; i < BURST + 5; i++) {
      const again = await send("first");
      expect([again.status, again.body.id]).toEqual([200, first.id]);
    }
    // Refused by the home (a reply to no message): 400 each time, never 429.
    for (let i = 0; i < BURST + 5; i++) {
      const refused = await send(`bad-${i}`, { replyTo: "m_0000000000000000@beijing" });
      expect([refused.status, refused.body.error?.code]).toEqual([400, "invalid_request"]);
    }
    // So the budget still holds BURST - 1 (one a second refills besides): every one of them goes.
    for (let i = 0; i < BURST - 1; i++) expect((await send(`new-${i}`)).status, `new-${i}`).toBe(201);
    // Past it: refused with the budget's code once what refilled meanwhile (one a second) is spent —
    // within a few sends on a quiet machine; 40 leaves room for a loaded one (each send takes one,
    // and a send that took a whole second to answer would be needed to give one back).
    let limited = null;
    for (let i = 0; i < 40 && !limited; i++) {
      const r = await send(`more-${i}`);
      if (r.status === 429) limited = r;
      else expect(r.status).toBe(201);
    }
    expect(limited?.body.error?.code).toBe("rate_limited");
    // On the empty budget a repeat is still the stored message, by REST and on the room socket.
    const repeat = await send("first");
    expect([repeat.status, repeat.body.id]).toEqual([200, first.id]);
    const ws = await roomWs(`${cluster.nodes.shanghai.wsUrl}/api/v1/rooms/${enc(roomId)}/socket`, tokens.sunli);
    await ws.next("hello", 10_000);
    ws.send({ type: "msg.send", clientId: "first", text: "message first" });
    const ack = await ws.next("msg.ack", (f) => f.clientId === "first", 10_000);
    expect([ack.id, ack.duplicate]).toEqual([first.id, true]);
    await ws.close();
    // Beijing has each stored message once: first, new-0…, more-… (none of the refused or cut ones).
    const page = await callNode(cluster, "beijing", tokens.liwei, "GET", `/rooms/${enc(roomId)}/messages?limit=100`);
    const clientIds = page.body.messages.map((m: { clientId: string }) => m.clientId);
    expect(clientIds.filter((c: string) => c === "first")).toHaveLength(1);
    expect(clientIds.some((c: string) => c.startsWith("cut-") || c.startsWith("bad-"))).toBe(false);
    expect(clientIds.filter((c: string) => c.startsWith("new-"))).toHaveLength(BURST - 1);
  }, 60_000);
});
