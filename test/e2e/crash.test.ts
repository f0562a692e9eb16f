/**
 * Invariants 1, 2 and 3 under `kill -9`, against a real `workerd serve`.
 *
 * Three people send continuously into two rooms over room sockets (one socket
 * per person per room, a few messages in flight each, every message with its
 * own clientId). Mid-stream the node is killed, restarted, every socket
 * reconnects with `?afterSeq=<last seq it saw>` and resends whatever was sent
 * but not acknowledged, with the same clientId and the same session token.
 * Twenty times, with one idle spell half-way in which the room objects
 * hibernate under open sockets before the load resumes. Then, per room:
 *   1. every acknowledged message is in REST history, under the seq its ack named;
 *   2. no clientId is stored twice (retries across the crash were recognised);
 *   3. the seqs are exactly 1..N, and every socket saw exactly 1..N, in order,
 *      each once, through msg.new live plus the `sync` frame of each reconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutpostNode } from "../harness";
import { fullHistory, roomWs, sleep, type RoomWs, type TestUser } from "./client";
import { withNode } from "../fixtures";
import type { Message } from "../../protocol/models";
import { recordFigures } from "../figures";

/** kill -9 cycles (the fault suite's figure: 20) */
const CYCLES = 20;
/** the cycle after which all clients go idle until the room objects hibernate */
const HIBERNATE_AT = 10;
/** messages each socket keeps in flight */
const WINDOW = 4;

let node: OutpostNode;
let users: TestUser[] = [];
let rooms: string[] = [];

interface Stream {
  key: string;
  user: TestUser;
  roomId: string;
  client: RoomWs | null;
  running: boolean;
  counter: number;
  /** clientId → text: sent (maybe more than once) and not yet acknowledged */
  pending: Map<string, string>;
  /** every seq this socket was shown (msg.new and sync), in arrival order */
  seen: number[];
  /** per reconnect: the afterSeq it gave, and what its sync frame held */
  syncs: { afterSeq: number; helloLastSeq: number; lastSeq: number; seqs: number[]; tooFarBehind: boolean }[];
}

/** room → clientId → seq, from msg.ack frames */
const acked = new Map<string, Map<string, number>>();
const problems: string[] = [];
/** resends the node recognised as already stored (the ack was lost in the crash) */
let duplicateAcks = 0;
const streams: Stream[] = [];

beforeAll(async () => {
  // Three people send as fast as acks come back (hundreds a second each): this test is
  // about durability under load, so the per-user message budget is off here.
  const t = await withNode({ limits: { messagesPerSecondPerUser: 0 } });
  node = t.node;
  users = [];
  for (const name of ["ana", "ben", "cho"]) users.push(await t.user(name));
  rooms = [];
  for (const name of ["ops", "sales"]) {
    rooms.push((await t.room(users[0].token, name, [users[1].id, users[2].id])).id);
  }
  for (const roomId of rooms) acked.set(roomId, new Map());
  for (const user of users) {
    for (const roomId of rooms) {
      streams.push({ key: `${user.username}-${rooms.indexOf(roomId)}`, user, roomId, client: null, running: false, counter: 0, pending: new Map(), seen: [], syncs: [] });
    }
  }
}, 90000);

afterAll(async () => {
  for (const s of streams) s.client?.ws.terminate();
  await node?.stop();
});

function pump(s: Stream) {
  while (s.running && s.client && s.pending.size < WINDOW) {
    const clientId = `${s.key}-${s.counter++}`;
    const text = `message ${clientId}`;
    s.pending.set(clientId, text);
    s.client.send({ type: "msg.send", clientId, text });
  }
}

function onFrame(s: Stream, f: RoomWs["frames"][number]) {
  switch (f.type) {
    case "msg.ack": {
      const room = acked.get(s.roomId)!;
      const before = room.get(f.clientId);
      if (before !== undefined && before !== f.seq) problems.push(`${f.clientId} acked as seq ${before} and later as ${f.seq}`);
      if (!s.pending.has(f.clientId) && before === undefined) problems.push(`ack for a clientId never sent: ${f.clientId}`);
      room.set(f.clientId, f.seq);
      if (f.duplicate) duplicateAcks++;
      s.pending.delete(f.clientId);
      pump(s);
      return;
    }
    case "msg.new":
      s.seen.push(f.message.seq);
      return;
    case "sync":
      for (const m of f.messages) s.seen.push(m.seq);
      return;
    case "error":
      problems.push(`${s.key}: error frame ${JSON.stringify(f)}`);
  }
}

/** Connect with ?afterSeq=<last seq seen>, check the sync frame, resend what is unacknowledged, resume sending. */
async function connect(s: Stream, send: boolean) {
  const afterSeq = s.seen.length ? s.seen[s.seen.length - 1] : 0;
  const client = await roomWs(`${node.wsUrl}/api/v1/rooms/${s.roomId}/socket?afterSeq=${afterSeq}`, s.user.token);
  const hello = await client.next("hello", 20000);
  const sync = await client.next("sync", 20000);
  s.syncs.push({ afterSeq, helloLastSeq: hello.lastSeq, lastSeq: sync.lastSeq, seqs: sync.messages.map((m) => m.seq), tooFarBehind: sync.tooFarBehind });
  for (const m of sync.messages) s.seen.push(m.seq);
  // Every frame after the sync goes through onFrame, including any that arrived while we awaited it
  // (the harness buffers all frames in client.frames; its listener runs before this one).
  let next = client.frames.indexOf(sync) + 1;
  const drain = () => {
    while (next < client.frames.length) onFrame(s, client.frames[next++]);
  };
  client.ws.on("message", drain);
  drain();
  s.client = client;
  for (const [clientId, text] of s.pending) client.send({ type: "msg.send", clientId, text });
  s.running = send;
  pump(s);
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: () => string) {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what()}`);
    await sleep(25);
  }
}

describe("kill -9 while clients send", () => {
  it(`loses no acknowledged message, stores no retry twice, leaves no gap (${CYCLES} cycles)`, async () => {
    const started = Date.now();
    const inFlightAtKill: number[] = [];
    const ackedBeforeKill: number[] = [];

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      await Promise.all(streams.map((s) => connect(s, true)));
      // Let traffic flow, then crash at a moment the test does not choose exactly.
      const total = () => [...acked.values()].reduce((n, m) => n + m.size, 0);
      const target = total() + 150;
      await waitFor(() => total() >= target, 20000, () => `150 more acks (cycle ${cycle})`);
      if (cycle === HIBERNATE_AT) {
        // Half-way, everyone falls quiet long enough for workerd to evict the idle room
        // objects (~10 s) while their sockets stay open; then the load resumes on the
        // same sockets and the next kill hits objects that were rebuilt from hibernation.
        for (const st of streams) st.running = false;
        await waitFor(() => streams.every((st) => st.pending.size === 0), 20000, () => "quiet before hibernation");
        await sleep(12_000);
        for (const st of streams) {
          st.running = true;
          pump(st);
        }
        const resumed = total() + 150;
        await waitFor(() => total() >= resumed, 20000, () => "150 acks after hibernation");
      }
      await sleep(200 + Math.floor(Math.random() * 300));
      inFlightAtKill.push(streams.reduce((n, s) => n + s.pending.size, 0));
      ackedBeforeKill.push(total());
      await node.kill9();
      for (const s of streams) s.running = false;
      await Promise.all(streams.map((s) => s.client!.closed));
      await node.restart();
    }

    // After the last restart: reconnect, resend, send a little more, then drain every pending message.
    await Promise.all(streams.map((s) => connect(s, true)));
    await sleep(500);
    for (const s of streams) s.running = false;
    await waitFor(
      () => streams.every((s) => s.pending.size === 0),
      30000,
      () => `acks for ${streams.reduce((n, s) => n + s.pending.size, 0)} pending messages; problems: ${problems.slice(0, 5).join("; ")}`,
    );

    // Every socket has been shown every message of its room (the last msg.new frames may still be on the way).
    const lastSeqOf = new Map<string, number>();
    for (const roomId of rooms) lastSeqOf.set(roomId, Math.max(...acked.get(roomId)!.values()));
    await waitFor(
      () => streams.every((s) => s.seen[s.seen.length - 1] >= lastSeqOf.get(s.roomId)!),
      15000,
      () => `msg.new frames (${streams.map((s) => `${s.key}:${s.seen.length}/${lastSeqOf.get(s.roomId)}`).join(" ")})`,
    );

    expect(problems).toEqual([]);

    // ---- REST history is the truth: acknowledged ⇒ present once, under its seq; seqs 1..N.
    let ackedTotal = 0;
    let present = 0;
    let duplicated = 0;
    for (const roomId of rooms) {
      const history = await fullHistory(node.url, users[0].token, roomId);
      const seqs = history.map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: history.length }, (_, i) => i + 1));
      const byClientId = new Map<string, Message[]>();
      for (const m of history) byClientId.set(`${m.senderId}|${m.clientId}`, [...(byClientId.get(`${m.senderId}|${m.clientId}`) ?? []), m]);
      const dups = [...byClientId.values()].filter((ms) => ms.length > 1);
      duplicated += dups.reduce((n, ms) => n + ms.length - 1, 0);
      expect(dups.map((ms) => ms[0].clientId)).toEqual([]);

      const stored = new Map(history.map((m) => [m.clientId, m]));
      const roomAcks = acked.get(roomId)!;
      const missing = [...roomAcks.keys()].filter((id) => !stored.has(id));
      expect(missing, "acknowledged messages missing after kill -9").toEqual([]);
      for (const [clientId, seq] of roomAcks) expect(stored.get(clientId)!.seq, `${clientId}'s seq`).toBe(seq);
      // Everything stored was sent by one of our clients and eventually acknowledged.
      expect(history.filter((m) => !roomAcks.has(m.clientId)).map((m) => m.clientId)).toEqual([]);
      for (const m of history) expect(m.text).toBe(`message ${m.clientId}`);
      ackedTotal += roomAcks.size;
      present += history.length;
    }

    // ---- Resume: each reconnect's sync held exactly what the socket missed; no socket saw a seq twice or skipped one.
    for (const s of streams) {
      for (const sync of s.syncs) {
        expect(sync.tooFarBehind).toBe(false);
        expect(sync.lastSeq).toBe(sync.helloLastSeq);
        expect(sync.seqs, `${s.key} sync after ${sync.afterSeq}`).toEqual(Array.from({ length: sync.lastSeq - sync.afterSeq }, (_, i) => sync.afterSeq + i + 1));
      }
      const n = lastSeqOf.get(s.roomId)!;
      expect(s.seen, `${s.key}: what the socket was shown`).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
    // Resumes after a crash did carry messages (otherwise the sync check above proved nothing).
    expect(streams.some((s) => s.syncs.slice(1).some((sync) => sync.seqs.length > 0))).toBe(true);
    expect(inFlightAtKill.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    console.log(
      `crash: acked=${ackedTotal}, present=${present}, duplicated=${duplicated}, cycles=${CYCLES}` +
        ` (in flight at each kill: ${inFlightAtKill.join("/")}, acked before each kill: ${ackedBeforeKill.join("/")}, resends already stored: ${duplicateAcks}, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    recordFigures("crash", {
      "kill -9 cycles under load": CYCLES,
      "clients (sockets)": streams.length,
      "messages acknowledged": ackedTotal,
      "acknowledged and present after restarts": present,
      "duplicated": duplicated,
      "messages in flight at the kills (total)": inFlightAtKill.reduce((a, b) => a + b, 0),
      "resends recognised as already stored": duplicateAcks,
      "resume gaps or repeats": 0,
      "idle spells with hibernated room objects, then load again": 1,
      "seconds": Number(((Date.now() - started) / 1000).toFixed(1)),
    });
    expect(present).toBe(ackedTotal);
    expect(duplicated).toBe(0);
  }, 300_000);
});
