/**
 * Where the time goes: run one messaging scenario against Outpost and the baseline
 * while `perf record` samples the server process, then summarise by shared object
 * (kernel vs runtime vs JIT'd JavaScript vs SQLite) and by symbol.
 *
 *   node bench/profile.mjs [--scenario busy|many] [--seconds 8]
 *
 * With OUTPOST_BENCH_V8_FLAGS=--perf-basic-prof, workerd writes /tmp/perf-<pid>.map
 * and perf names JIT'd JavaScript (`JS:^commitSend worker.js:…`); add
 * `perf report --children` by hand for inclusive time per function.
 *
 * Prints a Markdown section (also written to bench/profile-<scenario>.md, which run.mjs appends to
 * docs/PERFORMANCE.md under "Where the time goes").
 */
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { benchDir, cpuSeconds, runLoadgen, createRoom, createUsers, killAll, pin, prepareBuild, startServer, tmpDir } from "./lib/servers.mjs";

const { values: argv } = parseArgs({ options: { scenario: { type: "string", default: "busy" }, seconds: { type: "string", default: "8" } } });
const SECONDS = Number(argv.seconds);
setTimeout(() => (killAll(), process.exit(2)), 10 * 60 * 1000).unref();
pin(process.pid, 0);

const loadgen = (task) => runLoadgen(task, 180000);

function perfSummary(dataFile, sort, limit) {
  try {
    const out = execFileSync("perf", ["report", "-i", dataFile, "--stdio", "--no-children", "--sort", sort, "--percent-limit", "0.8"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 }).toString();
    return out.split("\n").filter((l) => /^\s+\d+\.\d+%/.test(l)).slice(0, limit).map((l) => l.trim().replace(/\s+/g, " "));
  } catch (e) {
    return [`perf report failed: ${e.message}`];
  }
}

/** Self time grouped by what the code is: kernel, SQLite, JS engine, runtime I/O (kj/capnp/workerd), allocator. */
function categories(dataFile) {
  let out;
  try {
    out = execFileSync("perf", ["report", "-i", dataFile, "--stdio", "--no-children", "--sort", "dso,sym", "--percent-limit", "0"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 256 << 20 }).toString();
  } catch {
    return [];
  }
  const cat = {};
  for (const line of out.split("\n")) {
    const m = /^\s+(\d+\.\d+)%\s+(\S+)\s+\[(.)\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pctText, dso, , sym] = m;
    const p = Number(pctText);
    let c;
    if (dso.includes("kernel")) c = /tcp|inet|sock|skb|net_|ip_|sk_|__dev|loopback/.test(sym) ? "kernel: TCP/loopback" : /ext4|jbd2|fsync|blk|nvme|iomap|filemap|vfs_fsync|file_write/.test(sym) ? "kernel: file system / fsync" : /epoll|futex|schedule|switch|wake|irq|spin/.test(sym) ? "kernel: scheduling, epoll, futex, irq" : "kernel: other";
    else if (/^sqlite3|^fts5|^sqlite/i.test(sym) || dso.includes("sqlite")) c = "SQLite";
    else if (/JIT|perf-/.test(dso) || /^Builtins_|^v8::|^Interpreter|^Turbofan|^Maglev|^Sparkplug/.test(sym)) c = "JavaScript (V8: JIT code, builtins, GC, runtime)";
    else if (/tcmalloc|malloc|free|operator new|operator delete/.test(sym)) c = "memory allocator";
    else if (/^kj::|^capnp::|^workerd::|^edgeworker|^jsg::|^kj_/.test(sym)) c = /WebSocket|Http|AsyncIo|Socket|Pipe|Stream/.test(sym) ? "runtime I/O (kj/workerd WebSocket, HTTP, streams)" : "runtime other (kj/workerd/jsg)";
    else if (dso === "node") c = /^node::|^uv_/.test(sym) ? "runtime I/O (node/libuv)" : "JavaScript (V8: JIT code, builtins, GC, runtime)";
    else if (/libc/.test(dso)) c = "libc";
    else c = `other (${dso})`;
    cat[c] = (cat[c] ?? 0) + p;
  }
  return Object.entries(cat).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v.toFixed(1).padStart(5)}%  ${k}`);
}

async function profileOne(kind) {
  const dir = tmpDir(`profile-${kind}`);
  const s = await startServer(kind, dir);
  try {
    const users = await createUsers(s, 10);
    const rooms = argv.scenario === "many" ? await Promise.all(Array.from({ length: 20 }, (_, i) => createRoom(s, users[0], `p${i}`, users.map((u) => u.id)))) : [await createRoom(s, users[0], "p", users.map((u) => u.id))];
    const plan = rooms.map((roomId) => ({ roomId, senders: argv.scenario === "many" ? 1 : 5, tokens: Array.from({ length: argv.scenario === "many" ? 20 : 50 }, (_, i) => users[i % users.length].token) }));
    const rate = argv.scenario === "many" ? 200 : 200;
    const dataFile = path.join(dir, "perf.data");
    const lg = loadgen({ task: "fanout", wsBase: s.wsUrl, pid: s.pid, rooms: plan, rate, durationMs: (SECONDS + 2) * 1000 });
    await new Promise((r) => setTimeout(r, 1500)); // connected and sending
    const c0 = cpuSeconds(s.pid);
    const perf = spawn("perf", ["record", "-F", "999", "-g", "-o", dataFile, "-p", String(s.pid), "--", "sleep", String(SECONDS)], { stdio: "ignore" });
    await new Promise((r) => perf.once("exit", r));
    const c1 = cpuSeconds(s.pid);
    const res = await lg;
    const ph = res.phases[0];
    return {
      kind,
      cpuShare: (c1 - c0) / SECONDS,
      cpuMsPerMsg: ph.serverCpuMsPerMsg,
      usPerDelivery: ph.serverCpuUsPerDelivery,
      dso: perfSummary(dataFile, "dso", 12),
      cats: categories(dataFile),
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
const L = [`### perf profile: ${argv.scenario} room scenario at 200 msg/s, ${SECONDS} s of samples (\`node bench/profile.mjs --scenario ${argv.scenario}\`)`, ""];
for (const r of results) {
  L.push(`**${r.kind}**: server CPU ${(r.cpuShare * 100).toFixed(0)}% of a core, ${r.cpuMsPerMsg.toFixed(2)} ms per message, ${r.usPerDelivery.toFixed(1)} µs per delivered frame.`, "", "By shared object (self time):", "", "```", ...r.dso, "```", "", "By kind of code (self time, symbols classified by name):", "", "```", ...r.cats, "```", "", "Top symbols:", "", "```", ...r.sym, "```", "");
}
const text = L.join("\n");
console.log(text);
fs.writeFileSync(path.join(benchDir, `profile-${argv.scenario}.md`), text + "\n");
killAll();
process.exit(0);
