/**
 * A damaged room database on a real node. Two rooms' files are damaged while
 * the node is stopped — one so that it is no SQLite file at all (header
 * overwritten: SQLITE_NOTADB, the object cannot start), one with its messages
 * pages overwritten in the middle of the file (SQLITE_CORRUPT when they are
 * read). After a restart every request about them answers 500
 * `room_unavailable` (not 503 "try again"), the log names each room and its
 * file, and the other rooms keep working. `npm run doctor` (the real script,
 * as a child process) finds exactly those two files, names their rooms, and
 * exits 1; on the healthy node it exits 0 — and running it under write load
 * disturbs nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { OutpostNode } from "../harness";
import { roomWs } from "../e2e/client";
import { withNode } from "../fixtures";
import type { UntypedBody } from "../untyped-body";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";
import type { DoctorReport } from "../../ops/doctor.mjs";
import { recordFigures } from "../figures";

const MESSAGES = 60;
let node: OutpostNode;
let token: string;
const rooms: Record<"notadb" | "pages" | "healthy", string> = { notadb: "", pages: "", healthy: "" };

async function api(method: string, p: string, body?: unknown): Promise<{ status: number; body: UntypedBody }> {
  const r = await fetch(node.url + "/api/v1" + p, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
}

/** outpost_storage_errors_total{kind} at GET /metrics (the admin's bearer token), 0 while absent. */
async function storageErrors(kind: "write" | "damaged"): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const line = text.split("\n").find((l) => l.startsWith(`outpost_storage_errors_total{kind="${kind}"} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

const roomFile = (roomId: string) => path.join(node.dataDir, "objects", uniqueKeyFor("RoomObject"), `${objectIdFromName(uniqueKeyFor("RoomObject"), roomId)}.sqlite`);

/** `npm run doctor` as an admin runs it: the script, OUTPOST_DATA pointing at the node. */
function doctor(args: string[] = ["--json"]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const env = { ...process.env, OUTPOST_DATA: node.dataDir, OUTPOST_CONFIG: "" };
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, "../../ops/doctor.mjs"), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

beforeAll(async () => {
  // Messages go in as fast as acks come back while doctor runs: the per-user budget is off.
  ({ node, admin: token } = await withNode({ keepData: true, limits: { messagesPerSecondPerUser: 0 } }));
  for (const key of Object.keys(rooms) as (keyof typeof rooms)[]) {
    const r = await api("POST", "/rooms", { name: `corrupt-${key}`, visibility: "private" });
    rooms[key] = r.body.id;
    for (let i = 0; i < MESSAGES; i++) {
      const s = await api("POST", `/rooms/${r.body.id}/messages`, { text: `message ${i} in ${key} `.repeat(20), clientId: `${key}-${i}` });
      expect(s.status).toBe(201);
    }
  }
}, 120_000);

afterAll(async () => {
  await node?.stop();
  if (node) fs.rmSync(node.dataDir, { recursive: true, force: true });
});

describe("npm run doctor on a healthy node", () => {
  it("exits 0 and names every file: the runtime's object ids are the ones ops/object-ids.mjs computes", async () => {
    for (const id of Object.values(rooms)) expect(fs.existsSync(roomFile(id)), id).toBe(true);
    const r = await doctor();
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.damaged).toEqual([]);
    expect(report.missing).toEqual([]);
    const owners = report.files.map((f) => f.owner);
    for (const id of Object.values(rooms)) expect(owners).toContainEqual(expect.objectContaining({ kind: "room", id }));
    expect(owners).toContainEqual(expect.objectContaining({ kind: "directory" }));
    expect(owners).toContainEqual(expect.objectContaining({ kind: "user", label: "admin" }));
    expect(owners.filter((o) => o.kind === "unknown")).toEqual([]);
    expect(r.stderr).toMatch(new RegExp(`doctor: ${report.files.length}/${report.files.length} files checked`));
  });

  it("does not disturb a running node under write load (read-only, WAL-safe)", async () => {
    let sent = 0;
    let failed = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const s = await api("POST", `/rooms/${rooms.healthy}/messages`, { text: `during doctor ${sent}`, clientId: `doc-${sent}-${failed}` });
        if (s.status === 201) sent++;
        else failed++;
      }
    })();
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await doctor());
    stop = true;
    await load;
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect({ sent: sent > 0, failed }).toEqual({ sent: true, failed: 0 });
    const history = await api("GET", `/rooms/${rooms.healthy}/messages?limit=1`);
    expect(history.body.lastSeq).toBe(MESSAGES + sent);
    recordFigures("corrupt-room", { "doctor runs under write load": runs.length, "messages sent meanwhile (all acked)": sent, "doctor wall time on a small node (ms)": Math.max(...runs.map((r) => r.ms)) });
  });
});

describe("a passing fault is not a damaged room", () => {
  it("an I/O error on commit (strace injects EIO into fsync) is 503 storage_error, and the retry succeeds once it passes", async () => {
    const pid = node.pid()!;
    const args = ["-f", "-e", "trace=fsync,fdatasync", "-e", "inject=fsync,fdatasync:error=EIO", "-o", "/dev/null"];
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) args.push("-p", t);
    const strace = spawn("strace", args, { stdio: ["ignore", "ignore", "pipe"] });
    await new Promise((r) => setTimeout(r, 1000)); // strace has attached (it says nothing when it has)
    const failed = await api("POST", `/rooms/${rooms.healthy}/messages`, { text: "during EIO", clientId: "eio-1" });
    strace.kill("SIGINT");
    await new Promise((r) => strace.once("exit", r));
    expect(failed).toEqual({ status: 503, body: { error: { code: "storage_error", message: expect.any(String) } } });
    expect(await storageErrors("write")).toBeGreaterThanOrEqual(1);
    // The retry stores it (201) — or finds it stored (200): a failed fsync can leave the WAL frames of the
    // commit in place, so the message may be there after all; the clientId keeps it from being stored twice.
    const retried = await api("POST", `/rooms/${rooms.healthy}/messages`, { text: "during EIO", clientId: "eio-1" });
    expect([200, 201]).toContain(retried.status);
    const recent = await api("GET", `/rooms/${rooms.healthy}/messages?limit=20`);
    expect(recent.body.messages.filter((m: { clientId: string }) => m.clientId === "eio-1")).toHaveLength(1);
    expect(node.logs()).not.toMatch(new RegExp(`room ${rooms.healthy} cannot be opened`));
  });
});

describe("a damaged room", () => {
  let body: unknown;

  beforeAll(async () => {
    await node.stop();
    // Push everything from the -wal into the files first, so the damage hits data the node needs.
    for (const id of Object.values(rooms)) {
      const db = new Database(roomFile(id));
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
    }
    // 1. Not SQLite at all: the 100-byte header overwritten.
    const a = fs.openSync(roomFile(rooms.notadb), "r+");
    fs.writeSync(a, randomBytes(100), 0, 100, 0);
    fs.closeSync(a);
    // 2. The pages of the messages table, in the middle of the file, overwritten.
    const db = new Database(roomFile(rooms.pages), { readonly: true });
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const pages = (db.prepare("SELECT pageno FROM dbstat WHERE name = 'messages'").all() as { pageno: number }[]).map((p) => p.pageno);
    db.close();
    expect(pages.length).toBeGreaterThan(1);
    const b = fs.openSync(roomFile(rooms.pages), "r+");
    for (const p of pages) fs.writeSync(b, randomBytes(pageSize), 0, pageSize, (p - 1) * pageSize);
    fs.closeSync(b);
    await node.restart();
    body = { error: { code: "room_unavailable", message: expect.stringMatching(/cannot be opened.*administrator/) } };
  }, 60_000);

  it("a file that is not SQLite: every request about the room is 500 room_unavailable", async () => {
    const id = rooms.notadb;
    for (const [method, p, b] of [
      ["GET", `/rooms/${id}`],
      ["GET", `/rooms/${id}/messages`],
      ["GET", `/rooms/${id}/members`],
      ["POST", `/rooms/${id}/messages`, { text: "hello?", clientId: "after-1" }],
      ["POST", `/rooms/${id}/read`, { seq: 1 }],
    ] as const) {
      const r = await api(method, p, b);
      expect({ method, p, status: r.status, body: r.body }).toEqual({ method, p, status: 500, body });
    }
    const refused = await roomWs(`${node.wsUrl}/api/v1/rooms/${id}/socket`, token).then(
      () => null,
      (err) => err as { status: number; body: string },
    );
    expect(refused?.status).toBe(500);
    expect(JSON.parse(refused!.body)).toEqual(body);
  });

  it("damaged pages: reading and writing its messages are 500 room_unavailable", async () => {
    const id = rooms.pages;
    const read = await api("GET", `/rooms/${id}/messages`);
    expect(read).toEqual({ status: 500, body });
    const send = await api("POST", `/rooms/${id}/messages`, { text: "hello?", clientId: "after-2" });
    expect(send).toEqual({ status: 500, body });
    const search = await api("GET", `/search?room=${encodeURIComponent(id)}&q=message`);
    expect(search).toEqual({ status: 500, body });
    // Over the room socket (the room itself starts: its members and name are intact): reading the
    // damaged pages is an error frame with the code.
    const ws = await roomWs(`${node.wsUrl}/api/v1/rooms/${id}/socket`, token);
    await ws.next("hello");
    ws.send({ type: "sync", afterSeq: 0, reqId: "sync-1" });
    const error = await ws.next("error", (f) => f.replyTo === "sync-1");
    expect(error.code).toBe("room_unavailable");
    await ws.close();
  });

  it("other rooms keep working: history, sends, socket, search across rooms", async () => {
    const id = rooms.healthy;
    const history = await api("GET", `/rooms/${id}/messages?limit=100`);
    expect(history.status).toBe(200);
    expect(history.body.messages.length).toBeGreaterThanOrEqual(MESSAGES);
    expect((await api("POST", `/rooms/${id}/messages`, { text: "still fine", clientId: "healthy-after" })).status).toBe(201);
    const ws = await roomWs(`${node.wsUrl}/api/v1/rooms/${id}/socket`, token);
    expect((await ws.next("hello")).room.id).toBe(id);
    await ws.close();
    const search = await api("GET", `/search?q=${encodeURIComponent("still fine")}`);
    expect(search.status).toBe(200);
    expect(search.body.hits.map((h: { message: { roomId: string } }) => h.message.roomId)).toContain(id);
  });

  it("the node's log names each damaged room and its file", () => {
    const logs = node.logs();
    for (const id of [rooms.notadb, rooms.pages]) {
      const file = `objects/outpost-RoomObject/${objectIdFromName(uniqueKeyFor("RoomObject"), id)}.sqlite`;
      const line = logs.split("\n").find((l) => l.includes(`room ${id} cannot be opened`));
      expect(line, `no log line for ${id} in:\n${logs.slice(-3000)}`).toBeDefined();
      expect(line).toContain(file);
    }
  });

  it("GET /metrics counts the damaged rooms' errors, apart from passing write errors", async () => {
    // Counted from this start (the node restarted after the damage): each refused request at least once.
    expect(await storageErrors("damaged")).toBeGreaterThanOrEqual(2);
    expect(await storageErrors("write")).toBe(0);
  });

  it("npm run doctor lists exactly the damaged rooms and exits 1 (running node, then stopped)", async () => {
    for (const phase of ["running", "stopped"]) {
      if (phase === "stopped") await node.stop();
      const r = await doctor();
      expect(r.code, `${phase}: ${r.stderr}`).toBe(1);
      const report = JSON.parse(r.stdout) as DoctorReport;
      const damaged = report.damaged.map((d) => ({ kind: d.owner.kind, id: d.owner.id, file: path.join(node.dataDir, d.file) }));
      expect(damaged.sort((x, y) => x.id!.localeCompare(y.id!))).toEqual(
        [rooms.notadb, rooms.pages].map((id) => ({ kind: "room", id, file: roomFile(id) })).sort((x, y) => x.id.localeCompare(y.id)),
      );
      expect(report.damaged.find((d) => d.owner.id === rooms.notadb)!.problem).toMatch(/not a database/);
    }
    // The text report names the rooms too.
    const text = await doctor([]);
    expect(text.code).toBe(1);
    for (const id of [rooms.notadb, rooms.pages]) expect(text.stdout).toMatch(new RegExp(`DAMAGED  room ${id} "corrupt-`));
    expect(text.stdout).toMatch(/2 damaged, 0 missing/);
    await node.restart();
  });
});
