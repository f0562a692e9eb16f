/**
 * Chaos across three real branch nodes: while people on every node send into
 * rooms homed on every node, links are cut and healed at random and nodes are
 * killed with SIGKILL and restarted. Then everything heals, and the invariant
 * Matrix's federation breaks is checked: every message that got an answer
 * (stored, or queued) is present exactly once, on every node, for every
 * member, in the same order, with no gap in any room's sequence.
 *
 * CHAOS_SECONDS sets how long the chaos lasts (default 45; `npm run
 * reliability` runs it longer). Figures go to docs/RELIABILITY.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { recordFigures } from "../figures";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { whereIs } from "./where-is";

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 45);
const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
const NODES = ["beijing", "shanghai", "shenzhen"];
let cluster: TestCluster;
const people: { id: string; node: string; username: string; token: string }[] = [];
const rooms: string[] = [];

const call = (node: string, token: string, method: string, p: string, body?: unknown) => callNode(cluster, node, token, method, p, body);


const pick = <T,>(a: T[]): T => a[Math.floor(Math.random() * a.length)];

beforeAll(async () => {
  cluster = await startCluster(NODES, { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 0 } });
  for (const node of NODES) {
    const admin = await loginAs(cluster.nodes[node].url, "admin", PASSWORD);
    for (const k of [1, 2]) {
      const username = `${{ beijing: "bj", shanghai: "sh", shenzhen: "sz" }[node]}${k}`;
      const made = await call(node, admin, "POST", "/users", { username, password: USER_PASSWORD, displayName: username });
      people.push({ id: made.body.id, node, username, token: await loginAs(cluster.nodes[node].url, username, USER_PASSWORD) });
    }
  }
  const everyone = people.map((p) => p.id);
  await eventually("every node knows everyone", async () => {
    for (const node of NODES) if ((await call(node, people.find((p) => p.node === node)!.token, "GET", "/users?q=&limit=100")).body?.users?.length < people.length + 3) return false;
    return true;
  }, 20_000);
  // One shared room homed on each node, with everybody in it.
  for (const node of NODES) {
    const owner = people.find((p) => p.node === node)!;
    const made = await call(node, owner.token, "POST", "/rooms", { name: `all hands ${node}`, visibility: "private", members: everyone.filter((id) => id !== owner.id) });
    expect(made.status).toBe(201);
    rooms.push(made.body.id);
  }
  for (const p of people) for (const r of rooms) await eventually(`${p.username} sees ${r}`, async () => (await call(p.node, p.token, "GET", `/rooms/${encodeURIComponent(r)}`)).status === 200, 20_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("chaos", () => {
  it(`keeps every answered message exactly once, everywhere, in one order (${SECONDS} s of cuts, heals and kill -9)`, async () => {
    // Each attempt of a send (ms since the start, status; 0 = no answer) and each chaos event, so a
    // failure can say what was lost, when it was answered, and what the cluster was doing then.
    type Sent = { clientId: string; room: string; sender: (typeof people)[number]; answer: "stored" | "queued" | null; attempts: string[] };
    const sent: Sent[] = [];
    let stop = false;
    const events = { cuts: 0, heals: 0, kills: 0, queuedAnswers: 0, storedAnswers: 0, retries: 0 };
    const down = new Set<string>();
    const started = Date.now();
    const log: string[] = [];
    const at = () => Date.now() - started;
    const chaosEvent = (what: string) => log.push(`${at()} ms ${what}`);

    // Senders: every person sends into every room, one message at a time each, retrying
    // a message (same clientId) until it gets an answer, as a client with a send queue does.
    const sender = async (p: (typeof people)[number]) => {
      for (let n = 0; !stop; n++) {
        const room = rooms[n % rooms.length];
        const msg: Sent = { clientId: `${p.username}-${n}`, room, sender: p, answer: null, attempts: [] };
        sent.push(msg);
        for (let attempt = 0; !stop || attempt === 0; attempt++) {
          const t = at();
          const r = await call(p.node, p.token, "POST", `/rooms/${encodeURIComponent(room)}/messages`, { clientId: msg.clientId, text: `m ${msg.clientId}` });
          msg.attempts.push(`${t}–${at()} ms: ${r.status}`);
          if (r.status === 201 || r.status === 200) msg.answer = "stored";
          else if (r.status === 202) msg.answer = "queued";
          if (msg.answer) {
            events[msg.answer === "stored" ? "storedAnswers" : "queuedAnswers"]++;
            break;
          }
          events.retries++;
          await new Promise((res) => setTimeout(res, 300));
        }
        await new Promise((res) => setTimeout(res, 40 + Math.random() * 80));
      }
    };

    const chaos = async () => {
      const pairs = NODES.flatMap((a, i) => NODES.slice(i + 1).map((b) => [a, b] as const));
      const cut = new Set<string>();
      while (!stop) {
        await new Promise((r) => setTimeout(r, 1500 + Math.random() * 2500));
        if (stop) break;
        const roll = Math.random();
        if (roll < 0.45) {
          const [a, b] = pick(pairs);
          const key = `${a}|${b}`;
          if (cut.has(key)) {
            chaosEvent(`heal ${a}–${b}`);
            await cluster.heal(a, b);
            cut.delete(key);
            events.heals++;
          } else {
            chaosEvent(`cut ${a}–${b}`);
            await cluster.cut(a, b);
            cut.add(key);
            events.cuts++;
          }
        } else if (roll < 0.7 && down.size === 0) {
          const node = pick(NODES);
          down.add(node);
          events.kills++;
          chaosEvent(`kill -9 ${node}`);
          await cluster.nodes[node].kill9();
          await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000));
          chaosEvent(`restart ${node}`);
          await cluster.nodes[node].restart();
          chaosEvent(`restarted ${node}`);
          down.delete(node);
        }
      }
      for (const key of cut) {
        const [a, b] = key.split("|");
        chaosEvent(`heal ${a}–${b} (end)`);
        await cluster.heal(a, b);
      }
    };

    const workers = [...people.map(sender), chaos()];
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    stop = true;
    await Promise.all(workers);
    // Messages that never got an answer (their node was down at the very end) are tried until they do.
    for (const m of sent.filter((s) => s.answer === null)) {
      const r = await eventually(`an answer for ${m.clientId}`, async () => {
        const res = await call(m.sender.node, m.sender.token, "POST", `/rooms/${encodeURIComponent(m.room)}/messages`, { clientId: m.clientId, text: `m ${m.clientId}` });
        return [200, 201, 202].includes(res.status) ? res : null;
      }, 30_000);
      m.answer = r.status === 202 ? "queued" : "stored";
      m.attempts.push(`${at()} ms (after the chaos): ${r.status}`);
    }

    // Everything healed: queues drain and every mirror catches up.
    await eventually("every link's queue empty", async () => {
      for (const node of NODES) {
        const view = await call(node, people.find((p) => p.node === node)!.token, "GET", "/cluster");
        if (view.status !== 200 || view.body.nodes.some((n: { state: string; queued: number }) => n.state !== "self" && (n.state !== "up" || n.queued > 0))) return false;
      }
      return true;
    }, 60_000);

    const histories = new Map<string, string[]>();
    const read = async (p: (typeof people)[number], room: string) => {
      const all: string[] = [];
      let after = 0;
      for (;;) {
        const page = await call(p.node, p.token, "GET", `/rooms/${encodeURIComponent(room)}/messages?after=${after}&limit=100`);
        if (page.status !== 200) return null;
        all.push(...page.body.messages.map((m: { seq: number; clientId: string }) => `${m.seq}:${m.clientId}`));
        if (!page.body.hasMore || page.body.messages.length === 0) return all;
        after = page.body.messages[page.body.messages.length - 1].seq;
      }
    };
    // What was lost: each answered message missing from the home's history, with its answers, its
    // sender's node, the chaos around its answer, and where on disk (any node) it still is.
    const diagnose = (room: string, history: string[] | null) => {
      const have = new Set((history ?? []).map((t) => t.split(":")[1]));
      const missing = sent.filter((s) => s.room === room && !have.has(s.clientId));
      const found = whereIs(Object.fromEntries(NODES.map((n) => [n, cluster.nodes[n].dataDir])), missing.map((m) => m.clientId));
      console.log(`[chaos] ${room}: the home has ${have.size} messages; ${missing.length} answered ones missing`);
      console.log(`[chaos] events: ${log.join("; ")}`);
      for (const m of missing) {
        console.log(`[chaos] missing ${m.clientId} (${m.answer}) sent on ${m.sender.node}; attempts: ${m.attempts.join(", ")}`);
        const seen = found.get(m.clientId) ?? [];
        console.log(`[chaos]   on disk: ${seen.length ? seen.map((s) => `${s.node} ${s.table} ${s.detail} (${s.file})`).join("; ") : "nowhere"}`);
      }
    };
    for (const room of rooms) {
      const expected = sent.filter((s) => s.room === room).map((s) => s.clientId).sort();
      const home = people.find((p) => room.endsWith(`@${p.node}`))!;
      let last: string[] | null = null;
      const truth = await eventually(`the home's history of ${room} has every answered message`, async () => {
        const h = await read(home, room);
        last = h ?? last;
        return h && h.length >= expected.length ? h : null;
      }, 60_000).catch((err) => {
        diagnose(room, last);
        throw err;
      });
      if (JSON.stringify(truth.map((t) => t.split(":")[1]).sort()) !== JSON.stringify(expected)) diagnose(room, truth);
      for (const p of people) {
        // Every member, on their own node, sees the home's history exactly (the mirrors caught up).
        const seen = await eventually(`${p.username} on ${p.node} sees ${room} as the home does`, async () => {
          const h = await read(p, room);
          return h && JSON.stringify(h) === JSON.stringify(truth) ? h : null;
        }, 60_000);
        histories.set(`${room}|${p.username}`, seen);
      }
      const seqs = truth.map((t) => Number(t.split(":")[0]));
      expect(seqs, `${room}: no gap, no duplicate`).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      const clientIds = truth.map((t) => t.split(":")[1]);
      if (new Set(clientIds).size !== clientIds.length) {
        const seen = new Map<string, string[]>();
        for (const t of truth) seen.set(t.split(":")[1], [...(seen.get(t.split(":")[1]) ?? []), t.split(":")[0]]);
        console.log(room, "duplicates:", JSON.stringify([...seen].filter(([, v]) => v.length > 1).slice(0, 10)));
      }
      expect(new Set(clientIds).size, `${room}: each message once`).toBe(clientIds.length);
      expect(clientIds.sort(), `${room}: exactly the answered messages`).toEqual(expected);
    }
    recordFigures("chaos", {
      "chaos duration (s)": Math.round((Date.now() - started) / 1000),
      "nodes / rooms / people": `${NODES.length} / ${rooms.length} / ${people.length}`,
      "link cuts / heals / kill -9 of a node": `${events.cuts} / ${events.heals} / ${events.kills}`,
      "messages answered stored / queued": `${events.storedAnswers} / ${events.queuedAnswers}`,
      "client retries (no answer: node down or link timeout)": events.retries,
      "answered messages present exactly once, on every node, for every member, in one order": `${sent.length} of ${sent.length}`,
      "histories compared (room × member)": histories.size,
      "gaps / duplicates": "0 / 0",
    });
  }, SECONDS * 1000 + 300_000);
});
