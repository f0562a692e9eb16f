/**
 * `node bench/run.mjs --only cluster`: one room homed on beijing with 50 members over
 * three nodes (docs/FEDERATION.md), against the same room with all 50 on one node.
 *
 * - Fan-out: 5 senders, 200 msg/s, every member connected to their own node's room
 *   socket with ?batch=1 (on shanghai and shenzhen the mirror serves it). Latency from
 *   send to receipt at every member, by node; CPU of the three workerd processes summed.
 *   Twice: senders on the home node (the push path alone), and senders on all three
 *   nodes (their sends go home on the room's channel, then come back in the push).
 * - Bytes on each link per message (the proxies' counters): to a node with 17 members, and to 5.
 * - A cut: beijing↔shanghai cut for P.cutS seconds while beijing sends 200 msg/s and two
 *   shanghai members send (one by socket, one by REST), then healed: how long until every
 *   shanghai socket has every message, and when the queued sends are acked, in which order.
 *
 * The nodes are pinned to core 1 like the single node (so the cluster has the single
 * node's one core for its three processes), the load generator to core 0; the proxies run
 * in the bench's own process (core 0) and stand in for the WAN, so their CPU is not counted.
 *
 * The runtime floor (bench/floor/cluster.js: a bare relay between three objects on three
 * workerd processes, nothing of Outpost) runs the same fan-outs in the same repeats: what
 * a hop between processes sharing one core adds on this machine by itself.
 */
import { api, createUsers, startFloor, tmpDir } from "./servers.mjs";
import { startCluster, startSingleNode } from "./cluster.mjs";
import { floorFanout, startFloorCluster } from "./floor-cluster.mjs";
import { median } from "./stats.mjs";

const NODES = ["beijing", "shanghai", "shenzhen"];
const HOME = "beijing";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, withinMs = 30000) {
  const started = Date.now();
  for (;;) {
    if (await fn()) return;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await sleep(200);
  }
}

const status = async (url, token) => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
};

/** People on each node of the cluster, and two rooms homed on beijing. */
export async function setUpCluster(cluster, log) {
  const n = cluster.nodes;
  const people = {
    beijing: (await createUsers(n.beijing, 28, { prefix: "bj" })).map((u) => ({ ...u, node: "beijing" })),
    shanghai: (await createUsers(n.shanghai, 17, { prefix: "sh" })).map((u) => ({ ...u, node: "shanghai" })),
    shenzhen: (await createUsers(n.shenzhen, 17, { prefix: "sz" })).map((u) => ({ ...u, node: "shenzhen" })),
  };
  const owner = people.beijing[0];
  // The home must know the other branches' people (directory feed, a heartbeat or two) before it can add them.
  const remote = [...people.shanghai, ...people.shenzhen];
  await eventually("beijing knows the other branches' people", async () => (await Promise.all(remote.map((u) => status(`${n.beijing.url}/api/v1/users/${u.id}`, owner.token)))).every((s) => s === 200), 60000);
  const room = async (name, members) => {
    const made = await api(n.beijing.url, "POST", "/api/v1/rooms", { token: owner.token, body: { name, visibility: "private", members: members.filter((u) => u !== owner).map((u) => u.id) } });
    // Each member can open it on their own node (the mirrors have had their first push).
    await eventually(`${name}: every member sees it on their node`, async () => (await Promise.all(members.map((u) => status(`${n[u.node].url}/api/v1/rooms/${encodeURIComponent(made.id)}`, u.token)))).every((s) => s === 200));
    return made.id;
  };
  // Room A: 17 / 17 / 16. Room B (bytes to a node with few members): 28 / 5 / 17.
  const a = { beijing: people.beijing.slice(0, 17), shanghai: people.shanghai.slice(0, 17), shenzhen: people.shenzhen.slice(0, 16) };
  const b = { beijing: people.beijing.slice(0, 28), shanghai: people.shanghai.slice(0, 5), shenzhen: people.shenzhen.slice(0, 17) };
  const roomA = await room("cluster-17-17-16", [...a.beijing, ...a.shanghai, ...a.shenzhen]);
  const roomB = await room("cluster-28-5-17", [...b.beijing, ...b.shanghai, ...b.shenzhen]);
  log(`  cluster: ${Object.values(people).flat().length} people, rooms ${roomA} (17/17/16) and ${roomB} (28/5/17)`);
  return { people, a, b, roomA, roomB };
}

/** Sockets of a room, senders first: `senders` lists [node, count]; everyone else follows. */
export function sockets(cluster, members, senders) {
  const entry = (u) => ({ token: u.token, wsBase: cluster.nodes[u.node].wsUrl, group: u.node });
  const first = senders.flatMap(([node, count]) => members[node].slice(0, count));
  const rest = NODES.flatMap((node) => members[node]).filter((u) => !first.includes(u));
  return { tokens: [...first, ...rest].map(entry), senders: first.length, index: (u) => [...first, ...rest].indexOf(u) };
}

/** Byte counters of every link, to diff around a phase, and the requests each node sent each other node. */
function snapshot(cluster) {
  const out = { requests: {}, answered: {} };
  for (let i = 0; i < NODES.length; i++) for (const b of NODES.slice(i + 1)) out[`${NODES[i]}-${b}`] = cluster.linkBytes(NODES[i], b);
  for (const a of NODES)
    for (const b of NODES) {
      if (a === b) continue;
      out.requests[`${a}→${b}`] = cluster.requests(a, b);
      out.answered[`${a}→${b}`] = Object.fromEntries(Object.entries(cluster.answerMs(a, b)).map(([kind, xs]) => [kind, xs.length]));
    }
  return out;
}
/**
 * How long each node took to answer the pushes and sends it got between two snapshots
 * (request's first byte to answer's first byte, at the proxy): { "beijing→shanghai": { push: {p50, p99, max, n} } }.
 */
function answerTimes(cluster, before, after) {
  const out = {};
  for (const [link, kinds] of Object.entries(after.answered)) {
    const [a, b] = link.split("→");
    for (const kind of ["push", "sends"]) {
      if (!kinds[kind]) continue;
      const xs = cluster.answerMs(a, b)[kind].slice(before.answered[link][kind] ?? 0, kinds[kind]).sort((x, y) => x - y);
      if (xs.length) (out[link] ??= {})[kind] = { n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: xs.at(-1) };
    }
  }
  return out;
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
/** Requests per 100 messages on each directed link between two snapshots, by endpoint ("push", "sends", "ping", …). */
function requestsPer100(before, after, sent) {
  const out = {};
  for (const [link, counts] of Object.entries(after.requests)) {
    const diff = Object.entries(counts)
      .map(([kind, n]) => [kind, ((n - (before.requests[link][kind] ?? 0)) * 100) / Math.max(1, sent)])
      .filter(([, n]) => n > 0);
    if (diff.length) out[link] = Object.fromEntries(diff);
  }
  return out;
}
/** Bytes per message on each link between two snapshots: `${a}→${b}` and back. */
function perMessage(before, after, sent) {
  const out = {};
  for (const [pair, v] of Object.entries(after)) {
    if (pair === "requests" || pair === "answered") continue;
    const [a, b] = pair.split("-");
    out[`${a}→${b}`] = (v.out - before[pair].out) / Math.max(1, sent);
    out[`${b}→${a}`] = (v.back - before[pair].back) / Math.max(1, sent);
  }
  return out;
}

let runs = 0;
/**
 * What every fan-out run of this scenario does, on one node or three: 2 s of warm-up at
 * 100 msg/s (not measured: wakes the room and the mirrors, lets the JIT settle), then the
 * measured phase; clientIds unique to the run (the same people send in every run).
 */
export const fanoutTask = (extra) => ({ task: "fanout", rate: 200, warmupMs: 2000, drainMs: 3000, settleMs: 1000, runTag: `r${++runs}`, countFrames: true, ...extra });

/**
 * What one push carried, from the latest one that crossed beijing→shanghai: the sizes of
 * its parts (JSON bytes), so the report can say where a push's bytes go.
 */
function pushAnatomy(text) {
  if (!text) return null;
  const split = text.indexOf("\r\n\r\n");
  let body;
  try {
    body = JSON.parse(text.slice(split + 4));
  } catch {
    return null; // the body came in more than one chunk
  }
  const size = (v) => Buffer.byteLength(JSON.stringify(v ?? null));
  return {
    headerBytes: split + 4,
    bodyBytes: Buffer.byteLength(text.slice(split + 4)),
    messages: body.messages?.length ?? 0,
    messagesBytes: size(body.messages),
    reads: body.reads?.length ?? 0,
    readsBytes: size(body.reads),
    roomBytes: size(body.room),
    membersBytes: size(body.members),
  };
}

/** Frames per message and socket at each node's sockets: WebSocket messages, and receipt events among them. */
function framesPerMsg(ph, tokens) {
  const out = {};
  for (const [group, c] of Object.entries(ph.framesByGroup ?? {})) {
    const sockets = tokens.filter((t) => (typeof t === "string" ? "undefined" : t.group) === group).length || 1;
    out[group] = { wire: c.wire / Math.max(1, ph.sent) / sockets, receipts: c.receipts / Math.max(1, ph.sent) / sockets };
  }
  return out;
}

/** A fan-out run on the cluster, with the links' bytes and requests over its send phase. */
async function clusterFanout(loadgen, cluster, roomId, plan, durationMs) {
  const marks = {};
  const r = await loadgen(
    fanoutTask({ pids: cluster.pids(), rooms: [{ roomId, tokens: plan.tokens, senders: plan.senders }], durationMs, marks: true }),
    180000,
    { onEvent: (event, data) => void (event === "mark" && (marks[data.at] = snapshot(cluster))) },
  );
  const ph = r.phases[0];
  return {
    ph,
    bytesPerMsg: perMessage(marks.start, marks.end, ph.sent),
    requestsPer100Msgs: requestsPer100(marks.start, marks.end, ph.sent),
    answerMs: answerTimes(cluster, marks.start, marks.end),
    push: pushAnatomy(cluster.lastPush(HOME, "shanghai")),
    frames: framesPerMsg(ph, plan.tokens),
  };
}

const fanoutFigures = (ph, pids) => ({
  p50Ms: ph.latencyMs.p50,
  p95Ms: ph.latencyMs.p95,
  p99Ms: ph.latencyMs.p99,
  maxMs: ph.latencyMs.max,
  ackP99Ms: ph.ackMs.p99,
  sentPerSec: ph.sentPerSec,
  lost: ph.lost,
  cpuMsPerMsg: ph.serverCpuMsPerMsg,
  cpuUsPerDelivery: ph.serverCpuUsPerDelivery,
  // Cores the servers need at this rate (CPU per message × messages per second): the single
  // node and the three nodes alike were given one core.
  cores: (ph.serverCpuMsPerMsg * ph.sentPerSec) / 1000,
  ...(pids ? Object.fromEntries(pids.map((name, i) => [`cpuMsPerMsg_${name}`, (ph.serverCpuSByPid[i] * 1000) / Math.max(1, ph.sent)])) : {}),
  rssMB: ph.serverRss / 2 ** 20,
  ...(ph.latencyByPair ? { latencyByPair: ph.latencyByPair, ackMsByGroup: ph.ackMsByGroup } : {}),
});

/**
 * What every fan-out comparison starts from: a node alone with the 50-member room
 * (`single`, `users`, `singleRoom`) and the three-node cluster with its rooms
 * (`cluster`, `setup`). The caller stops both with `stop()`; a failure half-way
 * stops what had started.
 */
export async function startComparison(log) {
  const c = {
    single: null,
    cluster: null,
    async stop() {
      await c.cluster?.stop().catch(() => {});
      await c.single?.stop().catch(() => {});
    },
  };
  try {
    c.single = await startSingleNode("beijing");
    c.users = await createUsers(c.single, 50, { prefix: "u" });
    c.singleRoom = (await api(c.single.url, "POST", "/api/v1/rooms", { token: c.users[0].token, body: { name: "single-50", visibility: "private", members: c.users.slice(1).map((u) => u.id) } })).id;
    c.cluster = await startCluster(NODES);
    c.setup = await setUpCluster(c.cluster, log);
    return c;
  } catch (err) {
    await c.stop();
    throw err;
  }
}

/**
 * The whole scenario. Returns what run.mjs stores under scenarios.cluster and renders
 * with clusterMarkdown(); `P` holds busyS, clusterSmallS and cutS.
 */
export async function runClusterScenario({ P, repeats, loadgen, log }) {
  const title = `Cluster: one room homed on beijing, 50 members over 3 nodes (17/17/16), 5 senders, 200 msg/s, vs the same room on one node`;
  const comparison = await startComparison(log);
  const floor = { single: null, cluster: null };
  try {
    floor.single = await startFloor(tmpDir("cluster-floor-single"));
    floor.cluster = await startFloorCluster(NODES);
    const { single, users, singleRoom, cluster, setup } = comparison;
    const homeSenders = sockets(cluster, setup.a, [["beijing", 5]]);
    const spreadSenders = sockets(cluster, setup.a, [["beijing", 2], ["shanghai", 2], ["shenzhen", 1]]);
    const runs = { single: [], cluster: [], clusterSpread: [], clusterBothCores: [], floorSingle: [], floorCluster: [], floorClusterSpread: [] };
    const bytes = { cluster: [], clusterSpread: [], clusterBothCores: [] };
    const requests = { cluster: [], clusterSpread: [], clusterBothCores: [] };
    const runSingle = async (rep) => {
      const s = await loadgen(fanoutTask({ wsBase: single.wsUrl, pid: single.pid, rooms: [{ roomId: singleRoom, tokens: users.map((u) => u.token), senders: 5 }], durationMs: P.busyS * 1000 }), 180000);
      runs.single.push({ ...fanoutFigures(s.phases[0]), framesPerMsg: framesPerMsg(s.phases[0], users.map((u) => u.token)) });
      log(`  cluster #${rep + 1} single node: p50 ${s.phases[0].latencyMs.p50} p99 ${s.phases[0].latencyMs.p99} ms, ${s.phases[0].serverCpuMsPerMsg.toFixed(2)} ms CPU/msg, lost ${s.phases[0].lost}`);
    };
    const runCluster = async (rep, key, plan, cpu = 1) => {
      // The comparison gives the three nodes the single node's one core; the "both cores"
      // run lets them use the load generator's core too, to show how much of the added
      // latency is the three processes waiting for one core.
      cluster.pinAll(cpu);
      const c = await clusterFanout(loadgen, cluster, setup.roomA, plan, P.busyS * 1000).finally(() => cluster.pinAll(1));
      runs[key].push({ ...fanoutFigures(c.ph, NODES), framesPerMsg: c.frames, push: c.push, answerMs: c.answerMs, requestsPer100Msgs: c.requestsPer100Msgs });
      bytes[key].push(c.bytesPerMsg);
      requests[key].push(c.requestsPer100Msgs);
      log(`  cluster #${rep + 1} ${key}: p50 ${c.ph.latencyMs.p50} p99 ${c.ph.latencyMs.p99} ms, ${c.ph.serverCpuMsPerMsg.toFixed(2)} ms CPU/msg, lost ${c.ph.lost}; bytes/msg ${JSON.stringify(c.bytesPerMsg, (k, v) => (typeof v === "number" ? Math.round(v) : v))}; requests/100 msgs ${JSON.stringify(c.requestsPer100Msgs, (k, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v))}`);
    };
    const runFloor = async (rep) => {
      const f = await floorFanout(loadgen, floor, homeSenders, users.length, P.busyS * 1000, fanoutTask);
      runs.floorSingle.push(fanoutFigures(f.single));
      runs.floorCluster.push(fanoutFigures(f.cluster, NODES));
      log(`  cluster #${rep + 1} floor: one node p99 ${f.single.latencyMs.p99} ms, three nodes p99 ${f.cluster.latencyMs.p99} ms, ${f.cluster.serverCpuMsPerMsg.toFixed(2)} ms CPU/msg`);
      await sleep(2000); // the floor with the senders spread too (a mirror member's send goes home on the link socket)
      const { cluster: spread } = await floorFanout(loadgen, floor, spreadSenders, users.length, P.busyS * 1000, fanoutTask, { clusterOnly: true });
      runs.floorClusterSpread.push(fanoutFigures(spread, NODES));
      log(`  cluster #${rep + 1} floor, senders on all 3 nodes: p99 ${spread.latencyMs.p99} ms, ${spread.serverCpuMsPerMsg.toFixed(2)} ms CPU/msg`);
    };
    for (let rep = 0; rep < repeats; rep++) {
      // Alternating, as the other scenarios alternate Outpost and the baseline: the single node first, then last.
      const steps = [() => runSingle(rep), () => runCluster(rep, "cluster", homeSenders), () => runFloor(rep), () => runCluster(rep, "clusterSpread", spreadSenders), () => runCluster(rep, "clusterBothCores", homeSenders, "0,1")];
      for (const step of rep % 2 === 0 ? steps : [...steps.slice(1), steps[0]]) {
        await step();
        // Coalesced inbox summaries go out up to 5 s after a busy room's last message: let them pass before the next phase.
        await sleep(5000);
      }
    }
    // The proxies are the bench's, not the product's: the same run on a second cluster whose
    // nodes talk to each other directly says what they add (no bytes counted there).
    const direct = await directCluster(loadgen, P, log);
    // One copy per node: bytes to shanghai when 5 of the members are there (room B, senders on the home).
    const small = await clusterFanout(loadgen, cluster, setup.roomB, sockets(cluster, setup.b, [["beijing", 5]]), P.clusterSmallS * 1000);
    log(`  cluster, room 28/5/17: p99 ${small.ph.latencyMs.p99} ms; bytes/msg ${JSON.stringify(small.bytesPerMsg, (k, v) => (typeof v === "number" ? Math.round(v) : v))}; requests/100 msgs ${JSON.stringify(small.requestsPer100Msgs, (k, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v))}`);
    await sleep(5000);
    const catchUp = await cutAndHeal(loadgen, cluster, setup, P, log);
    const metrics = {};
    for (const k of Object.keys(runs.single[0])) {
      if (typeof runs.single[0][k] !== "number") continue;
      const row = { single: median(runs.single.map((r) => r[k])), cluster: median(runs.cluster.map((r) => r[k])), clusterSpread: median(runs.clusterSpread.map((r) => r[k])), clusterBothCores: median(runs.clusterBothCores.map((r) => r[k])), floorSingle: median(runs.floorSingle.map((r) => r[k])), floorCluster: median(runs.floorCluster.map((r) => r[k])), floorClusterSpread: median(runs.floorClusterSpread.map((r) => r[k])) };
      row.addedPerRepeat = runs.cluster.map((r, i) => r[k] - runs.single[i][k]);
      row.addedFloorPerRepeat = runs.floorCluster.map((r, i) => r[k] - runs.floorSingle[i][k]);
      row.addedFloor = median(row.addedFloorPerRepeat);
      row.addedFloorSpread = median((row.addedFloorSpreadPerRepeat = runs.floorClusterSpread.map((r, i) => r[k] - runs.floorSingle[i][k])));
      row.addedSpreadPerRepeat = runs.clusterSpread.map((r, i) => r[k] - runs.single[i][k]);
      row.added = median(row.addedPerRepeat);
      row.addedSpread = median(row.addedSpreadPerRepeat);
      metrics[k] = row;
    }
    for (const k of Object.keys(runs.cluster[0])) if (k.startsWith("cpuMsPerMsg_")) metrics[k] = { single: null, cluster: median(runs.cluster.map((r) => r[k])), clusterSpread: median(runs.clusterSpread.map((r) => r[k])), clusterBothCores: median(runs.clusterBothCores.map((r) => r[k])), floorSingle: null, floorCluster: median(runs.floorCluster.map((r) => r[k])), floorClusterSpread: median(runs.floorClusterSpread.map((r) => r[k])) };
    const medianBytes = (list) => Object.fromEntries(Object.keys(list[0]).map((k) => [k, median(list.map((b) => b[k]))]));
    return {
      title,
      kind: "cluster",
      runs,
      metrics,
      direct,
      bytesPerMsg: { cluster: medianBytes(bytes.cluster), clusterSpread: medianBytes(bytes.clusterSpread), clusterBothCores: medianBytes(bytes.clusterBothCores), smallRoom: small.bytesPerMsg, perRepeat: bytes },
      // Last run of each: requests per 100 messages on each directed link, by endpoint.
      requestsPer100Msgs: { cluster: requests.cluster.at(-1), clusterSpread: requests.clusterSpread.at(-1), smallRoom: small.requestsPer100Msgs },
      smallRoom: { members: { beijing: 28, shanghai: 5, shenzhen: 17 }, p50Ms: small.ph.latencyMs.p50, p99Ms: small.ph.latencyMs.p99, sent: small.ph.sent, lost: small.ph.lost, durationS: P.clusterSmallS },
      catchUp,
    };
  } finally {
    await floor.cluster?.stop().catch(() => {});
    await floor.single?.stop().catch(() => {});
    await comparison.stop();
  }
}

/** The home-senders run once on a cluster without link proxies. */
async function directCluster(loadgen, P, log) {
  const c = await startCluster(NODES, { direct: true });
  try {
    const setup = await setUpCluster(c, log);
    const plan = sockets(c, setup.a, [["beijing", 5]]);
    const r = await loadgen(fanoutTask({ pids: c.pids(), rooms: [{ roomId: setup.roomA, tokens: plan.tokens, senders: plan.senders }], durationMs: P.busyS * 1000 }), 180000);
    const figures = fanoutFigures(r.phases[0], NODES);
    log(`  cluster without proxies: p50 ${figures.p50Ms} p99 ${figures.p99Ms} ms, ${figures.cpuMsPerMsg.toFixed(2)} ms CPU/msg, lost ${figures.lost}`);
    return figures;
  } finally {
    await c.stop();
  }
}

/** Cut beijing↔shanghai for P.cutS seconds under 200 msg/s, heal, and time the catch-up. */
export async function cutAndHeal(loadgen, cluster, setup, P, log) {
  const plan = sockets(cluster, setup.a, [["beijing", 5]]);
  const [bySocket, byRest] = setup.a.shanghai;
  const events = {};
  const r = await loadgen(
    {
      task: "catchup",
      pids: cluster.pids(),
      rooms: [{ roomId: setup.roomA, tokens: plan.tokens, senders: plan.senders }],
      rate: 200,
      warmMs: 2000,
      cutMs: P.cutS * 1000,
      watch: "shanghai",
      remote: P.noRemoteSends
        ? []
        : [
            { index: plan.index(bySocket), via: "socket" },
            { index: plan.index(byRest), via: "rest", url: cluster.nodes.shanghai.url },
          ],
      // Two shanghai members send a message a second each during the cut: ordinary chat, not load.
      remoteIntervalMs: 500,
      maxCatchUpMs: P.cutS * 1000 * 2 + 30000,
    },
    P.cutS * 1000 * 3 + 180000,
    {
      onEvent: async (event) => {
        if (event === "cut") await cluster.cut(HOME, "shanghai");
        if (event === "heal") await cluster.heal(HOME, "shanghai");
        events[event] = { at: performance.now(), bytes: snapshot(cluster) };
      },
    },
  );
  // Bytes home→shanghai from the heal until shanghai had everything, per message it missed
  // (the live traffic of those seconds rides along: an upper bound).
  const healBytes = events.heal.bytes[`${HOME}-shanghai`];
  const doneBytes = events.mark?.bytes[`${HOME}-shanghai`];
  r.catchUpBytesPerMissedMsg = doneBytes ? (doneBytes.out - healBytes.out) / Math.max(1, r.sentDuringCut) : null;
  // Requests each way between the heal and the catch-up (pushes carry up to 500 messages).
  r.catchUpRequests = events.mark ? Object.fromEntries([`${HOME}→shanghai`, `shanghai→${HOME}`].map((link) => [link, Object.fromEntries(Object.entries(events.mark.bytes.requests[link]).map(([k, v]) => [k, v - (events.heal.bytes.requests[link][k] ?? 0)]).filter(([, v]) => v > 0))])) : null;
  r.cutBytes = { [`${HOME}→shanghai`]: events.heal.bytes[`${HOME}-shanghai`].out - events.cut.bytes[`${HOME}-shanghai`].out };
  r.cpuMsPerMsgDuringCut = Object.fromEntries(NODES.map((n, i) => [n, r.cpuMsPerMsgDuringCutByPid[i]]));
  r.cpuSDuringCatchUp = Object.fromEntries(NODES.map((n, i) => [n, r.cpuSDuringCatchUpByPid[i]]));
  r.catchUpMsgsPerSec = r.catchUpMs ? r.sentDuringCut / (r.catchUpMs / 1000) : null;
  r.cutS = P.cutS;
  log(`  cut ${P.cutS} s: ${r.sentDuringCut} messages during the cut; shanghai had them all ${r.catchUpMs === null ? "NEVER" : `${Math.round(r.catchUpMs)} ms`} after the heal (${r.arrivedAtWatch}/${r.expectedAtWatch}); queued sends ${JSON.stringify(r.remote, (k, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v))}`);
  return r;
}
