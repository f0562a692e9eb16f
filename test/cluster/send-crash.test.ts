/**
 * A send into a room homed elsewhere, cut short by `kill -9` of the sender's
 * node, is never lost once a repeat of it was answered.
 *
 * The sender's node records a send twice: in the room's mirror (its `sends`
 * row, which answers a client's repeat) and in the link's queue to the home
 * (which delivers it) — two objects, two SQLite files, two commits. A node
 * killed between the two commits must not leave the mirror believing a send
 * is queued while the queue never got it: the client's repeat would then be
 * answered `202 queued` and the message would never reach the home.
 *
 * The window is a few milliseconds, so the test puts many sends in it: eight
 * people on shanghai send as fast as they can into a room homed on beijing
 * (link cut, so each send is answered from the queue at once), shanghai is
 * killed while they do, restarted, every unanswered send is repeated until it
 * is answered; a few rounds of that, then the link heals and the home must
 * hold every answered message exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { whereIs } from "./where-is";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
const SENDERS = 8;
const ROUNDS = Number(process.env.SEND_CRASH_ROUNDS ?? 4);
let cluster: TestCluster;
let owner: { id: string; token: string };
const senders: { id: string; username: string; token: string }[] = [];
let roomId = "";

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 0 } });
  const admin = { beijing: await loginAs(cluster.nodes.beijing.url, "admin", PASSWORD), shanghai: await loginAs(cluster.nodes.shanghai.url, "admin", PASSWORD) };
  const made = await callNode(cluster, "beijing", admin.beijing, "POST", "/users", { username: "owner", password: USER_PASSWORD, displayName: "owner" });
  owner = { id: made.body.id, token: await loginAs(cluster.nodes.beijing.url, "owner", USER_PASSWORD) };
  for (let i = 0; i < SENDERS; i++) {
    const username = `sh${i}`;
    const m = await callNode(cluster, "shanghai", admin.shanghai, "POST", "/users", { username, password: USER_PASSWORD, displayName: username });
    senders.push({ id: m.body.id, username, token: await loginAs(cluster.nodes.shanghai.url, username, USER_PASSWORD) });
  }
  await eventually("beijing knows shanghai's people", async () => (await callNode(cluster, "beijing", owner.token, "GET", "/users?q=sh&limit=100")).body?.users?.length >= SENDERS, 20_000);
  const room = await callNode(cluster, "beijing", owner.token, "POST", "/rooms", { name: "crash", visibility: "private", members: senders.map((s) => s.id) });
  expect(room.status).toBe(201);
  roomId = room.body.id;
  for (const s of senders) await eventually(`${s.username} sees the room`, async () => (await callNode(cluster, "shanghai", s.token, "GET", `/rooms/${encodeURIComponent(roomId)}`)).status === 200, 20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a send cut short by kill -9 of the sender's node", () => {
  it("is delivered once its repeat was answered, never answered 'queued' and dropped", async () => {
    const answered = new Map<string, number>(); // clientId → status of the answer
    const path = `/rooms/${encodeURIComponent(roomId)}/messages`;
    await cluster.cut("beijing", "shanghai");
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let stop = false;
      const unanswered: { s: (typeof senders)[number]; clientId: string }[] = [];
      const sendAll = senders.map(async (s) => {
        while (!stop) {
          const clientId = `${s.username}-${n++}`;
          const r = await callNode(cluster, "shanghai", s.token, "POST", path, { clientId, text: clientId }, { timeoutMs: 5000 });
          if ([200, 201, 202].includes(r.status)) answered.set(clientId, r.status);
          else {
            unanswered.push({ s, clientId });
            return;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 400));
      await cluster.nodes.shanghai.kill9();
      stop = true;
      await Promise.all(sendAll);
      await cluster.nodes.shanghai.restart();
      // The client's send queue: the same clientId until it is answered.
      for (const { s, clientId } of unanswered) {
        const r = await eventually(`an answer for ${clientId}`, async () => {
          const res = await callNode(cluster, "shanghai", s.token, "POST", path, { clientId, text: clientId });
          return [200, 201, 202].includes(res.status) ? res : null;
        }, 20_000);
        answered.set(clientId, r.status);
      }
    }
    await cluster.heal("beijing", "shanghai");
    await eventually("shanghai's queue to beijing empty", async () => {
      const view = await callNode(cluster, "shanghai", senders[0].token, "GET", "/cluster");
      return view.status === 200 && view.body.nodes.every((x: { state: string; queued: number }) => x.state === "self" || (x.state === "up" && x.queued === 0));
    }, 30_000);
    const home: string[] = [];
    for (let after = 0; ; ) {
      const page = await callNode(cluster, "beijing", owner.token, "GET", `${path}?after=${after}&limit=100`);
      expect(page.status).toBe(200);
      home.push(...page.body.messages.map((m: { clientId: string }) => m.clientId));
      if (!page.body.hasMore || page.body.messages.length === 0) break;
      after = page.body.messages[page.body.messages.length - 1].seq;
    }
    const missing = [...answered.keys()].filter((id) => !home.includes(id));
    if (missing.length) {
      const found = whereIs({ beijing: cluster.nodes.beijing.dataDir, shanghai: cluster.nodes.shanghai.dataDir }, missing);
      for (const id of missing) console.log(`[send-crash] missing ${id} (answered ${answered.get(id)}); on disk: ${(found.get(id) ?? []).map((s) => `${s.node} ${s.table} ${s.detail}`).join("; ") || "nowhere"}`);
    }
    console.log(`[send-crash] ${ROUNDS} kills, ${answered.size} answered sends, ${home.length} at the home`);
    expect(missing, "answered sends missing at the home").toEqual([]);
    expect(new Set(home).size, "each once").toBe(home.length);
  }, 150_000);
});
