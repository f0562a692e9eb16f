/**
 * Where a cluster's fan-out spends its CPU: the cluster scenario's fan-out (one room homed on
 * beijing, 50 members over three nodes, 5 senders on beijing, 200 msg/s; bench/lib/cluster-scenario.mjs)
 * while `perf record` samples the home (beijing) and one mirror node (shanghai), each with V8's
 * jitdump so Outpost's JavaScript is named (as bench/profile.mjs does for one node).
 *
 *   node bench/profile-cluster.mjs [--seconds 8] [--spread]
 *
 * `--spread`: senders 2/2/1 over the three nodes (their sends go home through their node's
 * link queue) instead of 5 on beijing. Prints a Markdown section per node (also written to
 * bench/profile-cluster.md, or bench/profile-cluster-spread.md).
 */
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { benchDir, cpuSeconds, killAll, pin, runLoadgen } from "./lib/servers.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { fanoutTask, setUpCluster, sockets } from "./lib/cluster-scenario.mjs";
import { categories, jsAndClasses, perfSummary } from "./lib/perf-report.mjs";

const { values: argv } = parseArgs({ options: { seconds: { type: "string", default: "8" }, spread: { type: "boolean", default: false } } });
const SECONDS = Number(argv.seconds);
setTimeout(() => (killAll(), process.exit(2)), 10 * 60 * 1000).unref();
pin(process.pid, 0);
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

const cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { v8Flags: ["--perf-prof"] });
const out = [];
try {
  const setup = await setUpCluster(cluster, log);
  const plan = sockets(cluster, setup.a, argv.spread ? [["beijing", 2], ["shanghai", 2], ["shenzhen", 1]] : [["beijing", 5]]);
  const profiled = ["beijing", "shanghai"];
  const lg = runLoadgen(fanoutTask({ pids: cluster.pids(), rooms: [{ roomId: setup.roomA, tokens: plan.tokens, senders: plan.senders }], durationMs: (SECONDS + 4) * 1000 }), 180000);
  await new Promise((r) => setTimeout(r, 3000)); // connected, warmed up and sending
  const before = Object.fromEntries(profiled.map((n) => [n, cpuSeconds(cluster.nodes[n].pid)]));
  const perfs = profiled.map((n) => {
    const raw = path.join(cluster.nodes[n].dataDir, "perf.data");
    const p = spawn("perf", ["record", "-k", "mono", "-F", "999", "-g", "-o", raw, "-p", String(cluster.nodes[n].pid), "--", "sleep", String(SECONDS)], { stdio: "ignore" });
    return { n, raw, done: new Promise((r) => p.once("exit", r)) };
  });
  await Promise.all(perfs.map((p) => p.done));
  const after = Object.fromEntries(profiled.map((n) => [n, cpuSeconds(cluster.nodes[n].pid)]));
  const ph = (await lg).phases[0];
  out.push(`### perf profile: cluster fan-out, ${argv.spread ? "senders 2/2/1 on beijing, shanghai, shenzhen" : "senders on beijing"}, 200 msg/s, ${SECONDS} s of samples (\`node bench/profile-cluster.mjs${argv.spread ? " --spread" : ""}\`)`, "");
  out.push(`Latency p50 ${ph.latencyMs.p50.toFixed(2)} ms, p99 ${ph.latencyMs.p99.toFixed(2)} ms; ${ph.serverCpuMsPerMsg.toFixed(2)} ms of CPU per message over the three nodes.`, "");
  for (const p of perfs) {
    const dir = cluster.nodes[p.n].dataDir;
    const injected = path.join(dir, "perf.jit.data");
    let dataFile = p.raw;
    try {
      execFileSync("perf", ["inject", "--jit", "-i", p.raw, "-o", injected], { cwd: dir, stdio: "ignore" });
      dataFile = injected;
    } catch (e) {
      log(`perf inject --jit failed (${e.message}); JavaScript stays unnamed`);
    }
    const { classes, js } = jsAndClasses(dataFile);
    const share = (after[p.n] - before[p.n]) / SECONDS;
    out.push(`**${p.n}**: ${(share * 100).toFixed(0)}% of a core, ${((share * 1000) / 200).toFixed(2)} ms per message.`, "");
    out.push("What the runtime was doing:", "", "```", ...classes, "```", "");
    if (js.length) out.push("Outpost's JavaScript by function (inclusive):", "", "```", ...js, "```", "");
    out.push("By kind of code (self time):", "", "```", ...categories(dataFile), "```", "", "Top symbols:", "", "```", ...perfSummary(dataFile, "dso,sym", 25), "```", "");
  }
} finally {
  await cluster.stop().catch(() => {});
}
const text = out.join("\n");
console.log(text);
fs.writeFileSync(path.join(benchDir, argv.spread ? "profile-cluster-spread.md" : "profile-cluster.md"), text + "\n");
killAll();
process.exit(0);
