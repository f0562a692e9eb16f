/**
 * A cut to one branch must not slow the room for anyone else. Three real
 * nodes, a room homed on beijing with members on all three, a steady stream
 * of sends at the home (200 msg/s, the bench's cluster cut); the link
 * beijing↔shanghai is cut and healed, two ways: refused (every attempt fails
 * at once — what made the room retry its push hundreds of times a second, each
 * time reading, serialising and signing up to 500 messages, until the node's
 * one isolate had no time left for its own people) and black-holed
 * (connections open, nothing answers: every request waits for its timeout).
 *
 * During the cut beijing's senders get their acks, beijing's and shenzhen's
 * viewers their messages, and REST history its answer, all promptly;
 * beijing never counts its link to shenzhen down; after the heal shanghai's
 * mirror has every message once, with no gap. While refused, beijing tries
 * shanghai a few times a second at most (back-off), not on every change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loginAs } from "../harness";
import { makeUser, type TestUser } from "../e2e/client";
import { recordFigures } from "../figures";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
const RATE_PER_SENDER = 100; // two senders: 200 msg/s
const WARM_MS = 2000;
const CUT_MS = 12_000;
const AFTER_MS = 2000;

let cluster: TestCluster;
const people: Record<string, TestUser[]> = {};

/** A raw room socket that timestamps every ack and every delivered message by clientId. */
function openSocket(node: string, roomId: string, token: string): Promise<{ ws: WebSocket; acks: Map<string, number>; seen: Map<string, number> }> {
  const url = `${cluster.nodes[node].wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const acks = new Map<string, number>();
  const seen = new Map<string, number>();
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString());
    if (f.type === "msg.ack") acks.set(f.clientId, Date.now());
    if (f.type === "msg.new" && f.message?.clientId) seen.set(f.message.clientId, Date.now());
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, acks, seen }));
    ws.once("error", reject);
  });
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] : 0;
}

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 0 } });
  for (const node of cluster.names) {
    const admin = await loginAs(cluster.nodes[node].url, "admin", PASSWORD);
    people[node] = [];
    for (let i = 0; i < 5; i++) people[node].push(await makeUser(cluster.nodes[node].url, admin, `${node.slice(0, 2)}${i}`));
  }
  const beijingAdmin = await loginAs(cluster.nodes.beijing.url, "admin", PASSWORD);
  await eventually("beijing knows everyone", async () => (await callNode(cluster, "beijing", beijingAdmin, "GET", "/users?q=")).body?.users?.length >= 18, 20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a cut under load", () => {
  it.each(["refused", "black-holed"] as const)("(%s) does not stall the home room for its own members nor for the third node; the cut node catches up once, with no gap", async (mode) => {
    const [owner, ...rest] = people.beijing;
    const members = [...rest, ...people.shanghai, ...people.shenzhen].map((p) => p.id);
    const made = await callNode(cluster, "beijing", owner.token, "POST", "/rooms", { name: `cut ${mode}`, visibility: "private", members });
    expect(made.status).toBe(201);
    const roomId: string = made.body.id;
    for (const node of ["shanghai", "shenzhen"]) {
      const p = people[node][0];
      await eventually(`${node} has the room`, async () => (await callNode(cluster, node, p.token, "GET", `/rooms/${encodeURIComponent(roomId)}`)).status === 200);
    }
    const senders = [await openSocket("beijing", roomId, owner.token), await openSocket("beijing", roomId, rest[0].token)];
    const homeViewer = await openSocket("beijing", roomId, rest[1].token);
    const farViewer = await openSocket("shenzhen", roomId, people.shenzhen[0].token);

    const sentAt = new Map<string, number>();
    let n = 0;
    const timers = senders.map((s, k) =>
      setInterval(() => {
        const clientId = `c${k}-${++n}`;
        sentAt.set(clientId, Date.now());
        s.ws.send(JSON.stringify({ type: "msg.send", clientId, text: `message ${clientId}` }));
      }, 1000 / RATE_PER_SENDER),
    );
    // Every 500 ms: how long REST history takes at the home, and whether it still counts shenzhen up.
    const probes: number[] = [];
    const shenzhenStates = new Set<string>();
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const at = Date.now();
        const h = await callNode(cluster, "beijing", rest[2].token, "GET", `/rooms/${encodeURIComponent(roomId)}/messages?limit=1`, undefined, { timeoutMs: 30_000 });
        probes.push(h.status === 200 ? Date.now() - at : 30_000);
        const view = await callNode(cluster, "beijing", rest[2].token, "GET", "/cluster", undefined, { timeoutMs: 30_000 });
        shenzhenStates.add(view.body?.nodes?.find((x: { node: string }) => x.node === "shenzhen")?.state ?? "no answer");
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    await new Promise((r) => setTimeout(r, WARM_MS));
    const cutAt = Date.now();
    probes.length = 0;
    shenzhenStates.clear();
    const tries = cluster.proxies.beijing.shanghai.rejected;
    if (mode === "refused") cluster.reject("beijing", "shanghai");
    else cluster.blackhole("beijing", "shanghai");
    await new Promise((r) => setTimeout(r, CUT_MS));
    const triesPerS = (cluster.proxies.beijing.shanghai.rejected - tries) / (CUT_MS / 1000);
    probing = false;
    await prober;
    const healAt = Date.now();
    await cluster.heal("beijing", "shanghai");
    await new Promise((r) => setTimeout(r, AFTER_MS));
    for (const t of timers) clearInterval(t);
    const total = sentAt.size;

    // Everything sent reaches the home's senders and viewers, and shenzhen.
    await eventually("every ack", async () => senders.reduce((a, s) => a + s.acks.size, 0) === total, 30_000);
    await eventually("every message at beijing's viewer", async () => homeViewer.seen.size === total, 30_000);
    await eventually("every message at shenzhen's viewer", async () => farViewer.seen.size === total, 30_000);

    const during = [...sentAt].filter(([, at]) => at >= cutAt && at < healAt);
    const ack = during.map(([id, at]) => (senders[0].acks.get(id) ?? senders[1].acks.get(id)!) - at);
    const home = during.map(([id, at]) => homeViewer.seen.get(id)! - at);
    const far = during.map(([id, at]) => farViewer.seen.get(id)! - at);
    const figures = { ackP99: p99(ack), homeP99: p99(home), shenzhenP99: p99(far), historyMax: Math.max(...probes), triesPerS };
    console.log(`${mode} cut (${during.length} messages): ${JSON.stringify(figures)}; shenzhen seen as ${[...shenzhenStates]}`);
    recordFigures("cluster", {
      [`${mode} cut at 200 msg/s: home acks p99 (ms)`]: figures.ackP99,
      [`${mode} cut at 200 msg/s: home viewers p99 (ms)`]: figures.homeP99,
      [`${mode} cut at 200 msg/s: third node viewers p99 (ms)`]: figures.shenzhenP99,
      [`${mode} cut at 200 msg/s: REST history at the home, slowest (ms)`]: figures.historyMax,
      ...(mode === "refused" ? { "refused cut at 200 msg/s: connection attempts beijing→shanghai per second": triesPerS } : {}),
    });

    // After the heal shanghai's mirror has every message, once, in seq order.
    const reader = people.shanghai[0];
    let history: { seq: number; clientId: string }[] = [];
    await eventually(
      "shanghai caught up",
      async () => {
        const page = await callNode(cluster, "shanghai", reader.token, "GET", `/rooms/${encodeURIComponent(roomId)}/messages?limit=1`);
        return page.status === 200 && page.body.lastSeq >= total && page.body.messages[0]?.seq === page.body.lastSeq;
      },
      30_000,
    );
    for (let after = 0; ; ) {
      const page = await callNode(cluster, "shanghai", reader.token, "GET", `/rooms/${encodeURIComponent(roomId)}/messages?after=${after}&limit=100`);
      expect(page.status).toBe(200);
      history.push(...page.body.messages);
      if (!page.body.hasMore || page.body.messages.length === 0) break;
      after = page.body.messages[page.body.messages.length - 1].seq;
    }
    expect(history.map((m) => m.seq)).toEqual(Array.from({ length: history.length }, (_, i) => i + 1));
    const sent = history.filter((m) => m.clientId && sentAt.has(m.clientId));
    expect(sent.length).toBe(total);
    expect(new Set(sent.map((m) => m.clientId)).size).toBe(total);

    for (const s of [...senders, homeViewer, farViewer]) s.ws.close();
    // Heartbeats (1 every 1.5 s), the room's push and inbox deliveries on their back-off, presence: a handful a second.
    if (mode === "refused") expect(triesPerS).toBeLessThan(5);
    expect(shenzhenStates).toEqual(new Set(["up"]));
    expect(figures.ackP99).toBeLessThan(1000);
    expect(figures.homeP99).toBeLessThan(1000);
    expect(figures.shenzhenP99).toBeLessThan(1500);
    expect(figures.historyMax).toBeLessThan(1000);
  }, 180_000);
});
