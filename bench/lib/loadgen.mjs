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
  }
}

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

/** Open one room socket; resolves after `hello`. */
function connect(wsBase, roomId, token, meter, onAck) {
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
          if (meter.recording) meter.acks.push(now() - t);
        }
        onAck?.(ws, id);
      };
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
            if (meter.recording) meter.deliveries.push(now() - t);
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
          sockets[i] = await connect(wsBase, plan[i].roomId, plan[i].token, meter, onAck);
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
 * Send at `rate` msg/s for `durationMs`, round-robin over `senders` ([{ws, room}]).
 * Each sender has at most `window` unacked messages (a sender at its window skips a tick).
 */
async function drive(meter, senders, rate, durationMs, { window = 1000, tag = "m" } = {}) {
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
        inflight.set(s.ws, inflight.get(s.ws) + 1);
        s.ws.send(`{"type":"msg.send","clientId":"${clientId}","text":"${TEXT} ${sent}"}`);
        perRoomSent.set(s.room, (perRoomSent.get(s.room) ?? 0) + 1);
        sent++;
      }
      if (elapsed >= durationMs) return resolve();
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
 * fanout: rooms = [{ roomId, tokens: [..], senders: n }] — the first `senders` sockets
 * of each room send. rate = total msg/s.
 */
async function fanout(t) {
  readers = !!t.readers;
  readEveryMs = t.readEveryMs ?? 1000;
  const meter = new Meter();
  const plan = [];
  for (const r of t.rooms) r.tokens.forEach((token) => plan.push({ roomId: r.roomId, token }));
  const conn = await connectAll(t.wsBase, plan, meter, t.connectConcurrency ?? 50, onAckGlobal);
  if (conn.failed) throw new Error(`${conn.failed} sockets failed to connect: ${conn.firstError}`);
  const receiversByRoom = new Map();
  const senders = [];
  let k = 0;
  for (const r of t.rooms) {
    receiversByRoom.set(r.roomId, r.tokens.length);
    for (let i = 0; i < r.tokens.length; i++, k++) if (i < r.senders) senders.push({ ws: conn.sockets[k], room: r.roomId });
  }
  await sleep(t.settleMs ?? 500);
  if (t.warmupMs) {
    // Not recorded: wakes the objects, fills caches and lets the JIT settle, for both servers alike.
    const w = await drive(meter, senders, Math.max(10, Math.round((t.rates ?? [t.rate])[0] / 2)), t.warmupMs, { window: t.window ?? 1000, tag: "warm" });
    let expected = 0;
    for (const [room, n] of w.perRoomSent) expected += n * receiversByRoom.get(room);
    await drain(meter, expected, t.drainMs ?? 3000);
    await sleep(500);
  }
  const lgCpu0 = process.cpuUsage();
  const cpu0 = cpuSeconds(t.pid);
  const phases = [];
  const rates = [...(t.rates ?? [t.rate])];
  let retried = -1;
  for (let pi = 0; pi < rates.length; pi++) {
    const rate = rates[pi];
    meter.deliveries = [];
    meter.acks = [];
    const d0 = meter.delivered;
    const r0 = readsSent;
    const c0 = cpuSeconds(t.pid);
    const l0 = process.cpuUsage();
    const res = await drive(meter, senders, rate, t.durationMs, { window: t.window ?? 1000, tag: `p${pi}${retried === pi ? "r" : ""}m` });
    let expected = 0;
    for (const [room, n] of res.perRoomSent) expected += n * receiversByRoom.get(room);
    await drain(meter, d0 + expected, t.drainMs ?? 3000);
    const c1 = cpuSeconds(t.pid);
    const l1 = process.cpuUsage(l0);
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
      serverRss: rssBytes(t.pid),
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
  const result = { sockets: plan.length, connectMs: conn.ms, phases, serverCpuTotalS: cpuSeconds(t.pid) - cpu0, loadgenCpuTotal: process.cpuUsage(lgCpu0), errors: meter.errors, serverRss: rssBytes(t.pid) };
  for (const ws of conn.sockets) ws?.terminate();
  return result;
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
  try {
    const result = msg.task === "fanout" ? await fanout(msg) : msg.task === "idle" ? await idle(msg) : null;
    process.send({ ok: true, result });
  } catch (e) {
    process.send({ ok: false, error: String(e?.stack ?? e) });
  }
});
