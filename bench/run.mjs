/**
 * `npm run bench`: Outpost (real `workerd serve`) side by side with a plain Node
 * ws + better-sqlite3 baseline (bench/baseline/server.mjs), alternating, repeated.
 *
 *   node bench/run.mjs [--quick] [--only busy,readers,big,many,idle,inbox,history,startup,cluster,backup,web] [--repeats N]
 *   node bench/run.mjs --render    # docs/PERFORMANCE.md again from docs/performance.json and bench/*.md, nothing measured
 *
 * `cluster` is three nodes against one (bench/lib/cluster-scenario.mjs), not Outpost
 * against the baseline.
 * Writes docs/PERFORMANCE.md and docs/performance.json. Traffic goes to 127.0.0.1 only;
 * the load generator (bench/lib/loadgen.mjs, a separate process) is pinned to core 0 and
 * the servers to core 1 when `taskset` exists. Every phase has a time bound.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import zlib from "node:zlib";
import {
  api, benchDir, cpuSeconds, createMemberIds, createRoom, createUsers, hasTaskset, killAll, pin, prepareBuild, repoRoot, rssBytes, runLoadgen, startFloor, startServer, tmpDir,
} from "./lib/servers.mjs";
import { newestSqlite, seedBaselineRoom, seedOutpostRoom, VOCAB } from "./lib/seed.mjs";
import { pct } from "./lib/loadgen.mjs";
import { CHROMIUM, timeToFirstRoom } from "./lib/web-timing.mjs";
import { runClusterScenario } from "./lib/cluster-scenario.mjs";
import { clusterSection, clusterTargets } from "./lib/cluster-report.mjs";
import { backupSection, backupTargets, runBackupScenario } from "./lib/backup-scenario.mjs";
import Database from "better-sqlite3";
import { median } from "./lib/stats.mjs";

const { values: argv } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" }, repeats: { type: "string" }, render: { type: "boolean", default: false } } });
const QUICK = argv.quick;
const REPEATS = Number(argv.repeats ?? (QUICK ? 1 : 3));
const ONLY = argv.only ? new Set(argv.only.split(",")) : null;
const KINDS = ["outpost", "baseline"];
const HARD_LIMIT_MS = (QUICK ? 20 : 75) * 60 * 1000;
setTimeout(() => {
  console.error("bench: hard time limit reached, stopping");
  killAll();
  process.exit(2);
}, HARD_LIMIT_MS).unref();

pin(process.pid, 0);
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => (typeof x === "number" && Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

const loadgen = runLoadgen;

// ---------------------------------------------------------------- scenarios

const P = QUICK
  ? { busyS: 5, bigStepS: 2, manyRooms: 20, manyS: 5, idleSockets: 2000, idleS: 5, inboxMembers: 200, inboxS: 5, historyMsgs: 100_000, historyReqs: 200, searchReps: 10, startupRooms: 200, users: 10, clusterSmallS: 5, cutS: 10 }
  : { busyS: 15, bigStepS: 3, manyRooms: 100, manyS: 15, idleSockets: 10_000, idleS: 30, inboxMembers: 2000, inboxS: 10, historyMsgs: 1_000_000, historyReqs: 500, searchReps: 30, startupRooms: 1000, users: 50, clusterSmallS: 10, cutS: 60 };

/**
 * Bytes per message of a seeded room file: the whole file, the messages table
 * with its indexes, and the full-text index (FTS5's shadow tables), from SQLite's dbstat.
 */
function roomFileSizes(file, count) {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name").all();
    const sum = (pred) => rows.filter((r) => pred(r.name)).reduce((n, r) => n + r.bytes, 0);
    return {
      fileBytesPerMessage: round(fs.statSync(file).size / count, 1),
      messageRowBytesPerMessage: round(sum((n) => n === "messages" || n.startsWith("messages_") || n.startsWith("sqlite_autoindex_messages")) / count, 1),
      searchIndexBytesPerMessage: round(sum((n) => n.startsWith("message_fts")) / count, 1),
      mentionIndexBytesPerMessage: round(sum((n) => n.startsWith("mention_index")) / count, 1),
    };
  } finally {
    db.close();
  }
}

const roomPlan = (roomId, users, clients, senders) => ({ roomId, senders, tokens: Array.from({ length: clients }, (_, i) => users[i % users.length].token) });

/** The busy room: 50 members, all connected, 5 of them sending 200 msg/s in all. */
const busyRoom = (name) => async (s) => {
  const users = await createUsers(s, Math.min(P.users, 50));
  const roomId = await createRoom(s, users[0], name, users.map((u) => u.id));
  return { users, roomId };
};
const driveBusyRoom = async (s, st, extra = {}) =>
  (await loadgen({ task: "fanout", wsBase: s.wsUrl, pid: s.pid, rooms: [roomPlan(st.roomId, st.users, 50, 5)], rate: 200, durationMs: P.busyS * 1000, ...extra }, 120000)).phases[0];

const scenarios = {
  busy: {
    title: "Busy room: 1 room, 50 clients, 5 senders, 200 msg/s",
    floor: true,
    setup: busyRoom("busy"),
    async run(s, st) {
      const ph = await driveBusyRoom(s, st);
      return {
        p50Ms: ph.latencyMs.p50, p95Ms: ph.latencyMs.p95, p99Ms: ph.latencyMs.p99, maxMs: ph.latencyMs.max, ackP99Ms: ph.ackMs.p99,
        sentPerSec: ph.sentPerSec, lost: ph.lost, cpuMsPerMsg: ph.serverCpuMsPerMsg, cpuUsPerDelivery: ph.serverCpuUsPerDelivery, rssMB: ph.serverRss / 2 ** 20,
        loadgenCpuS: ph.loadgenCpuS, wallS: ph.wallS,
      };
    },
  },
  readers: {
    title: "Busy room with readers: the busy room, and every client marks what arrives read (at most once a second, as the SDK does)",
    setup: busyRoom("readers"),
    async run(s, st) {
      const ph = await driveBusyRoom(s, st, { readers: true, readEveryMs: 1000 });
      return {
        p50Ms: ph.latencyMs.p50, p99Ms: ph.latencyMs.p99, maxMs: ph.latencyMs.max, sentPerSec: ph.sentPerSec, lost: ph.lost,
        readsPerSec: ph.readsSent / ph.wallS, cpuMsPerMsg: ph.serverCpuMsPerMsg, cpuUsPerDelivery: ph.serverCpuUsPerDelivery,
      };
    },
  },
  big: {
    title: "Big room: 1 room, 200 clients, 10 senders, rising rate until receiver p99 ≥ 100 ms (2 s warm-up; a failed step is measured once more)",
    async setup(s) {
      // Outpost keeps at most 10 room sockets per user and room (MAX_SOCKETS_PER_USER): ≥ 20 users for 200 sockets.
      const users = await createUsers(s, Math.max(P.users, 20));
      const roomId = await createRoom(s, users[0], "big", users.map((u) => u.id));
      return { users, roomId };
    },
    async run(s, st) {
      const rates = [];
      for (let r = 100; r <= 20000; r = Math.round(r * 1.4)) rates.push(r);
      const r = await loadgen(
        { task: "fanout", wsBase: s.wsUrl, pid: s.pid, rooms: [roomPlan(st.roomId, st.users, 200, 10)], rates, durationMs: P.bigStepS * 1000, window: 20, stopWhen: { p99: 100 }, retryFailedStep: true, warmupMs: 2000, drainMs: 2000 },
        600000,
      );
      const ok = r.phases.filter((p) => p.sustained);
      const best = ok.at(-1);
      return {
        maxSustainedPerSec: best ? best.sentPerSec : 0,
        p99AtMaxMs: best?.latencyMs.p99 ?? null,
        cpuUsPerDeliveryAtMax: best?.serverCpuUsPerDelivery ?? null,
        deliveriesPerSecAtMax: best ? best.delivered / best.wallS : 0,
        loadgenCpuShareAtMax: best ? best.loadgenCpuS / best.wallS : null,
        steps: r.phases.map((p) => ({ offered: p.offeredRate, sent: round(p.sentPerSec, 0), p99: p.latencyMs.p99, lost: p.lost, sustained: p.sustained, ...(p.retry ? { retry: true } : {}), cpuUsPerDelivery: round(p.serverCpuUsPerDelivery, 1), loadgenCpu: round(p.loadgenCpuS / p.wallS, 2) })),
      };
    },
  },
  many: {
    title: `Many rooms: ${QUICK ? "20" : "100"} rooms × 20 clients, 10 msg/s per room`,
    floor: true,
    async setup(s) {
      const users = await createUsers(s, 20);
      const rooms = [];
      for (let i = 0; i < P.manyRooms; i++) rooms.push(await createRoom(s, users[0], `many-${i}`, users.map((u) => u.id)));
      return { users, rooms };
    },
    async run(s, st) {
      const r = await loadgen({ task: "fanout", wsBase: s.wsUrl, pid: s.pid, rooms: st.rooms.map((id) => roomPlan(id, st.users, 20, 1)), rate: 10 * st.rooms.length, durationMs: P.manyS * 1000 }, 180000);
      const ph = r.phases[0];
      return {
        p50Ms: ph.latencyMs.p50, p95Ms: ph.latencyMs.p95, p99Ms: ph.latencyMs.p99, maxMs: ph.latencyMs.max, sentPerSec: ph.sentPerSec, lost: ph.lost,
        cpuMsPerMsg: ph.serverCpuMsPerMsg, cpuUsPerDelivery: ph.serverCpuUsPerDelivery, rssMB: ph.serverRss / 2 ** 20, loadgenCpuS: ph.loadgenCpuS,
      };
    },
  },
  idle: {
    title: `Idle sockets: ${P.idleSockets} room sockets offering permessage-deflate, ${P.idleS} s idle`,
    async setup(s) {
      // ≤ 10 sockets per (user, room) (Outpost's MAX_SOCKETS_PER_USER): users × rooms × 10 ≥ sockets.
      const users = await createUsers(s, QUICK ? 20 : 50);
      const rooms = [];
      for (let i = 0; i < (QUICK ? 10 : 20); i++) rooms.push(await createRoom(s, users[0], `idle-${i}`, users.map((u) => u.id)));
      return { users, rooms };
    },
    async run(s, st, kind) {
      const task = { task: "idle", wsBase: s.wsUrl, pid: s.pid, rooms: st.rooms.map((id) => ({ roomId: id, tokens: st.users.map((u) => u.token) })), count: P.idleSockets, idleMs: P.idleS * 1000, connectConcurrency: 100 };
      const r = await loadgen(task, 300000);
      // The runtime floor, measured the same way right after Outpost (see bench/floor/worker.js).
      let floor = null;
      if (kind === "outpost") {
        const f = await startFloor(tmpDir("idle-floor"));
        try {
          floor = await loadgen({ ...task, wsBase: f.wsUrl, pid: f.pid }, 300000);
        } finally {
          await f.stop();
          fs.rmSync(f.dataDir, { recursive: true, force: true });
        }
      }
      return {
        ...(floor ? { floorKbPerSocket: floor.bytesPerSocket / 1024, floorKbPerSocketAfterIdle: floor.bytesPerSocketAfterIdle / 1024, floorOpened: floor.opened } : {}),
        opened: r.opened, failed: r.failed, connectsPerSec: r.connectsPerSec, kbPerSocket: r.bytesPerSocket / 1024, kbPerSocketAfterIdle: r.bytesPerSocketAfterIdle / 1024,
        rssAfterConnectMB: r.rssAfterConnect / 2 ** 20, cpuMsPerConnect: r.serverCpuPerConnectMs, firstMsgAckMs: r.firstMessage.ackMs.max, firstMsgAllDeliveredMs: r.firstMessage.allDeliveredMs,
        firstMsgDelivered: `${r.firstMessage.delivered}/${r.firstMessage.expected}`, firstError: r.firstError,
      };
    },
  },
  inbox: {
    title: `Inbox fan-out: a room with ${P.inboxMembers} members (20 viewing) vs a room with 20 members, 20 msg/s`,
    async setup(s) {
      const users = await createUsers(s, 20);
      const extra = await createMemberIds(s, P.inboxMembers - 20);
      const bigRoom = await createRoom(s, users[0], "inbox-big", [...users.map((u) => u.id), ...extra]);
      const smallRoom = await createRoom(s, users[0], "inbox-small", users.map((u) => u.id));
      return { users, bigRoom, smallRoom };
    },
    async run(s, st) {
      const one = async (roomId) => {
        const r = await loadgen({ task: "fanout", wsBase: s.wsUrl, pid: s.pid, rooms: [roomPlan(roomId, st.users, 20, 1)], rate: 20, durationMs: P.inboxS * 1000, drainMs: 3000 }, 120000);
        // Coalesced inbox updates go out up to 1 s after the last message: count their CPU too.
        return r.phases[0];
      };
      // Measure CPU over the send window plus a 1.5 s tail by wrapping the loadgen call.
      const measure = async (roomId) => {
        const c0 = cpuSeconds(s.pid);
        const ph = await one(roomId);
        await sleep(1500);
        const c1 = cpuSeconds(s.pid);
        return { ph, cpuMsPerMsg: ((c1 - c0) * 1000) / ph.sent };
      };
      const big = await measure(st.bigRoom);
      const small = await measure(st.smallRoom);
      return {
        bigRoomCpuMsPerMsg: big.cpuMsPerMsg, smallRoomCpuMsPerMsg: small.cpuMsPerMsg, bigOverSmall: big.cpuMsPerMsg / small.cpuMsPerMsg,
        bigRoomP99Ms: big.ph.latencyMs.p99, smallRoomP99Ms: small.ph.latencyMs.p99, rssMB: rssBytes(s.pid) / 2 ** 20,
      };
    },
  },
  history: {
    title: `History and search: one room with ${P.historyMsgs.toLocaleString("en")} messages`,
    async setup(s) {
      const [user] = await createUsers(s, 1);
      const roomId = await createRoom(s, user, "history");
      // One real message, so the room's file has every table and its counters.
      await new Promise((res, rej) => {
        import("ws").then(({ default: WebSocket }) => {
          const ws = new WebSocket(`${s.wsUrl}/api/v1/rooms/${roomId}/socket`, { headers: { authorization: `Bearer ${user.token}` } });
          ws.on("open", () => ws.send(JSON.stringify({ type: "msg.send", clientId: "first", text: "first message" })));
          ws.on("message", (d) => String(d).includes("msg.ack") && (ws.close(), res()));
          ws.on("error", rej);
        });
      });
      return { user, roomId };
    },
    async afterStop(kind, dir, st) {
      const t0 = Date.now();
      if (kind === "outpost") {
        const file = newestSqlite(path.join(dir, "objects/outpost-RoomObject"));
        await seedOutpostRoom(file, { count: P.historyMsgs, senderId: st.user.id, mentionUserId: st.user.id });
        st.sizes = roomFileSizes(file, P.historyMsgs);
        log(`  room file: ${JSON.stringify(st.sizes)}`);
      }
      else await seedBaselineRoom(path.join(dir, "baseline.sqlite"), { count: P.historyMsgs, roomId: st.roomId, senderId: st.user.id });
      log(`  seeded ${P.historyMsgs} messages into ${kind} in ${Date.now() - t0} ms`);
    },
    reuseTemplate: true,
    async run(s, st) {
      const timed = async (p) => {
        const t0 = performance.now();
        const res = await fetch(s.url + p, { headers: { authorization: `Bearer ${st.user.token}` } });
        const body = await res.text();
        const ms = performance.now() - t0;
        if (!res.ok) throw new Error(`${p}: ${res.status} ${body.slice(0, 200)}`);
        const m = /dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
        return { ms, serverMs: m ? Number(m[1]) : null, body };
      };
      const enc = encodeURIComponent(st.roomId);
      await timed(`/api/v1/rooms/${enc}/messages?limit=50`); // wake the room
      const hist = [];
      const histServer = [];
      const rand = ((seed) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31))(5);
      for (let i = 0; i < P.historyReqs; i++) {
        const before = 2 + Math.floor(rand() * P.historyMsgs);
        const r = await timed(`/api/v1/rooms/${enc}/messages?before=${before}&limit=50`);
        hist.push(r.ms);
        if (r.serverMs !== null) histServer.push(r.serverMs);
      }
      // Terms by frequency rank in the seeded text (Zipf): rare, medium, common, CJK, two words, prefix.
      const queries = { rare: VOCAB[1500], medium: VOCAB[50], common: VOCAB[0], cjk: "上海", twoWords: `${VOCAB[3]} ${VOCAB[200]}`, prefix: VOCAB[30].slice(0, 3) };
      const search = {};
      const all = [];
      const allServer = [];
      const noCommon = [];
      for (const [name, qtext] of Object.entries(queries)) {
        const xs = [];
        let hits = 0;
        for (let i = 0; i < P.searchReps; i++) {
          const r = await timed(`/api/v1/search?q=${encodeURIComponent(qtext)}&room=${enc}&limit=20`);
          xs.push(r.ms);
          all.push(r.ms);
          if (name !== "common") noCommon.push(r.ms);
          if (r.serverMs !== null) allServer.push(r.serverMs);
          hits = JSON.parse(r.body).hits.length;
        }
        const s2 = xs.sort((a, b) => a - b);
        search[name] = { q: qtext, hits, p50: round(pct(s2, 50)), p99: round(pct(s2, 99)) };
      }
      const sorted = (a) => [...a].sort((x, y) => x - y);
      return {
        historyP50Ms: pct(sorted(hist), 50), historyP99Ms: pct(sorted(hist), 99), historyServerP99Ms: histServer.length ? pct(sorted(histServer), 99) : null,
        searchP50Ms: pct(sorted(all), 50), searchP99Ms: pct(sorted(all), 99), searchServerP99Ms: allServer.length ? pct(sorted(allServer), 99) : null,
        searchP99WithoutCommonTermMs: pct(sorted(noCommon), 99),
        perQuery: search,
        ...(st.sizes ?? {}),
      };
    },
  },
  startup: {
    title: `Start-up: a node with ${P.startupRooms} rooms on disk; RSS of an idle node`,
    async setup(s) {
      const [user] = await createUsers(s, 1);
      const rooms = [];
      let next = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < P.startupRooms) {
          next++;
          rooms.push(await createRoom(s, user, `room-${next}`));
        }
      }));
      return { user, rooms };
    },
    reuseTemplate: true,
    startLater: true,
    async run(_s, st, kind, dir) {
      // Page cache is warm (the template was just written); "cold" = a fresh process.
      const s = await startServer(kind, dir);
      const healthyMs = s.healthyAt - s.startedAt;
      const room = st.rooms[Math.floor(Math.random() * st.rooms.length)];
      const res = await fetch(`${s.url}/api/v1/rooms/${encodeURIComponent(room)}/messages?limit=50`, { headers: { authorization: `Bearer ${st.user.token}` } });
      await res.text();
      const firstRoomMs = performance.now() - s.startedAt;
      await sleep(3000);
      const idleRssMB = rssBytes(s.pid) / 2 ** 20;
      await s.stop();
      return { healthyMs, firstRoomRequestMs: firstRoomMs, idleRssMB, status: res.status };
    },
  },
  cluster: {
    title: "Cluster: one room homed on beijing, 50 members over 3 nodes",
    // Its own driver: three nodes against one, not Outpost against the baseline.
    runAll: () => runClusterScenario({ P, repeats: REPEATS, loadgen, log }),
  },
  backup: {
    title: `Backup and restore: a node with one room of ${P.historyMsgs.toLocaleString("en")} messages`,
    // Outpost's own commands, nothing to compare in the baseline: its own driver (bench/lib/backup-scenario.mjs).
    runAll: () => runBackupScenario({ P, repeats: REPEATS, log }),
  },
};

// ---------------------------------------------------------------- web client

function webClient() {
  const dist = path.join(repoRoot, "web/dist");
  if (!fs.existsSync(path.join(dist, "index.html"))) return { status: "not built", reason: "web/dist/index.html does not exist (build the web client first)", chromium: "skipped: web/dist not built" };
  const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");
  const scripts = [...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="([^"]+\.js)"/g)].map((m) => m[1]);
  // The sizes of the files compressed here are for reference only: the figure that counts
  // is what Chromium reports it received (webFirstRoom → firstScreenJsWireKB).
  let gz = 0;
  const files = [];
  for (const src of new Set(scripts)) {
    const f = path.join(dist, src.replace(/^\//, ""));
    if (!fs.existsSync(f)) continue;
    const n = zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length;
    gz += n;
    files.push({ file: src, gzBytes: n });
  }
  return { status: "measured", firstScreenJsGzKB: gz / 1024, files, scripts: [...new Set(scripts)] };
}

/**
 * Time to the first rendered room in headless Chromium, against a real node: a
 * room with 200 messages, a person signs in, then opens /r/<room> (median of 5,
 * cold cache and warm).
 */
async function webFirstRoom(scripts = []) {
  if (!fs.existsSync(CHROMIUM)) return { chromium: `skipped: ${CHROMIUM} not found` };
  const dir = tmpDir("web");
  const s = await startServer("outpost", dir);
  try {
    const [u] = await createUsers(s, 1);
    const roomId = await createRoom(s, u, "first-room", [u.id]);
    for (let i = 0; i < 200; i++) await api(s.url, "POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token: u.token, body: { text: `${VOCAB[i % VOCAB.length]} message ${i}`, clientId: `web${i}` } });
    const r = await timeToFirstRoom({ url: s.url, username: u.username, password: "password-0-bench", roomId, lastText: "message 199", reps: 5, scripts });
    // null when a script index.html names was not seen (web-timing.mjs): the sum would flatter the client.
    const wire = r.wire;
    return {
      chromium: "measured",
      firstRoomColdMs: median(r.cold),
      firstRoomWarmMs: median(r.warm),
      coldMs: r.cold.map((x) => round(x, 1)),
      warmMs: r.warm.map((x) => round(x, 1)),
      firstScreenJsWireKB: wire ? wire.reduce((n, w) => n + w.transferSize, 0) / 1024 : null,
      wire: r.wire,
    };
  } catch (e) {
    return { chromium: `failed: ${String(e.message ?? e).slice(0, 300)}` };
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- driver

async function makeTemplate(name, sc, kind) {
  const dir = tmpDir(`${name}-${kind}`);
  const t0 = Date.now();
  const s = await startServer(kind, dir);
  let state;
  try {
    state = await sc.setup(s);
  } finally {
    await s.stop();
  }
  if (sc.afterStop) await sc.afterStop(kind, dir, state);
  log(`  template ${name}/${kind} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, state };
}

async function runScenario(name, sc) {
  log(`scenario ${name}: ${sc.title}`);
  const templates = {};
  for (const kind of KINDS) templates[kind] = await makeTemplate(name, sc, kind);
  const runs = { outpost: [], baseline: [] };
  for (let rep = 0; rep < REPEATS; rep++) {
    const order = rep % 2 === 0 ? KINDS : [...KINDS].reverse();
    for (const kind of order) {
      const t = templates[kind];
      const dir = sc.reuseTemplate ? t.dir : tmpDir(`${name}-${kind}-run`);
      if (!sc.reuseTemplate) fs.cpSync(t.dir, dir, { recursive: true });
      const load = os.loadavg()[0];
      let m;
      try {
        if (sc.startLater) m = await sc.run(null, t.state, kind, dir);
        else {
          const s = await startServer(kind, dir);
          try {
            m = await sc.run(s, t.state, kind, dir);
          } finally {
            await s.stop();
          }
        }
      } catch (e) {
        m = { error: String(e.message ?? e).slice(0, 500) };
      }
      m.loadavg1 = load;
      runs[kind].push(m);
      log(`  ${name} #${rep + 1} ${kind}: ${JSON.stringify(m, (k, v) => (typeof v === "number" ? round(v) : v)).slice(0, 400)}`);
      if (!sc.reuseTemplate) fs.rmSync(dir, { recursive: true, force: true });
    }
    if (sc.floor) {
      // The runtime floor (bench/floor/worker.js: a minimal Durable Object per room on the same
      // workerd) under the same load, with the rooms of Outpost's template (it ignores tokens).
      const f = await startFloor(tmpDir(`${name}-floor`));
      let m;
      try {
        m = await sc.run(f, templates.outpost.state, "floor", f.dataDir);
      } catch (e) {
        m = { error: String(e.message ?? e).slice(0, 500) };
      } finally {
        await f.stop();
        fs.rmSync(f.dataDir, { recursive: true, force: true });
      }
      (runs.floor ??= []).push(m);
      log(`  ${name} #${rep + 1} floor: ${JSON.stringify(m, (k, v) => (typeof v === "number" ? round(v) : v)).slice(0, 400)}`);
    }
  }
  for (const kind of KINDS) fs.rmSync(templates[kind].dir, { recursive: true, force: true });
  // medians and per-repeat ratios of every numeric metric
  const keys = [...new Set([...runs.outpost, ...runs.baseline].flatMap((r) => Object.keys(r)))].filter((k) => [...runs.outpost, ...runs.baseline].some((r) => typeof r[k] === "number"));
  const metrics = {};
  for (const k of keys) {
    const o = runs.outpost.map((r) => r[k]);
    const b = runs.baseline.map((r) => r[k]);
    const ratios = o.map((x, i) => (typeof x === "number" && typeof b[i] === "number" && b[i] !== 0 ? x / b[i] : null));
    metrics[k] = { outpost: median(o), baseline: median(b), ratioPerRepeat: ratios.map((x) => round(x, 3)), ratioMedian: median(ratios) };
    if (runs.floor) {
      const fl = runs.floor.map((r) => r[k]);
      metrics[k].floor = median(fl);
      metrics[k].floorRatioMedian = median(fl.map((x, i) => (typeof x === "number" && typeof b[i] === "number" && b[i] !== 0 ? x / b[i] : null)));
    }
  }
  return { title: sc.title, runs, metrics };
}

function machine() {
  const cpus = os.cpus();
  const v = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    } catch {
      return null;
    }
  };
  const pkg = (n) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", n, "package.json"), "utf8")).version;
    } catch {
      return null;
    }
  };
  return {
    cpuModel: cpus[0]?.model, cores: cpus.length, memoryGB: round(os.totalmem() / 2 ** 30, 1), kernel: os.release(), loadavgAtStart: os.loadavg().map((x) => round(x)),
    taskset: hasTaskset, node: process.version, workerd: v(path.join(repoRoot, "node_modules/.bin/workerd"), ["--version"]),
    packages: Object.fromEntries(["workerd", "hono", "drizzle-orm", "zod", "ws", "better-sqlite3", "esbuild"].map((n) => [n, pkg(n)])),
    sqlite: (() => {
      try {
        return v(process.execPath, ["-e", "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"]);
      } catch {
        return null;
      }
    })(),
  };
}

// ---------------------------------------------------------------- targets & report

function targets(R) {
  const out = [];
  const t = (name, value, limit, met, note = "") => out.push({ name, value: value === null || value === undefined ? null : round(value, 3), limit, met: value === null || value === undefined ? null : met, note });
  const m = (sc, k) => R.scenarios[sc]?.metrics?.[k];
  // The runtime floor's own ratio for the same metric, when it was measured (bench/floor).
  const floorNote = (sc, k) => (typeof m(sc, k)?.floorRatioMedian === "number" ? `runtime floor (minimal Durable Object per room): ${fmt(m(sc, k).floorRatioMedian)}×` : "");
  if (R.scenarios.busy) {
    // The target, as decided: p99 within 1.3× of the runtime floor (bench/floor: the minimal
    // room object on the same workerd) measured in the same run; the Node baseline beside it.
    const p99 = m("busy", "p99Ms");
    const vsFloor = typeof p99?.floor === "number" && p99.floor > 0 ? p99.outpost / p99.floor : null;
    t("Busy room p99 ≤ 1.3× the runtime floor", vsFloor, "≤ 1.3×", vsFloor !== null && vsFloor <= 1.3, vsFloor === null ? "the floor was not measured in this run" : `Outpost ${fmt(p99.outpost)} ms, floor ${fmt(p99.floor)} ms, Node baseline ${fmt(p99.baseline)} ms (${fmt(p99.ratioMedian)}× the baseline)`);
    t("Server CPU per delivered message ≤ 1.5× baseline (busy room)", m("busy", "cpuUsPerDelivery")?.ratioMedian, "≤ 1.5×", m("busy", "cpuUsPerDelivery")?.ratioMedian <= 1.5, floorNote("busy", "cpuUsPerDelivery"));
  }
  if (R.scenarios.many) t("Server CPU per delivered message ≤ 1.5× baseline (many rooms)", m("many", "cpuUsPerDelivery")?.ratioMedian, "≤ 1.5×", m("many", "cpuUsPerDelivery")?.ratioMedian <= 1.5, floorNote("many", "cpuUsPerDelivery"));
  if (R.scenarios.big) t("Big room sustained throughput ≥ 1.0× baseline", m("big", "maxSustainedPerSec")?.ratioMedian, "≥ 1.0×", m("big", "maxSustainedPerSec")?.ratioMedian >= 1.0);
  if (R.scenarios.idle) {
    const floorKb = m("idle", "floorKbPerSocket")?.outpost;
    t("≤ 80 KB per idle socket (client offers permessage-deflate)", m("idle", "kbPerSocket")?.outpost, "≤ 80 KB", m("idle", "kbPerSocket")?.outpost <= 80, floorKb ? `the runtime floor (a minimal Durable Object per room on the same workerd, bench/floor): ${round(floorKb, 1)} KB` : "");
    t(`${P.idleSockets.toLocaleString("en")} sockets on one node`, m("idle", "opened")?.outpost, `= ${P.idleSockets}`, m("idle", "opened")?.outpost >= P.idleSockets, QUICK ? "quick run: 2,000 sockets, not 10,000" : "");
  }
  if (R.scenarios.startup) {
    t("Idle node RSS < 100 MB", m("startup", "idleRssMB")?.outpost, "< 100 MB", m("startup", "idleRssMB")?.outpost < 100);
    t("Cold start < 1 s (to the first served room request)", m("startup", "firstRoomRequestMs")?.outpost, "< 1000 ms", m("startup", "firstRoomRequestMs")?.outpost < 1000);
  }
  if (R.scenarios.history) {
    // The files-and-search issue asks for these measured inside the node: the Server-Timing
    // figure (auth + room RPC + serialisation); the client-side figure adds loopback HTTP.
    const histIn = m("history", "historyServerP99Ms")?.outpost;
    const searchIn = m("history", "searchServerP99Ms")?.outpost;
    const sizeNote = QUICK ? `quick run: ${P.historyMsgs} messages` : `${P.historyMsgs} messages`;
    t("History page p99 < 5 ms (inside the node)", histIn, "< 5 ms", histIn < 5, `${sizeNote}; from the client: ${m("history", "historyP99Ms")?.outpost} ms`);
    t("Search p99 < 100 ms (inside the node)", searchIn, "< 100 ms", searchIn < 100, `${sizeNote}; from the client: ${m("history", "searchP99Ms")?.outpost} ms`);
  }
  clusterTargets(R.scenarios.cluster, t);
  backupTargets(R.scenarios.backup, t);
  if (R.web) t("Web first-screen JS ≤ 60 KB on the wire", R.web.firstScreenJsWireKB ?? null, "≤ 60 KB", (R.web.firstScreenJsWireKB ?? Infinity) <= 60, R.web.status === "not built" ? "web/dist not built" : R.web.chromium === "measured" ? `first rendered room in headless Chromium: ${fmt(R.web.firstRoomColdMs)} ms cold, ${fmt(R.web.firstRoomWarmMs)} ms warm` : "");
  return out;
}

const fmt = (x) => (x === null || x === undefined ? "–" : typeof x === "number" ? (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)) : String(x));

function markdown(R) {
  const L = [];
  L.push("# Performance: Outpost vs a plain Node baseline", "");
  const flags = [R.quick ? "--quick" : "", R.only ? `--only ${R.only}` : ""].filter(Boolean).join(" ");
  L.push(
    `Generated by \`npm run bench${flags ? ` -- ${flags}` : ""}\` on ${R.finishedAt}. ${R.quick ? "**Quick run** (1 repeat, shorter phases, smaller sizes — indicative only)." : `Full run, ${R.repeats} repeats.`}${R.only ? " The sections not re-measured keep the figures of their last run (each section says when it was measured)." : ""}`,
    "",
  );
  L.push("Baseline: `bench/baseline/server.mjs` — Node `http` + `ws` + better-sqlite3 (WAL, synchronous=FULL), same frames (hello, msg.send → msg.ack after the commit + msg.new broadcast), idempotent clientId, FTS5 search with the same text transformation. Outpost: a real `workerd serve` node built and configured as `npm start` does.", "");
  const M = R.machine;
  L.push("## Machine", "");
  L.push(`- CPU: ${M.cpuModel}, ${M.cores} cores; memory ${M.memoryGB} GB; kernel ${M.kernel}`);
  L.push(`- Node ${M.node}; ${M.workerd}; SQLite (better-sqlite3) ${M.sqlite}; packages: ${Object.entries(M.packages).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  L.push(`- Load average at start: ${M.loadavgAtStart.join(" / ")}; at end: ${R.loadavgAtEnd.join(" / ")}. Other engineers' tests share this machine, so absolute numbers move between runs; the ratios come from alternating runs.`);
  L.push(`- Pinning: ${M.taskset ? "load generator (separate Node process) on core 0, server on core 1 (`taskset`)" : "none (taskset not found)"}. All traffic to 127.0.0.1.`, "");
  L.push("## Targets", "", "| target | Outpost | limit | met? | note |", "|---|---|---|---|---|");
  for (const t of R.targets) L.push(`| ${t.name} | ${fmt(t.value)} | ${t.limit} | ${t.met === null ? "not measured" : t.met ? "met" : "**not met**"} | ${t.note} |`);
  L.push("");
  for (const [name, sc] of Object.entries(R.scenarios)) {
    if (sc.kind === "cluster") {
      L.push(...clusterSection(sc));
      continue;
    }
    if (sc.kind === "backup") {
      L.push(...backupSection(sc));
      continue;
    }
    L.push(`## ${sc.title}`, "", `Medians over ${sc.runs.outpost.length} repeat(s); ratio = Outpost / baseline for each repeat (runs alternate). Measured ${sc.measuredAt}.`, "");
    if (sc.runs.floor) {
      L.push("Floor: `bench/floor/worker.js`, the minimal \"one Durable Object per room + SQLite insert + broadcast\" on the same workerd (no auth, validation, search index, inbox or batching), run after Outpost in each repeat.", "");
      L.push("| metric | Outpost | baseline | ratio per repeat | floor | floor / baseline |", "|---|---|---|---|---|---|");
      for (const [k, v] of Object.entries(sc.metrics)) if (k !== "loadavg1") L.push(`| ${k} | ${fmt(v.outpost)} | ${fmt(v.baseline)} | ${v.ratioPerRepeat.map(fmt).join(", ")} | ${fmt(v.floor)} | ${fmt(v.floorRatioMedian)} |`);
      L.push(`| load average (1 min) at each run | ${sc.runs.outpost.map((r) => fmt(r.loadavg1)).join(", ")} | ${sc.runs.baseline.map((r) => fmt(r.loadavg1)).join(", ")} | | | |`);
    } else {
      L.push("| metric | Outpost | baseline | ratio per repeat |", "|---|---|---|---|");
      for (const [k, v] of Object.entries(sc.metrics)) if (k !== "loadavg1") L.push(`| ${k} | ${fmt(v.outpost)} | ${fmt(v.baseline)} | ${v.ratioPerRepeat.map(fmt).join(", ")} |`);
      L.push(`| load average (1 min) at each run | ${sc.runs.outpost.map((r) => fmt(r.loadavg1)).join(", ")} | ${sc.runs.baseline.map((r) => fmt(r.loadavg1)).join(", ")} | |`);
    }
    const errs = [...sc.runs.outpost, ...sc.runs.baseline].filter((r) => r.error);
    if (errs.length) L.push("", `Errors: ${errs.map((e) => e.error).join("; ")}`);
    if (name === "big") {
      L.push("", "Rate steps (last repeat):", "");
      for (const kind of KINDS) {
        const steps = sc.runs[kind].at(-1)?.steps ?? [];
        L.push(`- ${kind}: ${steps.map((s) => `${s.offered}/s→p99 ${fmt(s.p99)} ms${s.lost ? ` lost ${s.lost}` : ""}${s.sustained ? "" : " ✗"}${s.retry ? " (again)" : ""} (loadgen CPU ${s.loadgenCpu})`).join("; ")}`);
      }
    }
    if (name === "history") {
      L.push("", "Per query (last repeat, client-side ms):", "");
      for (const kind of KINDS) {
        const pq = sc.runs[kind].at(-1)?.perQuery ?? {};
        L.push(`- ${kind}: ${Object.entries(pq).map(([k, v]) => `${k} "${v.q}" p50 ${fmt(v.p50)} / p99 ${fmt(v.p99)} (${v.hits} hits)`).join("; ")}`);
      }
    }
    L.push("");
  }
  L.push("## Web client", "");
  const wireLine = R.web.firstScreenJsWireKB != null ? `${fmt(R.web.firstScreenJsWireKB)} KB on the wire as headless Chromium received it (Performance API transferSize, headers included: ${R.web.wire.map((w) => `${w.file} ${w.transferSize} B, ${w.decodedBodySize} B decoded`).join("; ")})` : "not measured on the wire";
  L.push(R.web.status === "measured" ? `First-screen JS: ${wireLine}; the same files gzipped at level 9 here: ${fmt(R.web.firstScreenJsGzKB)} KB. ${R.web.chromium === "measured" ? `Time to the first rendered room in headless Chromium (sign in, then open /r/<room> with 200 messages until the newest is on screen; median of 5): ${fmt(R.web.firstRoomColdMs)} ms with an empty cache, ${fmt(R.web.firstRoomWarmMs)} ms with the assets cached (runs: cold ${R.web.coldMs.join(", ")}; warm ${R.web.warmMs.join(", ")} ms).` : `Chromium: ${R.web.chromium}.`}` : `Not built: ${R.web.reason}. Chromium: ${R.web.chromium}.`, "");
  if (R.notes?.length) L.push("## Where the time goes", "", ...R.notes, "");
  return L.join("\n");
}

/** bench/notes.md (hand-written analysis) and bench/profile-*.md (from `node bench/profile.mjs`). */
function readNotes() {
  return ["notes.md", ...fs.readdirSync(benchDir).filter((f) => /^profile-.*\.md$/.test(f)).sort()]
    .map((f) => path.join(benchDir, f))
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, "utf8"));
}

/** --render: the report again from the stored figures (after editing bench/notes.md, or the rendering). */
function render() {
  const outJson = process.env.BENCH_OUT_JSON ?? path.join(repoRoot, "docs/performance.json");
  const outMd = process.env.BENCH_OUT_MD ?? path.join(repoRoot, "docs/PERFORMANCE.md");
  const R = JSON.parse(fs.readFileSync(outJson, "utf8"));
  if (R.quick !== QUICK) throw new Error(`${outJson} is from a ${R.quick ? "quick" : "full"} run: render it with${R.quick ? "" : "out"} --quick (the targets read the run's sizes)`);
  R.notes = readNotes();
  R.targets = targets(R);
  fs.writeFileSync(outMd, markdown(R) + "\n");
  log(`wrote ${path.relative(repoRoot, outMd)} from ${path.relative(repoRoot, outJson)}`);
}

async function main() {
  if (argv.render) return render();
  const started = Date.now();
  log(`bench: ${QUICK ? "quick" : "full"}, ${REPEATS} repeat(s), load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  await prepareBuild();
  const R = { quick: QUICK, repeats: REPEATS, ...(argv.only ? { only: argv.only } : {}), params: P, machine: machine(), startedAt: new Date().toISOString(), scenarios: {} };
  for (const [name, sc] of Object.entries(scenarios)) {
    if (ONLY && !ONLY.has(name)) continue;
    try {
      if (sc.runAll) log(`scenario ${name}: ${sc.title}`);
      R.scenarios[name] = sc.runAll ? await sc.runAll() : await runScenario(name, sc);
    } catch (e) {
      log(`scenario ${name} failed: ${e.stack ?? e}`);
      R.scenarios[name] = { title: sc.title, ...(sc.runAll ? { kind: name } : {}), error: String(e.message ?? e), runs: { outpost: [], baseline: [] }, metrics: {} };
    }
  }
  R.web = !ONLY || ONLY.has("web") ? await (async () => {
    const built = webClient();
    return { ...built, ...(await webFirstRoom(built.scripts ?? [])) };
  })() : { status: "not run", reason: "--only", chromium: "skipped" };
  // --only re-measures some scenarios: the others keep their figures from the last full run,
  // marked with when they were measured, so one report always covers every target.
  const earlierJson = process.env.BENCH_OUT_JSON ?? path.join(repoRoot, "docs/performance.json");
  if (ONLY && fs.existsSync(earlierJson)) {
    const earlier = JSON.parse(fs.readFileSync(earlierJson, "utf8"));
    for (const [name, sc] of Object.entries(earlier.scenarios ?? {})) {
      if (!ONLY.has(name) && !R.scenarios[name]) R.scenarios[name] = { ...sc, measuredAt: sc.measuredAt ?? earlier.finishedAt };
    }
    if (!ONLY.has("web") && earlier.web) R.web = { ...earlier.web, measuredAt: earlier.web.measuredAt ?? earlier.finishedAt };
  }
  for (const name of Object.keys(R.scenarios)) R.scenarios[name].measuredAt ??= new Date().toISOString();
  // One order in the report whatever --only re-measured: the scenarios' own order.
  const rank = (name) => (name in scenarios ? Object.keys(scenarios).indexOf(name) : Infinity);
  R.scenarios = Object.fromEntries(Object.entries(R.scenarios).sort(([a], [b]) => rank(a) - rank(b)));
  R.targets = targets(R);
  R.loadavgAtEnd = os.loadavg().map((x) => round(x));
  R.finishedAt = new Date().toISOString();
  R.durationS = Math.round((Date.now() - started) / 1000);
  R.notes = readNotes();
  fs.mkdirSync(path.join(repoRoot, "docs"), { recursive: true });
  const outJson = process.env.BENCH_OUT_JSON ?? path.join(repoRoot, "docs/performance.json");
  const outMd = process.env.BENCH_OUT_MD ?? path.join(repoRoot, "docs/PERFORMANCE.md");
  fs.writeFileSync(outJson, JSON.stringify(R, (k, v) => (typeof v === "number" ? round(v, 3) : v), 2) + "\n");
  fs.writeFileSync(outMd, markdown(R) + "\n");
  log(`wrote ${path.relative(repoRoot, outMd)} and ${path.relative(repoRoot, outJson)} in ${R.durationS} s`);
  for (const t of R.targets) log(`  ${t.met === null ? "??" : t.met ? "ok" : "NO"}  ${t.name}: ${fmt(t.value)} (${t.limit})`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    killAll();
    process.exit();
  });
