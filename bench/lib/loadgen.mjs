/**
 * The load generator: a separate Node process (forked by bench/run.mjs and pinned to
 * core 0) holding every client socket (`ws`, offering permessage-deflate as browsers
 * do). It receives one task over IPC, runs it for a bounded time and answers with the
 * measurements. Server CPU/RSS are read from /proc/<serverPid> around the send phase.
 */
import fs from "node:fs";
import WebSocket from "ws";

const CLK = 100;
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK;
}
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}
// A task names one server (`pid`) or several (`pids`: the nodes of a cluster, whose CPU and RSS add up).
const pidsOf = (t) => t.pids ?? [t.pid];
const serverCpu = (t) => pidsOf(t).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const serverRss = (t) => pidsOf(t).reduce((sum, pid) => sum + rssBytes(pid), 0);

/**
 * Ask the bench (runLoadgen's `onEvent` in servers.mjs) to do something now and wait for
 * its answer: cut or heal a link, note the links' byte counters at a phase boundary.
 */
let asks = 0;
const replies = new Map();
function ask(event, data) {
  return new Promise((resolve, reject) => {
    const id = ++asks;
    replies.set(id, { resolve, reject });
    process.send({ event, id, data });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

export function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function summary(arr) {
  const s = Float64Array.from(arr).sort();
  const r = (x) => (x === null ? null : Math.round(x * 100) / 100);
  return { n: s.length, p50: r(pct(s, 50)), p95: r(pct(s, 95)), p99: r(pct(s, 99)), max: r(s.length ? s[s.length - 1] : null) };
}

/** OUTPOST_BENCH_TRACE=file: every recorded delivery, one tab-separated line (pid, clientId, sender's group, receiver's group, sent at, ms), appended when a task ends */
const TRACE = process.env.OUTPOST_BENCH_TRACE ? [] : null;

/** Shared state of a run: send times by clientId, latencies of deliveries and acks. */
class Meter {
  constructor() {
    this.sentAt = new Map();
    this.deliveries = [];
    this.acks = [];
    this.delivered = 0;
    this.acked = 0;
    this.errors = 0;
    this.recording = true;
    // With groups (the node a socket is connected to): who sent each message, and
    // latencies by "sender's group>receiver's group", acks by sender's group.
    this.sentBy = new Map();
    this.byPair = new Map();
    this.acksByGroup = new Map();
    // Optional observers (the catch-up task): (clientId, group, ms) for every known delivery
    // and ack, and the clientId of every msg.queued / error frame.
    this.onDeliver = null;
    this.onAck = null;
    this.onQueued = null;
    this.onError = null;
    // With `countFrames`: WebSocket messages and `receipt` events received, by group.
    this.frameCounts = null;
  }
}
const pushTo = (map, key, v) => (map.get(key) ?? map.set(key, []).get(key)).push(v);
const summaries = (map) => Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([k, xs]) => [k, summary(xs)]));

/** `readers`: every receiver marks messages read as they arrive, at most once per `readEveryMs` (set by the task). */
let readers = false;
let readsSent = 0;
let readEveryMs = 1000;
const lastRead = new WeakMap();
function markRead(ws, seq) {
  const prev = lastRead.get(ws);
  const t = now();
  if (prev && (prev.seq >= seq || t - prev.at < readEveryMs)) return;
  lastRead.set(ws, { seq, at: t });
  ws.send(`{"type":"read","seq":${seq}}`);
  readsSent++;
}

function seqOf(s, at) {
  const i = s.indexOf('"seq":', at);
  return i < 0 ? 0 : parseInt(s.slice(i + 6, i + 22), 10) || 0;
}

function clientIdOf(s, at) {
  const i = s.indexOf('"clientId":"', at);
  if (i < 0) return null;
  return s.slice(i + 12, s.indexOf('"', i + 12));
}

/** Open one room socket; resolves after `hello`. `group`: the node it is connected to, for latencies by node. */
function connect(wsBase, roomId, token, meter, onAck, group) {
  return new Promise((resolve, reject) => {
    // ?batch=1: take grouped frames under load (the baseline ignores the parameter).
    const ws = new WebSocket(`${wsBase}/api/v1/rooms/${roomId}/socket?batch=1`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: true });
    let hello = false;
    const timer = setTimeout(() => (ws.terminate(), reject(new Error("connect timeout"))), 30000);
    ws.on("message", (data) => {
      const s = data.toString();
      if (!hello) {
        if (s.startsWith('{"type":"hello"')) {
          hello = true;
          clearTimeout(timer);
          resolve(ws);
        }
        return;
      }
      const ack = (at) => {
        const id = clientIdOf(s, at);
        const t = meter.sentAt.get(id);
        if (t !== undefined) {
          meter.acked++;
          const ms = now() - t;
          if (meter.recording) {
            meter.acks.push(ms);
            if (group) pushTo(meter.acksByGroup, group, ms);
          }
          meter.onAck?.(id, group, ms, seqOf(s, at));
        }
        onAck?.(ws, id);
      };
      if (meter.frameCounts) {
        const c = meter.frameCounts.get(group) ?? meter.frameCounts.set(group, { wire: 0, receipts: 0 }).get(group);
        c.wire++;
        for (let at = s.indexOf('{"type":"receipt"'); at >= 0; at = s.indexOf('{"type":"receipt"', at + 17)) c.receipts++;
      }
      if (meter.onQueued) for (let at = s.indexOf('{"type":"msg.queued"'); at >= 0; at = s.indexOf('{"type":"msg.queued"', at + 20)) meter.onQueued(clientIdOf(s, at + 20));
      if (meter.onError) for (let at = s.indexOf('{"type":"error"'); at >= 0; at = s.indexOf('{"type":"error"', at + 15)) meter.onError(s.slice(at, s.indexOf("}", at) + 1));
      if (s.startsWith('{"type":"msg.new"') || s.startsWith('{"type":"batch"')) {
        // A batch (Outpost groups events under load for clients that ask with ?batch=1)
        // carries several msg.new frames; each counts as one delivery. The sender's own
        // acks ride in the same batch, after the frames queued before them.
        let newest = 0;
        for (let at = s.indexOf('{"type":"msg.new"'); at >= 0; at = s.indexOf('{"type":"msg.new"', at + 17)) {
          const id = clientIdOf(s, at + 17);
          const t = meter.sentAt.get(id);
          if (t !== undefined) {
            meter.delivered++;
            const ms = now() - t;
            if (meter.recording) {
              meter.deliveries.push(ms);
              if (group) pushTo(meter.byPair, `${meter.sentBy.get(id)}>${group}`, ms);
            }
            meter.onDeliver?.(id, group, ms);
            if (TRACE && meter.recording) TRACE.push(`${process.pid}\t${id}\t${meter.sentBy.get(id)}\t${group}\t${t.toFixed(2)}\t${ms.toFixed(2)}`);
          }
          if (readers) newest = Math.max(newest, seqOf(s, at + 17));
        }
        // Like a person looking at the room: mark what arrived read (the web client does, throttled).
        if (newest > 0) markRead(ws, newest);
        for (let at = s.indexOf('{"type":"msg.ack"'); at >= 0; at = s.indexOf('{"type":"msg.ack"', at + 17)) ack(at + 17);
      } else if (s.startsWith('{"type":"msg.ack"')) {
        ack(0);
      } else if (s.startsWith('{"type":"error"')) {
        meter.errors++;
      }
    });
    ws.on("error", (e) => {
      clearTimeout(timer);
      if (!hello) reject(e);
    });
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
  });
}

/** Connect every (room, token) pair, `concurrency` at a time. Returns sockets in order and the time it took. */
async function connectAll(wsBase, plan, meter, concurrency, onAck) {
  // A plan entry may name its own server (a member of another node connects to that node).
  const sockets = new Array(plan.length);
  let next = 0;
  let failed = 0;
  let firstError = null;
  const t0 = now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, plan.length) }, async () => {
      while (next < plan.length) {
        const i = next++;
        try {
          sockets[i] = await connect(plan[i].wsBase ?? wsBase, plan[i].roomId, plan[i].token, meter, onAck, plan[i].group);
        } catch (e) {
          failed++;
          firstError ??= String(e.message ?? e);
        }
      }
    }),
  );
  return { sockets, ms: now() - t0, failed, firstError };
}

let currentInflight = null;
const onAckGlobal = (ws) => currentInflight?.has(ws) && currentInflight.set(ws, Math.max(0, currentInflight.get(ws) - 1));

const TEXT = "the quick brown fox jumps over the lazy dog while the team ships the release";

/**
 * Send at `rate` msg/s for `durationMs` (or until `stop()` says so), round-robin over
 * `senders` ([{ws, room, group}]). Each sender has at most `window` unacked messages (a
 * sender at its window skips a tick).
 */
async function drive(meter, senders, rate, durationMs, { window = 1000, tag = "m", stop = null } = {}) {
  const inflight = (currentInflight = new Map(senders.map((s) => [s.ws, 0])));
  let sent = 0;
  let skipped = 0;
  let rr = 0;
  const start = now();
  const perRoomSent = new Map();
  await new Promise((resolve) => {
    const tick = () => {
      const elapsed = now() - start;
      const due = Math.min(Math.floor((rate * Math.min(elapsed, durationMs)) / 1000), Math.ceil((rate * durationMs) / 1000));
      let budget = due - sent - skipped;
      while (budget-- > 0) {
        const s = senders[rr++ % senders.length];
        if (inflight.get(s.ws) >= window) {
          skipped++;
          continue;
        }
        const clientId = `${tag}${sent}`;
        meter.sentAt.set(clientId, now());
        if (s.group) meter.sentBy.set(clientId, s.group);
        inflight.set(s.ws, inflight.get(s.ws) + 1);
        s.ws.send(`{"type":"msg.send","clientId":"${clientId}","text":"${TEXT} ${sent}"}`);
        perRoomSent.set(s.room, (perRoomSent.get(s.room) ?? 0) + 1);
        sent++;
      }
      if (elapsed >= durationMs || stop?.()) return resolve();
      setTimeout(tick, 2);
    };
    tick();
  });
  return { sent, skipped, inflight, perRoomSent, elapsedMs: now() - start };
}

async function drain(meter, expected, maxMs) {
  const t0 = now();
  while (meter.delivered < expected && now() - t0 < maxMs) await sleep(20);
}

/**
 * The sockets of a task, in order: rooms = [{ roomId, tokens, senders }], where a token is
 * a string (a socket to `t.wsBase`) or { token, wsBase, group } (a member connected to
 * their own node: `group` names the node, for latencies by node).
 */
function planOf(t) {
  const plan = [];
  for (const r of t.rooms) for (const tk of r.tokens) plan.push(typeof tk === "string" ? { roomId: r.roomId, token: tk } : { roomId: r.roomId, ...tk });
  return plan;
}

/**
 * fanout: rooms = [{ roomId, tokens: [..], senders: n }] — the first `senders` sockets
 * of each room send. rate = total msg/s. `runTag`: a prefix for this run's clientIds:
 * several runs against the same room from the same sessions need one, or the room takes
 * a later run's messages for repeats of the earlier run's (same sender, session and
 * clientId) and acks them without broadcasting them.
 */
async function fanout(t) {
  readers = !!t.readers;
  readEveryMs = t.readEveryMs ?? 1000;
  const meter = new Meter();
  const plan = planOf(t);
  const conn = await connectAll(t.wsBase, plan, meter, t.connectConcurrency ?? 50, onAckGlobal);
  if (conn.failed) throw new Error(`${conn.failed} sockets failed to connect: ${conn.firstError}`);
  const receiversByRoom = new Map();
  const senders = [];
  let k = 0;
  for (const r of t.rooms) {
    receiversByRoom.set(r.roomId, r.tokens.length);
    for (let i = 0; i < r.tokens.length; i++, k++) if (i < r.senders) senders.push({ ws: conn.sockets[k], room: r.roomId, group: plan[k].group });
  }
  await sleep(t.settleMs ?? 500);
  if (t.warmupMs) {
    // Not recorded: wakes the objects, fills caches and lets the JIT settle, for both servers alike.
    const w = await drive(meter, senders, Math.max(10, Math.round((t.rates ?? [t.rate])[0] / 2)), t.warmupMs, { window: t.window ?? 1000, tag: `${t.runTag ?? ""}warm` });
    let expected = 0;
    for (const [room, n] of w.perRoomSent) expected += n * receiversByRoom.get(room);
    await drain(meter, expected, t.drainMs ?? 3000);
    await sleep(500);
  }
  const lgCpu0 = process.cpuUsage();
  const cpu0 = serverCpu(t);
  const phases = [];
  const rates = [...(t.rates ?? [t.rate])];
  let retried = -1;
  for (let pi = 0; pi < rates.length; pi++) {
    const rate = rates[pi];
    meter.deliveries = [];
    meter.acks = [];
    meter.byPair = new Map();
    meter.acksByGroup = new Map();
    if (t.countFrames) meter.frameCounts = new Map();
    const d0 = meter.delivered;
    const r0 = readsSent;
    if (t.marks) await ask("mark", { phase: pi, at: "start" });
    const c0 = serverCpu(t);
    const byPid0 = pidsOf(t).map(cpuSeconds);
    const l0 = process.cpuUsage();
    const res = await drive(meter, senders, rate, t.durationMs, { window: t.window ?? 1000, tag: `${t.runTag ?? ""}p${pi}${retried === pi ? "r" : ""}m` });
    let expected = 0;
    for (const [room, n] of res.perRoomSent) expected += n * receiversByRoom.get(room);
    await drain(meter, d0 + expected, t.drainMs ?? 3000);
    const c1 = serverCpu(t);
    const byPid1 = pidsOf(t).map(cpuSeconds);
    const l1 = process.cpuUsage(l0);
    if (t.marks) await ask("mark", { phase: pi, at: "end", sent: res.sent });
    const delivered = meter.delivered - d0;
    phases.push({
      offeredRate: rate,
      sent: res.sent,
      skipped: res.skipped,
      sentPerSec: res.sent / (res.elapsedMs / 1000),
      expectedDeliveries: expected,
      delivered,
      lost: expected - delivered,
      latencyMs: summary(meter.deliveries),
      ackMs: summary(meter.acks),
      serverCpuS: c1 - c0,
      serverCpuMsPerMsg: ((c1 - c0) * 1000) / Math.max(1, res.sent),
      serverCpuUsPerDelivery: ((c1 - c0) * 1e6) / Math.max(1, delivered),
      loadgenCpuS: (l1.user + l1.system) / 1e6,
      readsSent: readsSent - r0,
      wallS: res.elapsedMs / 1000,
      serverRss: serverRss(t),
      serverCpuSByPid: byPid1.map((c, i) => c - byPid0[i]),
      ...(meter.byPair.size ? { latencyByPair: summaries(meter.byPair), ackMsByGroup: summaries(meter.acksByGroup) } : {}),
      ...(meter.frameCounts ? { framesByGroup: Object.fromEntries(meter.frameCounts) } : {}),
    });
    const ph = phases.at(-1);
    ph.sustained = (ph.latencyMs.p99 ?? Infinity) < (t.stopWhen?.p99 ?? Infinity) && ph.sent >= rate * (t.durationMs / 1000) * 0.95 && ph.lost === 0;
    if (retried === pi) ph.retry = true;
    if (t.stopWhen && !ph.sustained) {
      // One failed step may be a hiccup of a shared machine: measure the same rate once more
      // (for both servers alike); a second failure at that rate ends the climb.
      if (!t.retryFailedStep || retried === pi) break;
      retried = pi;
      pi--;
      await sleep(1000);
      continue;
    }
    if (pi < rates.length - 1) await sleep(500);
  }
  const result = { sockets: plan.length, connectMs: conn.ms, phases, serverCpuTotalS: serverCpu(t) - cpu0, loadgenCpuTotal: process.cpuUsage(lgCpu0), errors: meter.errors, serverRss: serverRss(t) };
  for (const ws of conn.sockets) ws?.terminate();
  return result;
}

/**
 * catchup: a room spread over nodes (`rooms`: one room, members with groups, the first
 * `senders` sockets on the room's home). After a warm-up the bench cuts the link between
 * the home and node `watch` (ask "cut"); the home's senders go on at `rate` for `cutMs`
 * while members of `watch` send too (`remote`: [{ index, via: "socket" | "rest", url }],
 * one every `remoteIntervalMs`, stopping 4 s before the heal so REST sends have had their
 * answer); then the bench heals the link (ask "heal") and the home's senders go on while
 * `watch` catches up. Measured: how long until every socket of `watch` has every message
 * sent during the cut, the answers the remote sends got during the cut, and when their
 * acks arrived after the heal, in which order.
 */
async function catchup(t) {
  const meter = new Meter();
  meter.recording = false;
  const plan = planOf(t);
  const conn = await connectAll(t.wsBase, plan, meter, 50, onAckGlobal);
  if (conn.failed) throw new Error(`${conn.failed} sockets failed to connect: ${conn.firstError}`);
  const roomId = t.rooms[0].roomId;
  const senders = conn.sockets.slice(0, t.rooms[0].senders).map((ws, i) => ({ ws, room: roomId, group: plan[i].group }));
  const watchSockets = plan.filter((p) => p.group === t.watch).length;
  const cpu = () => pidsOf(t).map(cpuSeconds);
  await sleep(500);
  const warm = await drive(meter, senders, t.rate, t.warmMs, { tag: "cuwarm" });
  await drain(meter, warm.sent * plan.length, 10000);
  if (meter.delivered < warm.sent * plan.length) throw new Error(`warm-up: ${meter.delivered} of ${warm.sent * plan.length} deliveries`);

  // Deliveries of the cut's messages at the watched node, and latencies elsewhere.
  let arrivals = 0;
  let expectedArrivals = Infinity;
  let firstArrivalAt = null;
  let caughtUpAt = null;
  let healAt = Infinity;
  const atWatchAfterHeal = [];
  const cutElsewhere = new Map();
  // By second of the cut (when the message was sent), to see whether the other nodes' delay grows with the cut.
  const cutElsewhereBySecond = new Map();
  let cutAt = Infinity;
  const tailLatency = new Map();
  meter.onDeliver = (id, group, ms) => {
    if (id.startsWith("cut")) {
      if (group === t.watch) {
        arrivals++;
        firstArrivalAt ??= now();
        if (now() >= healAt) atWatchAfterHeal.push(ms);
        if (arrivals >= expectedArrivals && caughtUpAt === null) caughtUpAt = now();
      } else {
        pushTo(cutElsewhere, group, ms);
        const second = Math.floor((meter.sentAt.get(id) - cutAt) / 1000);
        const buckets = cutElsewhereBySecond.get(group) ?? cutElsewhereBySecond.set(group, []).get(group);
        (buckets[second] ??= []).push(ms);
      }
    } else if (id.startsWith("tail")) pushTo(tailLatency, group, ms);
  };
  // The watched node's own sends during the cut: their answers, and their acks.
  const remote = new Map();
  const errors = [];
  meter.onQueued = (id) => {
    const x = remote.get(id);
    if (x && x.queuedAt === null) x.queuedAt = now();
  };
  const cutAcksBySecond = [];
  let cutAcked = 0;
  meter.onAck = (id, _group, ms, seq) => {
    if (id.startsWith("cut")) {
      (cutAcksBySecond[Math.floor((meter.sentAt.get(id) - cutAt) / 1000)] ??= []).push(ms);
      cutAcked++;
    }
    const x = remote.get(id);
    if (x && x.ackAt === null) {
      x.ackAt = now();
      x.seq = seq;
    }
  };
  meter.onError = (frame) => errors.push(frame.slice(0, 300));

  await ask("cut");
  cutAt = now();
  const cpuAtCut = cpu();
  let n = 0;
  const remoteLoop = (async () => {
    while (t.remote.length && now() - cutAt < t.cutMs - 4000) {
      const spec = t.remote[n % t.remote.length];
      const clientId = `q${String(n).padStart(4, "0")}`;
      const x = { n: n++, via: spec.via, sentAt: now(), queuedAt: null, answeredAt: null, status: null, ackAt: null, seq: null };
      remote.set(clientId, x);
      meter.sentAt.set(clientId, x.sentAt);
      const text = `sent during the cut ${clientId}`;
      if (spec.via === "socket") conn.sockets[spec.index].send(JSON.stringify({ type: "msg.send", clientId, text }));
      else {
        fetch(`${spec.url}/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${plan[spec.index].token}`, "content-type": "application/json" },
          body: JSON.stringify({ clientId, text }),
        }).then(
          async (res) => {
            x.status = res.status;
            x.answeredAt = now();
            const body = await res.text();
            if (res.status === 201) {
              // Stored at once (the link was not yet known to be down): its ack is this answer.
              x.ackAt ??= x.answeredAt;
              x.seq ??= JSON.parse(body).seq ?? null;
            }
          },
          (e) => (x.status = String(e.message ?? e)),
        );
      }
      await sleep(t.remoteIntervalMs);
    }
  })();
  const during = await drive(meter, senders, t.rate, t.cutMs, { tag: "cut" });
  await remoteLoop;
  const cpuAtHeal = cpu();
  expectedArrivals = during.sent * watchSockets;
  const arrivedDuringCut = arrivals;
  await ask("heal");
  healAt = now();
  const acked = () => [...remote.values()].every((x) => x.ackAt !== null);
  let ackedAt = null;
  let markedAt = null;
  // Traffic goes on while the watched node catches up; stop 2 s after it has everything.
  const tail = drive(meter, senders, t.rate, t.maxCatchUpMs, { tag: "tail", stop: () => markedAt !== null && now() - markedAt > 2000 });
  while (now() - healAt < t.maxCatchUpMs && (caughtUpAt === null || !acked())) {
    if (acked()) ackedAt ??= now();
    await sleep(5);
  }
  if (acked()) ackedAt ??= now();
  const cpuAtCaughtUp = cpu();
  await ask("mark", { at: "caught-up" });
  markedAt = now();
  const tailRes = await tail;
  for (const ws of conn.sockets) ws?.terminate();

  const rs = [...remote.values()].sort((a, b) => a.n - b.n);
  const seqs = rs.map((x) => x.seq).filter((x) => x !== null);
  const afterHeal = rs.filter((x) => x.ackAt !== null && x.ackAt >= healAt).map((x) => x.ackAt - healAt);
  const perMsg = (a, b, count) => a.map((c, i) => ((b[i] - c) * 1000) / Math.max(1, count));
  return {
    watchSockets,
    cutMs: healAt - cutAt,
    sentDuringCut: during.sent,
    // the home's senders' messages during the cut that were acked (all of them, if the home kept its speed)
    ackedDuringCut: cutAcked,
    sentPerSecDuringCut: during.sent / (during.elapsedMs / 1000),
    arrivedAtWatchDuringCut: arrivedDuringCut,
    expectedAtWatch: expectedArrivals,
    arrivedAtWatch: arrivals,
    firstArrivalAfterHealMs: firstArrivalAt !== null && firstArrivalAt >= healAt ? firstArrivalAt - healAt : null,
    catchUpMs: caughtUpAt === null ? null : caughtUpAt - healAt,
    cutLatencyAtWatchAfterHeal: summary(atWatchAfterHeal),
    cutLatencyElsewhere: summaries(cutElsewhere),
    // [p50, max] ms of each second's messages, by node
    cutLatencyElsewhereBySecond: Object.fromEntries([...cutElsewhereBySecond].map(([group, buckets]) => [group, bySecond(buckets)])),
    // the home's senders' acks, the same way
    cutAcksBySecond: bySecond(cutAcksBySecond),
    tailLatency: summaries(tailLatency),
    tailSent: tailRes.sent,
    cpuMsPerMsgDuringCutByPid: perMsg(cpuAtCut, cpuAtHeal, during.sent),
    cpuSDuringCatchUpByPid: cpuAtCaughtUp.map((c, i) => c - cpuAtHeal[i]),
    remote: {
      sent: rs.length,
      bySocket: rs.filter((x) => x.via === "socket").length,
      byRest: rs.filter((x) => x.via === "rest").length,
      socketQueued: rs.filter((x) => x.via === "socket" && x.queuedAt !== null).length,
      socketAckedBeforeHeal: rs.filter((x) => x.via === "socket" && x.ackAt !== null && x.ackAt < healAt).length,
      socketNoAnswerBeforeHeal: rs.filter((x) => x.via === "socket" && x.queuedAt === null && (x.ackAt === null || x.ackAt >= healAt)).length,
      socketQueuedMs: summary(rs.filter((x) => x.via === "socket" && x.queuedAt !== null).map((x) => x.queuedAt - x.sentAt)),
      restStatuses: Object.fromEntries([...rs.filter((x) => x.via === "rest").reduce((m, x) => m.set(String(x.status), (m.get(String(x.status)) ?? 0) + 1), new Map())]),
      restAnswerMs: summary(rs.filter((x) => x.via === "rest" && x.answeredAt !== null).map((x) => x.answeredAt - x.sentAt)),
      acked: rs.filter((x) => x.ackAt !== null).length,
      ackAfterHealMs: summary(afterHeal),
      allAckedAfterHealMs: ackedAt === null ? null : ackedAt - healAt,
      inOrder: seqs.length === rs.length && seqs.every((q, i) => i === 0 || q > seqs[i - 1]),
      seqs: seqs.length <= 400 ? seqs : undefined,
    },
    errors: errors.slice(0, 5),
    errorCount: errors.length,
  };
}

/** [p50, max] ms of each second's latencies (null for a second without any). */
function bySecond(buckets) {
  return Array.from(buckets, (xs) => {
    const s = Float64Array.from(xs ?? []).sort();
    return s.length ? [Math.round(pct(s, 50)), Math.round(s[s.length - 1])] : null;
  });
}

/** idle: open `plan` sockets, measure connects/s and RSS growth; idle; then one message per room. */
async function idle(t) {
  const meter = new Meter();
  const plan = [];
  for (let i = 0; i < t.count; i++) plan.push({ roomId: t.rooms[i % t.rooms.length].roomId, token: t.rooms[i % t.rooms.length].tokens[Math.floor(i / t.rooms.length) % t.rooms[i % t.rooms.length].tokens.length] });
  await sleep(300);
  const rss0 = rssBytes(t.pid);
  const cpu0 = cpuSeconds(t.pid);
  const conn = await connectAll(t.wsBase, plan, meter, t.connectConcurrency ?? 100);
  const cpu1 = cpuSeconds(t.pid);
  const opened = plan.length - conn.failed;
  await sleep(2000);
  const rss1 = rssBytes(t.pid);
  const idleStart = now();
  await sleep(t.idleMs);
  const rss2 = rssBytes(t.pid);
  // First message after idle: one sender per room; every socket of the room must get it.
  const perRoom = new Map();
  plan.forEach((p, i) => conn.sockets[i] && (perRoom.get(p.roomId) ?? perRoom.set(p.roomId, []).get(p.roomId)).push(conn.sockets[i]));
  let expected = 0;
  const firstAck = [];
  const t0 = now();
  let n = 0;
  for (const [roomId, socks] of perRoom) {
    const clientId = `idle${n++}`;
    meter.sentAt.set(clientId, now());
    socks[0].send(`{"type":"msg.send","clientId":"${clientId}","text":"${TEXT} after idle"}`);
    expected += socks.length;
    void roomId;
  }
  await drain(meter, expected, 10000);
  const allDeliveredMs = now() - t0;
  for (const ws of conn.sockets) ws?.terminate();
  return {
    requested: plan.length,
    opened,
    failed: conn.failed,
    firstError: conn.firstError,
    connectMs: conn.ms,
    connectsPerSec: opened / (conn.ms / 1000),
    serverCpuPerConnectMs: ((cpu1 - cpu0) * 1000) / Math.max(1, opened),
    rssBefore: rss0,
    rssAfterConnect: rss1,
    rssAfterIdle: rss2,
    bytesPerSocket: (rss1 - rss0) / Math.max(1, opened),
    bytesPerSocketAfterIdle: (rss2 - rss0) / Math.max(1, opened),
    idleS: (now() - idleStart) / 1000,
    firstMessage: { rooms: perRoom.size, ackMs: summary(meter.acks), deliveryMs: summary(meter.deliveries), expected, delivered: meter.delivered, allDeliveredMs },
  };
}

process.on("message", async (msg) => {
  if (msg.reply !== undefined) {
    const r = replies.get(msg.reply);
    replies.delete(msg.reply);
    if (msg.error) r?.reject(new Error(msg.error));
    else r?.resolve(msg.value);
    return;
  }
  try {
    const result = msg.task === "fanout" ? await fanout(msg) : msg.task === "idle" ? await idle(msg) : msg.task === "catchup" ? await catchup(msg) : null;
    if (TRACE && TRACE.length) fs.appendFileSync(process.env.OUTPOST_BENCH_TRACE, TRACE.splice(0).join("\n") + "\n");
    process.send({ ok: true, result });
  } catch (e) {
    process.send({ ok: false, error: String(e?.stack ?? e) });
  }
});
