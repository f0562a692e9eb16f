/**
 * Summaries of a `perf record` file of a workerd node (bench/profile.mjs, bench/profile-cluster.mjs):
 * self time by shared object, by kind of code, by symbol; and per sample, what the runtime was
 * doing (from the native frames of its stack) and Outpost's JavaScript functions (inclusive).
 */
import { execFileSync } from "node:child_process";

export function perfSummary(dataFile, sort, limit) {
  try {
    const out = execFileSync("perf", ["report", "-i", dataFile, "--stdio", "--no-children", "--sort", sort, "--percent-limit", "0.8"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 }).toString();
    return out.split("\n").filter((l) => /^\s+\d+\.\d+%/.test(l)).slice(0, limit).map((l) => l.trim().replace(/\s+/g, " "));
  } catch (e) {
    return [`perf report failed: ${e.message}`];
  }
}

/** Self time grouped by what the code is: kernel, SQLite, JS engine, runtime I/O (kj/capnp/workerd), allocator. */
export function categories(dataFile) {
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
    else if (/JIT|perf-|jitted-/.test(dso) || /^Builtins_|^v8::|^Interpreter|^Turbofan|^Maglev|^Sparkplug/.test(sym)) c = "JavaScript (V8: JIT code, builtins, GC, runtime)";
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
export function jsAndClasses(dataFile) {
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

