/**
 * The backup scenario of `npm run bench`: backup and restore times of a node
 * whose one room holds P.historyMsgs messages (1,000,000 in a full run), run
 * through the operator's commands (ops/backup.mjs, ops/restore.mjs) as child
 * processes while a sender keeps writing to that room (20 msg/s); an incremental
 * backup after one message into another room; then the
 * time from the start of the restore to the restored node serving the room's
 * newest history page ("restore to serving", target < 60 s).
 *
 * Outpost only (there is nothing to compare in the baseline), so it has its own
 * driver and section, like the cluster scenario. Reads and writes only what it
 * stores under scenarios.backup in docs/performance.json.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { createRoom, createUsers, repoRoot, startOutpost, tmpDir } from "./servers.mjs";
import { seedOutpostRoom } from "./seed.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { median } from "./stats.mjs";

const fmt = (x) => (x === null || x === undefined ? "–" : typeof x === "number" ? (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)) : String(x));
const MB = 2 ** 20;
const RESTORE_TO_SERVING_LIMIT_MS = 60_000;

/** Run ops/<script>.mjs with the node found through OUTPOST_DATA; resolves with its output, rejects on a non-zero exit. */
function ops(script, args, dataDir) {
  const env = { ...process.env, OUTPOST_NODE: "bench" };
  delete env.OUTPOST_CONFIG;
  if (dataDir) env.OUTPOST_DATA = dataDir;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(repoRoot, "ops", `${script}.mjs`), ...args], { env, cwd: repoRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${script} ${args.join(" ")}: ${stderr.trim().split("\n").at(-1) ?? err.message}`));
      else resolve(stdout);
    });
  });
}

/** A room socket sending one message now and then one every `everyMs` (none with 0) until stopped; counts acks. */
async function steadySender(wsUrl, token, roomId, everyMs) {
  const ws = new WebSocket(`${wsUrl}/api/v1/rooms/${roomId}/socket`, { headers: { authorization: `Bearer ${token}` } });
  await new Promise((res, rej) => (ws.once("open", res), ws.once("error", rej)));
  let acked = 0;
  let n = 0;
  ws.on("message", (d) => String(d).includes('"msg.ack"') && acked++);
  const send = () => ws.send(JSON.stringify({ type: "msg.send", clientId: `steady-${Date.now()}-${n++}`, text: `steady ${n}` }));
  send();
  const timer = everyMs ? setInterval(send, everyMs) : null;
  return {
    acked: () => acked,
    async firstAck() {
      for (let i = 0; i < 200 && acked === 0; i++) await new Promise((r) => setTimeout(r, 50));
      if (!acked) throw new Error("the first message was not acknowledged");
    },
    stop() {
      if (timer) clearInterval(timer);
      ws.terminate();
    },
  };
}

/** Wait until a database and its -wal have not changed for `quietMs` (at most `maxMs`). */
async function untilQuiet(file, quietMs, maxMs) {
  const look = () => [file, `${file}-wal`].map((f) => fs.statSync(f, { throwIfNoEntry: false })).map((st) => `${st?.size}:${st?.mtimeMs}`).join("|");
  const deadline = Date.now() + maxMs;
  let last = look();
  let since = Date.now();
  while (Date.now() < deadline && Date.now() - since < quietMs) {
    await new Promise((r) => setTimeout(r, 200));
    const now = look();
    if (now !== last) [last, since] = [now, Date.now()];
  }
}

const treeBytes = (dir) =>
  fs.readdirSync(dir, { recursive: true }).reduce((n, rel) => {
    const st = fs.statSync(path.join(dir, rel));
    return st.isFile() ? n + st.size : n;
  }, 0);

/**
 * @param {{ P: { historyMsgs: number }, repeats: number, log: (...a: unknown[]) => void }} options
 */
export async function runBackupScenario({ P, repeats, log }) {
  const dataDir = tmpDir("backup-node");
  let node = await startOutpost(dataDir);
  const runs = [];
  try {
    const [user] = await createUsers(node, 1);
    const roomId = await createRoom(node, user, "backup");
    const smallRoomId = await createRoom(node, user, "backup-small");
    // One real message, so the room's file has every table and its counters (as the history scenario does).
    const first = await steadySender(node.wsUrl, user.token, roomId, 0);
    await first.firstAck();
    first.stop();
    await node.stop();
    const t0 = Date.now();
    const roomFile = path.join(dataDir, "objects", uniqueKeyFor("RoomObject"), `${objectIdFromName(uniqueKeyFor("RoomObject"), roomId)}.sqlite`);
    const { lastSeq } = await seedOutpostRoom(roomFile, { count: P.historyMsgs, senderId: user.id, mentionUserId: user.id });
    log(`  seeded ${P.historyMsgs} messages in ${Date.now() - t0} ms; room file ${fmt(fs.statSync(roomFile).size / MB)} MB`);
    node = await startOutpost(dataDir);

    for (let rep = 0; rep < repeats; rep++) {
      const out = path.join(tmpDir("backup-out"), "backup");
      const restored = path.join(tmpDir("backup-restored"), "data");
      const sender = await steadySender(node.wsUrl, user.token, roomId, 50);
      let run;
      try {
        const ackedBefore = sender.acked();
        let t = performance.now();
        await ops("backup", ["--out", out], dataDir);
        const backupMs = performance.now() - t;
        const ackedDuring = sender.acked() - ackedBefore;
        sender.stop();
        const backupMB = treeBytes(out) / MB;
        // Incremental: once the big room has settled, one message into another room. Settled: after
        // a send the room still writes for a few seconds (an alarm ~5 s later), and workerd
        // checkpoints its -wal into the file when it evicts the idle object (~10 s); a database
        // written within 2 s of its last backup's stamp is copied again (the racy-stamp rule).
        await untilQuiet(roomFile, 12_000, 60_000);
        await ops("backup", ["--out", out], dataDir);
        const other = await steadySender(node.wsUrl, user.token, smallRoomId, 0);
        await other.firstAck();
        other.stop();
        t = performance.now();
        await ops("backup", ["--out", out], dataDir);
        const incrementalMs = performance.now() - t;
        const stats = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")).stats;

        t = performance.now();
        await ops("restore", ["--verify", out]);
        const verifyMs = performance.now() - t;

        t = performance.now();
        await ops("restore", ["--from", out, "--data", restored]);
        const restoreMs = performance.now() - t;
        const second = await startOutpost(restored);
        let servedMs;
        let newestSeq;
        try {
          // The session survives the restore: the same bearer token reads the room.
          const res = await fetch(`${second.url}/api/v1/rooms/${encodeURIComponent(roomId)}/messages?limit=50`, { headers: { authorization: `Bearer ${user.token}` } });
          const body = await res.json();
          if (!res.ok) throw new Error(`restored node: HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
          servedMs = performance.now() - t;
          newestSeq = body.messages.at(-1)?.seq ?? 0;
        } finally {
          await second.stop();
        }
        if (newestSeq < lastSeq) throw new Error(`restored room ends at seq ${newestSeq}, the seeded room at ${lastSeq}`);
        run = {
          messages: P.historyMsgs,
          roomFileMB: fs.statSync(roomFile).size / MB,
          backupMB,
          backupMs,
          ackedDuringBackup: ackedDuring,
          incrementalMs,
          incrementalCopiedMB: stats.copiedBytes / MB,
          incrementalReusedMB: stats.reusedBytes / MB,
          verifyMs,
          restoreMs,
          restoreToServingMs: servedMs,
        };
      } catch (e) {
        sender.stop();
        run = { error: String(e.message ?? e).slice(0, 500) };
      } finally {
        fs.rmSync(path.dirname(out), { recursive: true, force: true });
        fs.rmSync(path.dirname(restored), { recursive: true, force: true });
      }
      runs.push(run);
      log(`  backup #${rep + 1}: ${JSON.stringify(run, (k, v) => (typeof v === "number" ? Math.round(v * 100) / 100 : v))}`);
    }
  } finally {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const ok = runs.filter((r) => !r.error);
  const keys = [...new Set(ok.flatMap((r) => Object.keys(r)))];
  const metrics = Object.fromEntries(keys.map((k) => [k, median(ok.map((r) => r[k]))]));
  return { title: `Backup and restore: a node with one room of ${P.historyMsgs.toLocaleString("en")} messages`, kind: "backup", runs: { backup: runs }, metrics };
}

/** @param {(name: string, value: unknown, limit: string, met: boolean, note?: string) => void} t */
export function backupTargets(sc, t) {
  const v = sc?.metrics?.restoreToServingMs;
  if (typeof v !== "number") return;
  t(
    "Restore to serving < 60 s",
    v / 1000,
    "< 60 s",
    v < RESTORE_TO_SERVING_LIMIT_MS,
    `${sc.metrics.messages.toLocaleString("en")} messages (${fmt(sc.metrics.roomFileMB)} MB room file); restore ${fmt(sc.metrics.restoreMs / 1000)} s (copy + SHA-256 + integrity_check), then start and the first history page; backup ${fmt(sc.metrics.backupMs / 1000)} s while sending`,
  );
}

/** The section of docs/PERFORMANCE.md. */
export function backupSection(sc) {
  const L = [`## ${sc.title}`, ""];
  if (sc.error) return [...L, `Not measured: ${sc.error}`, ""];
  L.push(
    "`npm run backup` on the running node while one client sends 20 msg/s into the big room; the same `--out` again once the big room is quiet and one message went into another room (incremental); `npm run restore -- --verify`; `npm run restore` into a new folder, then a node started on it until it serves the room's newest page with the old session token. " +
      `Medians of ${sc.runs.backup.length} repeat(s); measured ${sc.measuredAt}.`,
    "",
    "| metric | value |",
    "|---|---|",
  );
  const LABELS = {
    messages: ["messages in the big room", (x) => x.toLocaleString("en")],
    roomFileMB: ["its room file", (x) => `${fmt(x)} MB`],
    backupMB: ["backup size", (x) => `${fmt(x)} MB`],
    backupMs: ["backup, while a client sends 20 msg/s into the big room", (x) => `${fmt(x / 1000)} s`],
    ackedDuringBackup: ["messages acknowledged during that backup", fmt],
    incrementalMs: ["incremental backup (same --out) after one message in another room", (x) => `${fmt(x / 1000)} s`],
    incrementalCopiedMB: ["… bytes copied", (x) => `${fmt(x)} MB`],
    incrementalReusedMB: ["… bytes taken over by hard link", (x) => `${fmt(x)} MB`],
    verifyMs: ["restore --verify (SHA-256 of every file)", (x) => `${fmt(x / 1000)} s`],
    restoreMs: ["restore (copy + SHA-256 + integrity_check)", (x) => `${fmt(x / 1000)} s`],
    restoreToServingMs: ["restore to serving (restore, start the node, first history page)", (x) => `${fmt(x / 1000)} s`],
  };
  for (const [k, v] of Object.entries(sc.metrics)) {
    const [label, show] = LABELS[k] ?? [k, fmt];
    L.push(`| ${label} | ${typeof v === "number" ? show(v) : fmt(v)} |`);
  }
  const errs = sc.runs.backup.filter((r) => r.error);
  if (errs.length) L.push("", `Errors: ${errs.map((e) => e.error).join("; ")}`);
  L.push("");
  return L;
}
