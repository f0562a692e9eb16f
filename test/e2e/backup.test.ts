/**
 * Backup and restore of a real `workerd serve` node (ops/backup.mjs, ops/restore.mjs),
 * run as an operator runs them: `node ops/backup.mjs` as a child process, finding the
 * node through OUTPOST_DATA, while the node keeps taking messages.
 *
 * The drill: three people send steadily into two rooms over room sockets, with
 * files shared in both; every ack that arrived before the backup was started is
 * recorded; the backup runs while the sends go on; it is restored into a fresh
 * folder; a second node starts on that folder. Then every message acknowledged
 * before the backup began must be there under its seq, every file must download
 * with its bytes, and `PRAGMA integrity_check` must pass on every restored file.
 * Then: verify finds a changed byte and a missing file, an incremental backup
 * copies less and still restores, and restore refuses a non-empty target.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { withNode, type TestNode } from "../fixtures";
import { fullHistory, ok, roomWs, sleep, type RoomWs, type TestUser } from "./client";
import type { Attachment } from "../../protocol/models";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { unchangedSince } from "../../ops/sqlite-snapshot.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";
import { recordFigures } from "../figures";
import { sqliteFiles } from "../sqlite-files";

const repo = path.resolve(import.meta.dirname, "..", "..");
/** messages each socket keeps in flight */
const WINDOW = 3;

let t: TestNode;
let users: TestUser[] = [];
let rooms: string[] = [];
/** file id → its bytes, each shared in a message before the drill */
const files = new Map<string, Buffer>();
let scratch: string;
const nodes: OutpostNode[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run an ops command as an operator would, with the node found through OUTPOST_DATA. */
function runOps(script: "backup" | "restore", args: string[], dataDir?: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OUTPOST_CONFIG;
  delete env.OUTPOST_NODE;
  Object.assign(env, extraEnv);
  if (dataDir) env.OUTPOST_DATA = dataDir;
  else delete env.OUTPOST_DATA;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repo, "ops", `${script}.mjs`), ...args], { env, cwd: repo, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const dir = (name: string) => path.join(scratch, name);
const readManifest = (backup: string) => JSON.parse(fs.readFileSync(path.join(backup, "manifest.json"), "utf8"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function integrity(file: string): string {
  const db = new Database(file, { fileMustExist: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}

async function upload(roomId: string, user: TestUser, bytes: Buffer, name: string): Promise<Attachment> {
  const res = await fetch(`${t.node.url}/api/v1/rooms/${encodeURIComponent(roomId)}/files?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Attachment;
}

/** A room socket that keeps WINDOW messages in flight and records every ack (clientId → seq) with the time it arrived. */
interface Sender {
  user: TestUser;
  roomId: string;
  ws: RoomWs;
  running: boolean;
  counter: number;
  inFlight: number;
}
const acks = new Map<string, Map<string, number>>();
const errors: string[] = [];

async function startSender(user: TestUser, roomId: string): Promise<Sender> {
  const ws = await roomWs(`${t.node.wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket`, user.token);
  await ws.next("hello", 15000);
  const s: Sender = { user, roomId, ws, running: true, counter: 0, inFlight: 0 };
  const pump = () => {
    while (s.running && s.inFlight < WINDOW) {
      const clientId = `${user.username}-${rooms.indexOf(roomId)}-${s.counter++}`;
      s.inFlight++;
      ws.send({ type: "msg.send", clientId, text: `drill ${clientId}` });
    }
  };
  ws.ws.on("message", (raw) => {
    const f = JSON.parse(raw.toString());
    if (f.type === "msg.ack") {
      acks.get(roomId)!.set(f.clientId, f.seq);
      s.inFlight--;
      pump();
    } else if (f.type === "error") {
      errors.push(JSON.stringify(f));
    }
  });
  pump();
  return s;
}

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-backup-test-"));
  // Steady sends as fast as acks come back: the per-user message budget is off here.
  t = await withNode({ limits: { messagesPerSecondPerUser: 0 } });
  users = [];
  for (const name of ["ana", "ben", "cho"]) users.push(await t.user(name));
  rooms = [];
  for (const name of ["ops", "sales"]) rooms.push((await t.room(users[0].token, name, [users[1].id, users[2].id])).id);
  for (const roomId of rooms) acks.set(roomId, new Map());
  // Files in both rooms, shared in messages (so every member may download them).
  let n = 0;
  for (const roomId of rooms) {
    for (const size of [1, 70_000, 900_000]) {
      const bytes = randomBytes(size);
      const f = await upload(roomId, users[n % 3], bytes, `file-${n}.bin`);
      await ok(201, t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages`, { token: users[n % 3].token, body: { text: `file ${n}`, clientId: `file-${n}`, attachments: [f.id] } });
      files.set(f.id, bytes);
      n++;
    }
  }
}, 120_000);

afterAll(async () => {
  for (const node of nodes) await node.stop();
  await t?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** A finished backup of the node: the drill's, or a fresh one when that test did not run (`-t`). */
async function someBackup(): Promise<string> {
  if (fs.existsSync(path.join(dir("drill"), "manifest.json"))) return dir("drill");
  const out = dir("plain");
  if (!fs.existsSync(out)) expect((await runOps("backup", ["--out", out], t.node.dataDir)).code).toBe(0);
  return out;
}

/** Start a node on a restored folder and check it serves what it should. */
async function startRestored(data: string): Promise<OutpostNode> {
  const node = await startNode({ dataDir: data, name: t.node.name });
  nodes.push(node);
  return node;
}

describe("backup and restore", () => {
  it("drill: a backup taken while messages keep arriving restores every message acked before it began, with its files", async () => {
    const senders: Sender[] = [];
    for (const user of users) for (const roomId of rooms) senders.push(await startSender(user, roomId));
    await sleep(1500);

    // An upload in progress across the whole backup: its bytes sit in a `.kj-tmp….partial` beside
    // the files, which the backup must leave out (it is not a file yet, and may never be one).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let chunks = 0;
    const slowBytes = randomBytes(8 * 256 * 1024);
    const slowBody = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (chunks === 4) await released;
        if (chunks < 8) controller.enqueue(slowBytes.subarray(chunks * 256 * 1024, ++chunks * 256 * 1024));
        else controller.close();
      },
    });
    const slowUpload = fetch(`${t.node.url}/api/v1/rooms/${encodeURIComponent(rooms[0])}/files?name=slow.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${users[0].token}`, "content-type": "application/octet-stream" },
      body: slowBody,
      duplex: "half",
    } as RequestInit);
    const partials = () => (fs.readdirSync(path.join(t.node.dataDir, "files"), { recursive: true }) as string[]).filter((f) => path.basename(f).startsWith(".kj-tmp."));
    for (let i = 0; i < 200 && partials().length === 0; i++) await sleep(25);
    expect(partials()).toHaveLength(1);

    // Everything acked up to here was committed before the backup process even exists.
    const ackedBefore = new Map([...acks].map(([room, m]) => [room, new Map(m)]));
    const backupDir = dir("drill");
    const started = performance.now();
    const backup = runOps("backup", ["--out", backupDir], t.node.dataDir);
    const result = await backup;
    const backupMs = performance.now() - started;
    const ackedDuring = [...acks.values()].reduce((n, m) => n + m.size, 0) - [...ackedBefore.values()].reduce((n, m) => n + m.size, 0);
    for (const s of senders) s.running = false;
    await sleep(200);
    for (const s of senders) s.ws.ws.terminate();

    release();
    expect((await slowUpload).status).toBe(201);

    expect(result.stderr.split("\n").filter((l) => l && !/^backup: \d+\/\d+ files/.test(l))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("node-key.json, mode 0600");
    expect(errors).toEqual([]);
    // The sends really went on during the backup, or this drill proves nothing about a live node.
    expect(ackedDuring).toBeGreaterThan(0);

    const manifest = readManifest(backupDir);
    expect(manifest).toMatchObject({ format: "outpost-backup", formatVersion: 1, node: { name: t.node.name, publicKey: t.node.publicKey } });
    // The stored files, and nothing of the upload in progress.
    expect(manifest.entries.filter((e: { kind: string }) => e.kind === "file")).toHaveLength(files.size);
    expect(manifest.entries.filter((e: { path: string }) => e.path.includes("/."))).toEqual([]);
    expect(fs.statSync(path.join(backupDir, "node-key.json")).mode & 0o777).toBe(0o600);
    // Snapshot order (ops/backup.mjs CLASS_ORDER): the directory, then users, rooms last;
    // each class's workerd alarm index after its objects.
    const dbPaths: string[] = manifest.entries.filter((e: { kind: string }) => e.kind === "sqlite").map((e: { path: string }) => e.path);
    const classes = dbPaths.map((p) => p.split("/")[1]);
    expect(classes.lastIndexOf(uniqueKeyFor("DirectoryObject"))).toBeLessThan(classes.indexOf(uniqueKeyFor("UserObject")));
    expect(classes.lastIndexOf(uniqueKeyFor("UserObject"))).toBeLessThan(classes.indexOf(uniqueKeyFor("RoomObject")));
    expect(classes.at(-1)).toBe(uniqueKeyFor("RoomObject"));
    for (const folder of new Set(classes)) {
      const ofClass = dbPaths.filter((p) => p.split("/")[1] === folder);
      if (ofClass.some((p) => p.endsWith("/metadata.sqlite"))) expect(ofClass.at(-1)).toMatch(/\/metadata\.sqlite$/);
    }
    // No -wal or -shm in a backup: each database is one complete file.
    expect((fs.readdirSync(backupDir, { recursive: true }) as string[]).filter((f) => /-(wal|shm)$/.test(f))).toEqual([]);

    const verified = await runOps("restore", ["--verify", backupDir]);
    expect(verified.code, verified.stderr).toBe(0);

    const data = dir("drill-restored");
    const restoreStarted = performance.now();
    const restored = await runOps("restore", ["--from", backupDir, "--data", data]);
    const restoreMs = performance.now() - restoreStarted;
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`OUTPOST_DATA=${data} OUTPOST_NODE=${t.node.name} npm start`);
    expect(fs.statSync(path.join(data, "node-key.json")).mode & 0o777).toBe(0o600);
    const dbs = sqliteFiles(data);
    expect(dbs.length).toBe(manifest.entries.filter((e: { kind: string }) => e.kind === "sqlite").length);
    for (const file of dbs) expect(integrity(file), file).toBe("ok");

    const serveStarted = performance.now();
    const node = await startRestored(data);
    const serveMs = performance.now() - serveStarted;
    // The same node: the same identity to its cluster.
    expect(node.publicKey).toBe(t.node.publicKey);

    let checked = 0;
    let missing = 0;
    for (const user of users) {
      const token = await loginAs(node.url, user.username, user.password);
      for (const roomId of rooms) {
        const history = await fullHistory(node.url, token, roomId);
        const bySeq = new Map(history.map((m) => [m.seq, m]));
        for (const [clientId, seq] of ackedBefore.get(roomId)!) {
          const m = bySeq.get(seq);
          if (m?.clientId !== clientId) missing++;
          expect(m?.clientId, `${roomId} seq ${seq}`).toBe(clientId);
          checked++;
        }
        // Seqs stay gapless: the snapshot is one moment of the room, not a mix.
        expect(history.map((m) => m.seq)).toEqual(history.map((_, i) => i + 1));
      }
      for (const [id, bytes] of files) {
        const res = await fetch(`${node.url}/api/v1/files/${id}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, id).toBe(200);
        expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(bytes));
      }
    }
    expect(checked).toBe(users.length * [...ackedBefore.values()].reduce((n, m) => n + m.size, 0));

    recordFigures("backup", {
      "messages acked before the backup began": [...ackedBefore.values()].reduce((n, m) => n + m.size, 0),
      "messages acked while the backup ran": ackedDuring,
      "acked-before messages missing after restore": missing,
      "backup wall time (ms)": Math.round(backupMs),
      "restore wall time (ms)": Math.round(restoreMs),
      "restored node start to healthy (ms)": Math.round(serveMs),
    });
  }, 120_000);

  it("verify finds a changed byte and a missing file, and restore refuses such a backup", async () => {
    const good = await someBackup();
    const bad = dir("tampered");
    fs.cpSync(good, bad, { recursive: true });
    const manifest = readManifest(bad);
    const file = manifest.entries.find((e: { kind: string; bytes: number }) => e.kind === "file" && e.bytes > 1000).path as string;
    const onDisk = path.join(bad, ...file.split("/"));
    const bytes = fs.readFileSync(onDisk);
    bytes[500] ^= 0x01;
    fs.writeFileSync(onDisk, bytes);

    const changed = await runOps("restore", ["--verify", bad]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(`verify: backup corrupt: ${file}: SHA-256`);
    expect(changed.stderr).not.toMatch(/\n\s+at /); // one line, no stack

    const target = dir("from-tampered");
    const refused = await runOps("restore", ["--from", bad, "--data", target]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`restore: backup corrupt: ${file}`);
    // Nothing half-restored is left for a node to start on.
    expect(fs.readdirSync(target)).toEqual([]);

    bytes[500] ^= 0x01;
    fs.writeFileSync(onDisk, bytes);
    expect((await runOps("restore", ["--verify", bad])).code).toBe(0);
    const db = manifest.entries.find((e: { kind: string }) => e.kind === "sqlite").path as string;
    fs.rmSync(path.join(bad, ...db.split("/")));
    const missing = await runOps("restore", ["--verify", bad]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`verify: backup corrupt: ${db}: missing`);

    fs.cpSync(path.join(good, ...db.split("/")), path.join(bad, ...db.split("/")));
    // A database damaged before it was hashed (a damaged source): the hashes agree, integrity_check does not.
    const roomDb = manifest.entries.find((e: { path: string; bytes: number }) => e.path.includes(uniqueKeyFor("RoomObject")) && e.bytes > 16 * 4096);
    const damaged = path.join(bad, ...roomDb.path.split("/"));
    const page = fs.readFileSync(damaged);
    page.fill(0x5a, 4096 * 2, 4096 * 6);
    fs.writeFileSync(damaged, page);
    roomDb.sha256 = sha(page);
    fs.writeFileSync(path.join(bad, "manifest.json"), JSON.stringify(manifest));
    expect((await runOps("restore", ["--verify", bad])).code).toBe(0);
    const unsound = await runOps("restore", ["--from", bad, "--data", target]);
    expect(unsound.code).toBe(1);
    expect(unsound.stderr).toContain(`restore: backup corrupt: ${roomDb.path}: integrity_check:`);
    expect(fs.readdirSync(target)).toEqual([]);

    // A manifest is read back from a disk anyone may have touched: a path out of the backup is refused
    // before anything is read or written.
    const escape = dir("escape");
    fs.cpSync(good, escape, { recursive: true });
    const hostile = readManifest(escape);
    hostile.entries[0].path = "files/../../outside";
    fs.writeFileSync(path.join(escape, "manifest.json"), JSON.stringify(hostile));
    for (const args of [["--verify", escape], ["--from", escape, "--data", target]]) {
      const refusedPath = await runOps("restore", args);
      expect(refusedPath.code).toBe(1);
      expect(refusedPath.stderr).toMatch(/backup corrupt: .*manifest\.json: entries\.0\.path: /);
    }
    expect(fs.readdirSync(target)).toEqual([]);
  }, 60_000);

  it("an incremental backup copies only what changed and still restores", async () => {
    const out = dir("rolling");
    // Quiet for longer than the racy-stamp window, so the first backup's stamps are trusted.
    await sleep(2500);
    const first = await runOps("backup", ["--out", out], t.node.dataDir);
    expect(first.code, first.stderr).toBe(0);
    const m1 = readManifest(out);
    const quietRoom = `objects/${uniqueKeyFor("RoomObject")}/${objectIdFromName(uniqueKeyFor("RoomObject"), rooms[1])}.sqlite`;
    const busyRoom = `objects/${uniqueKeyFor("RoomObject")}/${objectIdFromName(uniqueKeyFor("RoomObject"), rooms[0])}.sqlite`;
    const inodeBefore = fs.statSync(path.join(out, quietRoom)).ino;

    // One more message in one room, and a new file.
    const sent = await ok<{ seq: number }>(201, t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(rooms[0])}/messages`, { token: users[1].token, body: { text: "after the first backup", clientId: "incremental-1" } });
    const late = randomBytes(50_000);
    const lateFile = await upload(rooms[0], users[1], late, "late.bin");
    await ok(201, t.node.url, "POST", `/api/v1/rooms/${encodeURIComponent(rooms[0])}/messages`, { token: users[1].token, body: { text: "late file", clientId: "incremental-2", attachments: [lateFile.id] } });

    // The same --out again: it is the base, and is replaced once the new backup is complete.
    const second = await runOps("backup", ["--out", out], t.node.dataDir);
    expect(second.code, second.stderr).toBe(0);
    const m2 = readManifest(out);
    const total = m2.entries.reduce((n: number, e: { bytes: number }) => n + e.bytes, 0);
    expect(m2.stats.base).toBe(out);
    expect(m2.stats.copiedBytes).toBeLessThan(total / 2);
    expect(m2.stats.reusedFiles).toBeGreaterThan(0);
    // The quiet room was taken over by hard link; the busy room was copied again. Unless workerd
    // closed the idle quiet room around the first backup (checkpointing its WAL into the file: workerd's
    // own timing, which the audit trail's writes and shipping shift by a little): then the file did change
    // on disk (or too recently to trust its stamp), and copying it again is right. A file whose stamp is
    // unchanged and trusted is always reused.
    const quiet1 = m1.entries.find((e: { path: string }) => e.path === quietRoom);
    const quiet2 = m2.entries.find((e: { path: string }) => e.path === quietRoom);
    if (unchangedSince(quiet1.source, quiet2.source)) expect(fs.statSync(path.join(out, quietRoom)).ino).toBe(inodeBefore);
    else expect(quiet2.sha256).toBe(quiet1.sha256); // a checkpoint moves pages, not content: the snapshot is the same
    const e1 = m1.entries.find((e: { path: string }) => e.path === busyRoom);
    const e2 = m2.entries.find((e: { path: string }) => e.path === busyRoom);
    expect(e2.sha256).not.toBe(e1.sha256);
    // Uploads only: the first backup's audit stamp (files/ops-audit/stamps.jsonl, ops/audit-stamp.mjs) is new in the second.
    const fileEntries = (m: { entries: { kind: string; path: string }[] }) => m.entries.filter((e) => e.kind === "file" && !e.path.startsWith("files/ops-audit/")).length;
    expect(fileEntries(m2)).toBe(fileEntries(m1) + 1);
    // No leftovers beside --out.
    expect(fs.readdirSync(scratch).filter((n) => n.startsWith(".rolling"))).toEqual([]);

    const data = dir("rolling-restored");
    const restored = await runOps("restore", ["--from", out, "--data", data]);
    expect(restored.code, restored.stderr).toBe(0);
    const node = await startRestored(data);
    const token = await loginAs(node.url, users[1].username, users[1].password);
    const history = await fullHistory(node.url, token, rooms[0]);
    expect(history.find((m) => m.seq === sent.seq)?.clientId).toBe("incremental-1");
    const res = await fetch(`${node.url}/api/v1/files/${lateFile.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(late));
    expect((await fullHistory(node.url, token, rooms[1])).length).toBeGreaterThan(0);
    recordFigures("backup", { "incremental backup: share of bytes copied again after one message and one file": Number((m2.stats.copiedBytes / total).toFixed(3)) });
  }, 120_000);

  it("says in one line what is wrong: a non-empty target, a non-backup --out, no data folder", async () => {
    const target = dir("occupied");
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, "keep.txt"), "mine");
    const refused = await runOps("restore", ["--from", await someBackup(), "--data", target]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(`restore: --data ${target} exists and is not empty: restore into a new or empty folder (it never overwrites a node's data)`);
    expect(fs.readdirSync(target)).toEqual(["keep.txt"]);

    const notBackup = await runOps("backup", ["--out", target], t.node.dataDir);
    expect(notBackup.code).toBe(2);
    expect(notBackup.stderr.trim()).toMatch(/^backup: --out .* is not empty and is not an Outpost backup/);
    expect(fs.readdirSync(target)).toEqual(["keep.txt"]);

    // Settings of another node than the data's (here: OUTPOST_NODE forgotten or wrong): the
    // manifest would name the wrong node, and a node restored under that name would not know its rooms.
    const wrongName = await runOps("backup", ["--out", dir("nowhere")], t.node.dataDir, { OUTPOST_NODE: "elsewhere" });
    expect(wrongName.code).toBe(2);
    expect(wrongName.stderr.trim()).toBe(`backup: the data folder ${t.node.dataDir} holds node ${t.node.name}, but the node settings say elsewhere: run backup with the same OUTPOST_NODE / OUTPOST_CONFIG as npm start`);

    const noData = await runOps("backup", ["--out", dir("nowhere")], dir("no-such-node"));
    expect(noData.code).toBe(2);
    expect(noData.stderr.trim()).toMatch(/^backup: no Outpost data folder at .*no-such-node/);

    const notABackup = await runOps("restore", ["--verify", target]);
    expect(notABackup.code).toBe(2);
    expect(notABackup.stderr.trim()).toBe(`verify: ${target} is not an Outpost backup (no manifest.json)`);
    // A refused backup made nothing.
    expect(fs.existsSync(dir("nowhere"))).toBe(false);
  }, 60_000);
});
