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
import { benchDir, cpuSeconds, runLoadgen, createRoom, createUsers, killAll, pin, prepareBuild, startOutpost, startServer, tmpDir } from "./lib/servers.mjs";

const { values: argv } = parseArgs({ options: { scenario: { type: "string", default: "busy" }, seconds: { type: "string", default: "8" }, rooms: { type: "string" }, rate: { type: "string" } } });
const SECONDS = Number(argv.seconds);
const MANY = argv.scenario === "many";
const ROOMS = MANY ? Number(argv.rooms ?? 100) : 1;
const RATE = Number(argv.rate ?? (MANY ? 10 * ROOMS : 200));
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

/**
 * What the runtime was doing in each sample, from the native frames of its stack:
 * a socket message event, an alarm, an RPC between objects, frames going out
 * (the WebSocket pump) or a commit outside any JS event.
 */
function classify(stack) {
  if (stack.includes("sendHibernatableWebSocketMessage")) return "socket message event (JS handler, SQL, sends)";
  if (stack.includes("runAlarm")) return "alarm event (inbox flush, search index)";
  if (/JsRpc|jsRpc|JsRpcTarget/.test(stack)) return "RPC between objects (room → inbox)";
  if (/WebSocket::pump|WebSocketPipe|AsyncStreamFd|writev|tcp_sendmsg/.test(stack)) return "frames out (WebSocket pump, writev)";
  if (/fsync|xSync|ActorSqlite|vdbeCommit/.test(stack)) return "commit and fsync (after the event)";
  if (/HttpServer|HttpService|WorkerEntrypoint::request/.test(stack)) return "HTTP";
  return "event loop and other";
}

/** Per-sample classes and Outpost's JavaScript functions (inclusive: counted once per sample they appear in). */
function jsAndClasses(dataFile) {
  let out;
  try {
    out = execFileSync("perf", ["script", "-i", dataFile], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 30 }).toString();
  } catch (e) {
    return { classes: [`perf script failed: ${e.message}`], js: [] };
  }
  const samples = out.split(/\n\s*\n/).filter((x) => x.trim());
  const cls = new Map();
  const fns = new Map();
  for (const sample of samples) {
    const c = classify(sample);
    cls.set(c, (cls.get(c) ?? 0) + 1);
    const seen = new Set();
    for (const m of sample.matchAll(/ (?:JS|LazyCompile|Function):[*~^+']*'?(\S*) worker\.js:\d+/g)) {
      const name = m[1] || "(anonymous)";
      if (!seen.has(name)) seen.add(name), fns.set(name, (fns.get(name) ?? 0) + 1);
    }
  }
  const pct = (n) => ((100 * n) / samples.length).toFixed(1).padStart(5) + "%";
  return {
    classes: [...cls].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${pct(n)}  ${k}`),
    js: [...fns].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, n]) => `${pct(n)}  ${k}`),
  };
}

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
