/**
 * Where the time goes: run one messaging scenario against Outpost and the baseline
 * while `perf record` samples the server process, then summarise by shared object
 * (kernel vs runtime vs JIT'd JavaScript vs SQLite), by kind of work the runtime
 * was doing (socket event, alarm, RPC between objects, frames out, commit), by
 * symbol, and Outpost's JavaScript by function (inclusive).
 *
 *   node bench/profile.mjs [--scenario busy|many] [--seconds 8] [--rooms N] [--rate R]
 *
 * Outpost runs with V8's --perf-prof: V8 writes a jitdump that `perf inject --jit`
 * turns into symbols, so JavaScript functions are named correctly (the simpler
 * --perf-basic-prof map goes stale when V8 moves or reuses code, and named the
 * wrong functions in earlier profiles).
 *
 * Prints a Markdown section (also written to bench/profile-<scenario>.md, which run.mjs appends to
 * docs/PERFORMANCE.md under "Where the time goes").
 */
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { categories, jsAndClasses, perfSummary } from "./lib/perf-report.mjs";
import { benchDir, cpuSeconds, runLoadgen, createRoom, createUsers, killAll, pin, prepareBuild, startOutpost, startServer, tmpDir } from "./lib/servers.mjs";

const { values: argv } = parseArgs({ options: { scenario: { type: "string", default: "busy" }, seconds: { type: "string", default: "8" }, rooms: { type: "string" }, rate: { type: "string" } } });
const SECONDS = Number(argv.seconds);
const MANY = argv.scenario === "many";
const ROOMS = MANY ? Number(argv.rooms ?? 100) : 1;
const RATE = Number(argv.rate ?? (MANY ? 10 * ROOMS : 200));
setTimeout(() => (killAll(), process.exit(2)), 10 * 60 * 1000).unref();
pin(process.pid, 0);

const loadgen = (task) => runLoadgen(task, 180000);

async function profileOne(kind) {
  const dir = tmpDir(`profile-${kind}`);
  // V8's jitdump and the objects perf inject makes from it go to `dir`.
  const s = kind === "outpost" ? await startOutpost(dir, { v8Flags: ["--perf-prof"], cwd: dir }) : await startServer(kind, dir);
  try {
    const users = await createUsers(s, MANY ? 50 : 10);
    const rooms = MANY ? await Promise.all(Array.from({ length: ROOMS }, (_, i) => createRoom(s, users[0], `p${i}`, users.map((u) => u.id)))) : [await createRoom(s, users[0], "p", users.map((u) => u.id))];
    const plan = rooms.map((roomId) => ({ roomId, senders: MANY ? 1 : 5, tokens: Array.from({ length: MANY ? 20 : 50 }, (_, i) => users[i % users.length].token) }));
    const raw = path.join(dir, "perf.data");
    const lg = loadgen({ task: "fanout", wsBase: s.wsUrl, pid: s.pid, rooms: plan, rate: RATE, durationMs: (SECONDS + 2) * 1000 });
    await new Promise((r) => setTimeout(r, 1500)); // connected and sending
    const c0 = cpuSeconds(s.pid);
    const perf = spawn("perf", ["record", "-k", "mono", "-F", "999", "-g", "-o", raw, "-p", String(s.pid), "--", "sleep", String(SECONDS)], { stdio: "ignore" });
    await new Promise((r) => perf.once("exit", r));
    const c1 = cpuSeconds(s.pid);
    const res = await lg;
    const ph = res.phases[0];
    let dataFile = raw;
    if (kind === "outpost") {
      const injected = path.join(dir, "perf.jit.data");
      try {
        execFileSync("perf", ["inject", "--jit", "-i", raw, "-o", injected], { cwd: dir, stdio: "ignore" });
        dataFile = injected;
      } catch (e) {
        console.error(`perf inject --jit failed (${e.message}); JavaScript stays unnamed`);
      }
    }
    const { classes, js } = jsAndClasses(dataFile);
    return {
      kind,
      cpuShare: (c1 - c0) / SECONDS,
      cpuMsPerMsg: ph.serverCpuMsPerMsg,
      usPerDelivery: ph.serverCpuUsPerDelivery,
      dso: perfSummary(dataFile, "dso", 12),
      cats: categories(dataFile),
      classes,
      js,
      sym: perfSummary(dataFile, "dso,sym", 25),
    };
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await prepareBuild();
const results = [];
for (const kind of ["outpost", "baseline"]) results.push(await profileOne(kind));
const what = MANY ? `${ROOMS} rooms × 20 clients at ${RATE} msg/s` : `1 room × 50 clients at ${RATE} msg/s`;
const L = [`### perf profile: ${argv.scenario} scenario, ${what}, ${SECONDS} s of samples (\`node bench/profile.mjs --scenario ${argv.scenario}${argv.rooms ? ` --rooms ${argv.rooms}` : ""}${argv.rate ? ` --rate ${argv.rate}` : ""}\`)`, ""];
for (const r of results) {
  L.push(`**${r.kind}**: server CPU ${(r.cpuShare * 100).toFixed(0)}% of a core, ${r.cpuMsPerMsg.toFixed(2)} ms per message, ${r.usPerDelivery.toFixed(1)} µs per delivered frame.`, "");
  L.push("What the runtime was doing (share of samples, by the native frames of the stack):", "", "```", ...r.classes, "```", "");
  if (r.js.length) L.push("Outpost's JavaScript by function (inclusive: time in the function and what it calls, SQL and sends included):", "", "```", ...r.js, "```", "");
  L.push("By shared object (self time):", "", "```", ...r.dso, "```", "", "By kind of code (self time, symbols classified by name):", "", "```", ...r.cats, "```", "", "Top symbols:", "", "```", ...r.sym, "```", "");
}
const text = L.join("\n");
console.log(text);
fs.writeFileSync(path.join(benchDir, `profile-${argv.scenario}.md`), text + "\n");
killAll();
process.exit(0);
