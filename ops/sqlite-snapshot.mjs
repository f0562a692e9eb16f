/**
 * A consistent copy of one object's SQLite database while workerd keeps writing it.
 *
 * workerd keeps each object's database in WAL mode: commits are appended to
 * `<id>.sqlite-wal` and folded into `<id>.sqlite` by checkpoints now and then,
 * so copying the two files with `cp` can catch a checkpoint half-way and is not
 * a database. SQLite's online backup API (better-sqlite3 `db.backup()`) copies
 * pages through an ordinary connection instead, and is what we use:
 *
 * - The source is opened read-only (`readonly`, `fileMustExist`, `query_only`),
 *   as ops/doctor.mjs does: it takes the ordinary WAL read locks through the
 *   -shm index, never writes the database or its -wal, never checkpoints, and
 *   never deletes the -wal on close (only a read-write last connection does).
 *   So the backup never fights workerd over checkpoints; while it reads,
 *   workerd's checkpoints cannot pass its snapshot and the -wal may grow for
 *   that moment, and the next checkpoint catches up.
 * - Before the copy starts the connection opens a read transaction and keeps it
 *   to the end. Without one, the backup API takes a new read snapshot for each
 *   step of 100 pages and restarts from page 1 whenever another connection
 *   committed meanwhile, which under steady sends can go on for a long time
 *   (measured: a 45 MB file under a writer committing every 2 ms restarted 394
 *   times). With the transaction held every step reads the same snapshot: no
 *   restarts, and the copy is exactly the database as of the moment the
 *   transaction began — after the backup started, so every message workerd
 *   acknowledged before then (acks follow the commit) is in it.
 * - A busy timeout of 10 s covers the moments workerd holds a lock (opening
 *   the WAL index while it recovers, a checkpoint's brief exclusive step).
 *
 * The copy is a complete database file on its own (no -wal), in WAL mode as
 * the original, and workerd opens it as it is.
 *
 * @example
 *   const stamp = stampOf("/data/objects/outpost-RoomObject/ab12….sqlite");
 *   await snapshotSqlite(src, "/backup/…/ab12….sqlite");
 */
import fs from "node:fs";

/**
 * better-sqlite3 is an optional dependency: it compiles on install, and a node installed
 * on a machine without a C++ toolchain runs without it (only the ops commands need it).
 */
export const Database = await import("better-sqlite3").then(
  (m) => m.default,
  () => null,
);
export const NO_SQLITE =
  "needs better-sqlite3, an optional dependency this install does not have (it compiles with a C++ toolchain: " +
  "python3, make, g++); install them and run `npm install better-sqlite3`";

const BUSY_TIMEOUT_MS = 10_000;

/**
 * Copy the database `src` into the new file `dest` as one consistent snapshot.
 * `onPages(done, total)` as pages are copied.
 *
 * @param {string} src
 * @param {string} dest  must not exist
 * @param {(done: number, total: number) => void} [onPages]
 */
export async function snapshotSqlite(src, dest, onPages = () => {}) {
  if (!Database) throw new Error(NO_SQLITE);
  const db = new Database(src, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma("query_only = 1");
    // BEGIN alone takes no snapshot; the first read does. Held until the copy is done (see above).
    db.exec("BEGIN");
    db.prepare("SELECT count(*) FROM sqlite_schema").get();
    await db.backup(dest, {
      progress({ totalPages, remainingPages }) {
        onPages(totalPages - remainingPages, totalPages);
        // Larger steps than the default 100 pages: each step yields to the event loop (for
        // the progress line), and with the snapshot held there is no restart to keep short.
        return 2000;
      },
    });
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/**
 * `PRAGMA integrity_check` of a database file nobody else has open (a restored
 * copy): "ok", or the first problems it names.
 *
 * @param {string} file
 * @returns {string}
 */
export function integrityCheck(file) {
  if (!Database) throw new Error(NO_SQLITE);
  let db;
  try {
    // Read-write on purpose: a read-only connection to a WAL-mode file needs a -shm it may
    // not create; this is our own fresh copy, and closing it leaves it exactly as it was.
    db = new Database(file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    const rows = /** @type {Record<string, string>[]} */ (db.pragma("integrity_check", { simple: false }));
    const lines = rows.map((r) => String(Object.values(r)[0]));
    return lines.length === 1 && lines[0] === "ok" ? "ok" : lines.slice(0, 3).join("; ") + (lines.length > 3 ? ` (+${lines.length - 3} more)` : "");
  } catch (err) {
    const e = /** @type {Error & { code?: string }} */ (err);
    return `${e.message}${e.code ? ` (${e.code})` : ""}`;
  } finally {
    db?.close();
  }
}

/**
 * What a file looked like: size and mtime (ns), with its -wal beside it for a
 * database; and when we looked. An incremental backup takes a database over
 * from the previous backup only when this is unchanged (ops/backup.mjs).
 *
 * @param {string} file
 * @param {{ wal?: boolean }} [options]
 * @returns {import("./backup-manifest.mjs").SourceStampT}
 */
export function stampOf(file, { wal = false } = {}) {
  // Taken before the stat: a write between the two then looks newer than the stamp, never older.
  const stampedNs = BigInt(Date.now()) * 1_000_000n;
  const st = fs.statSync(file, { bigint: true });
  /** @type {import("./backup-manifest.mjs").SourceStampT} */
  const stamp = { size: Number(st.size), mtimeNs: String(st.mtimeNs), stampedNs: String(stampedNs) };
  if (wal) {
    // An empty -wal holds nothing: the same database as none. It matters, because one comes
    // and goes without any write: workerd deletes the -wal when it closes an idle object
    // (after checkpointing it), and opening the database again (our own read-only snapshot
    // included) creates an empty one. Told apart, every backup would see a change there.
    const w = fs.statSync(`${file}-wal`, { bigint: true, throwIfNoEntry: false });
    const empty = !w || w.size === 0n;
    stamp.walSize = empty ? -1 : Number(w.size);
    stamp.walMtimeNs = empty ? "0" : String(w.mtimeNs);
  }
  return stamp;
}

/**
 * A stamp is only trusted when the file had not been written for a while when it
 * was taken ("racy git"): file times come from a clock that may tick coarsely
 * (a few ms on Linux, 1–2 s on some file systems), so a write in the same tick
 * right after the stamp could leave size and mtime as they were. A file
 * modified within RACY_NS of its stamp is copied again next time.
 */
const RACY_NS = 2_000_000_000n;

/**
 * Whether the file now (`now`) is the file `before` described, and `before` can be trusted.
 *
 * @param {import("./backup-manifest.mjs").SourceStampT} before
 * @param {import("./backup-manifest.mjs").SourceStampT} now
 */
export function unchangedSince(before, now) {
  const same = before.size === now.size && before.mtimeNs === now.mtimeNs && before.walSize === now.walSize && before.walMtimeNs === now.walMtimeNs;
  if (!same) return false;
  const stamped = BigInt(before.stampedNs);
  const newest = [before.mtimeNs, before.walMtimeNs ?? "0"].map(BigInt).reduce((a, b) => (a > b ? a : b));
  return stamped - newest > RACY_NS;
}
