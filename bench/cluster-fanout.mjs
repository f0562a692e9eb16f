/**
 * `node bench/cluster-fanout.mjs [repeats] [seconds] [spread] [floor] [bothcores]`: the fan-out part of the cluster
 * scenario alone (bench/lib/cluster-scenario.mjs), for A/B work on the push path: one
 * room homed on beijing, 50 members over three nodes (17/17/16), 5 senders on beijing,
 * 200 msg/s, against the same room with all 50 on one node; single and cluster runs
 * alternate, and each repeat prints the added p99, latency by (sender's node > receiver's
 * node) — within one cluster run, remote minus home-local is the push path's share, much
 * less noisy than cluster minus single on a shared machine — and the proxies' answer
 * times for pushes: minutes instead of the full scenario's half hour.
 *
 * For looking at the tail (bench/notes.md, "Where the cluster's p99 goes"):
 *   BENCH_V8FLAGS="--trace-gc"   V8 flags for the three cluster nodes (not the single
 *                                node); their output is written to $TMPDIR/outpost-bench-<node>.log
 *   BENCH_V8FLAGS_SINGLE="…"     V8 flags for the single node (an A/B of a flag gives both the same)
 *   OUTPOST_BENCH_TRACE=file     every delivery, one line each (loadgen pid, clientId,
 *                                sender's node, receiver's node, sent at ms, latency ms)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runLoadgen, pin, startFloor, tmpDir } from "./lib/servers.mjs";
import { floorFanout, startFloorCluster } from "./lib/floor-cluster.mjs";
import { median } from "./lib/stats.mjs";
import { fanoutTask, sockets, startComparison } from "./lib/cluster-scenario.mjs";

const REPEATS = Number(process.argv[2] ?? 2);
const SECONDS = Number(process.argv[3] ?? 10);
/** "spread": senders 2/2/1 on the three nodes (their sends go home through their node's link queue) */
const SPREAD = process.argv.slice(4).includes("spread");
/** "floor": also the runtime floor (bench/floor/cluster.js) on one node and on three, in the same repeats */
const FLOOR = process.argv.slice(4).includes("floor");
/** "bothcores": the single node and the three nodes may all use both cores (the load generator stays on core 0) */
const BOTH_CORES = process.argv.slice(4).includes("bothcores");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const pct = (s, p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];

pin(process.pid, 0);
const comparison = await startComparison(log);
const floor = FLOOR ? { single: await startFloor(tmpDir("floor-single")), cluster: await startFloorCluster(["beijing", "shanghai", "shenzhen"]) } : null;
try {
  const { single, users, singleRoom, cluster, setup } = comparison;
  if (BOTH_CORES) {
    pin(single.pid, "0,1");
    cluster.pinAll("0,1");
  }
  const plan = sockets(cluster, setup.a, SPREAD ? [["beijing", 2], ["shanghai", 2], ["shenzhen", 1]] : [["beijing", 5]]);
  const rows = [];
  for (let rep = 0; rep < REPEATS; rep++) {
    const s = (await runLoadgen(fanoutTask({ wsBase: single.wsUrl, pid: single.pid, rooms: [{ roomId: singleRoom, tokens: users.map((u) => u.token), senders: 5 }], durationMs: SECONDS * 1000 }), 180000)).phases[0];
    await sleep(5000);
    const bytesBefore = cluster.linkBytes("beijing", "shanghai");
    const pushesBefore = cluster.answerMs("beijing", "shanghai").push?.length ?? 0;
    const c = (await runLoadgen(fanoutTask({ pids: cluster.pids(), rooms: [{ roomId: setup.roomA, tokens: plan.tokens, senders: plan.senders }], durationMs: SECONDS * 1000 }), 180000)).phases[0];
    const bytesAfter = cluster.linkBytes("beijing", "shanghai");
    const answers = (cluster.answerMs("beijing", "shanghai").push ?? []).slice(pushesBefore).sort((a, b) => a - b);
    const row = {
      singleP99: s.latencyMs.p99,
      clusterP99: c.latencyMs.p99,
      added: c.latencyMs.p99 - s.latencyMs.p99,
      singleP50: s.latencyMs.p50,
      clusterP50: c.latencyMs.p50,
      lost: c.lost,
      singleCpuMsPerMsg: s.serverCpuMsPerMsg,
      clusterCpuMsPerMsg: c.serverCpuMsPerMsg,
      bytesPerMsgToShanghai: (bytesAfter.out - bytesBefore.out) / Math.max(1, c.sent),
      bytesPerMsgFromShanghai: (bytesAfter.back - bytesBefore.back) / Math.max(1, c.sent),
      pushesPerMsg: answers.length / Math.max(1, c.sent),
      pushAnswerMs: answers.length ? { p50: pct(answers, 50), p99: pct(answers, 99), max: answers.at(-1) } : null,
      byPair: c.latencyByPair,
      cpuByNode: (c.serverCpuSByPid ?? []).map((x) => (x * 1000) / Math.max(1, c.sent)),
    };
    if (floor) {
      await sleep(5000);
      const f = await floorFanout(runLoadgen, floor, plan, users.length, SECONDS * 1000, fanoutTask);
      const [fs1, fc] = [f.single, f.cluster];
      Object.assign(row, { floorSingleP99: fs1.latencyMs.p99, floorClusterP99: fc.latencyMs.p99, floorAdded: fc.latencyMs.p99 - fs1.latencyMs.p99, floorSingleP50: fs1.latencyMs.p50, floorClusterP50: fc.latencyMs.p50, floorLost: fc.lost, floorSingleCpu: fs1.serverCpuMsPerMsg, floorClusterCpu: fc.serverCpuMsPerMsg, floorByPair: fc.latencyByPair, floorCpuByNode: (fc.serverCpuSByPid ?? []).map((x) => (x * 1000) / Math.max(1, fc.sent)) });
    }
    rows.push(row);
    log(`#${rep + 1}`, JSON.stringify(row, (k, v) => (typeof v === "number" ? Math.round(v * 100) / 100 : v)));
    await sleep(5000);
  }
  log("median added p99", median(rows.map((r) => r.added)), "cluster p99", median(rows.map((r) => r.clusterP99)), "single p99", median(rows.map((r) => r.singleP99)), "cpu/msg", median(rows.map((r) => r.clusterCpuMsPerMsg)), "vs", median(rows.map((r) => r.singleCpuMsPerMsg)), "bytes/msg →sh", median(rows.map((r) => r.bytesPerMsgToShanghai)), "←sh", median(rows.map((r) => r.bytesPerMsgFromShanghai)));
  if (floor) log("floor: median added p99", median(rows.map((r) => r.floorAdded)), "cluster p99", median(rows.map((r) => r.floorClusterP99)), "single p99", median(rows.map((r) => r.floorSingleP99)), "cpu/msg", median(rows.map((r) => r.floorClusterCpu)), "vs", median(rows.map((r) => r.floorSingleCpu)));
} finally {
  if (process.env.BENCH_V8FLAGS) {
    for (const n of ["beijing", "shanghai", "shenzhen"]) fs.writeFileSync(path.join(os.tmpdir(), `outpost-bench-${n}.log`), comparison.cluster.nodes[n].logs());
    log(`the cluster nodes' output (with BENCH_V8FLAGS): ${path.join(os.tmpdir(), "outpost-bench-<node>.log")}`);
  }
  await floor?.cluster.stop().catch(() => {});
  await floor?.single.stop().catch(() => {});
  await comparison.stop();
}
