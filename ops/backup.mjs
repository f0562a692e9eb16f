/**
 * `npm run backup -- --out DIR [--since PREV]`: a consistent copy of a node's
 * data — running or stopped — that `npm run restore` turns back into a node.
 *
 * The node is found as `npm start` finds it (OUTPOST_CONFIG, OUTPOST_DATA; see
 * ops/node-config.mjs). What is copied (layout: ops/backup-manifest.mjs):
 *
 * - every object database `objects/<class>/<id>.sqlite`, each as one
 *   consistent snapshot taken through SQLite's online backup API while workerd
 *   keeps writing (ops/sqlite-snapshot.mjs explains the read-only connection,
 *   the held read transaction, and why that gives RPO 0 for acknowledged
 *   messages: each snapshot begins after the backup began, and a message is
 *   acknowledged only once committed). workerd's own per-class index
 *   (`metadata.sqlite`, alarms) is copied the same way. Objects are taken
 *   class by class in an order that keeps the skew between their snapshots
 *   harmless (CLASS_ORDER in ops/backup-sources.mjs);
 * - the uploaded files under `files/`. workerd's disk service writes an upload
 *   to a `.kj-tmp….partial` beside its target and renames it into place when
 *   complete, and a storage key is never written twice (worker/store-upload.ts
 *   makes a new one per upload): a file there is immutable once it has its
 *   name, so a plain copy is consistent and dot-files (uploads in progress) are
 *   skipped. Databases are snapshotted before files are copied: an upload's
 *   bytes are stored before its row is written, so every file a snapshot names
 *   was already on disk. (One gap: a file whose message is recalled between its
 *   room's snapshot and the file copy is deleted from disk meanwhile; the
 *   restored room then lists an attachment that downloads as 404.)
 * - `node-key.json`, the node's identity, mode 0600 kept: the restored node is
 *   the same node to the rest of its cluster. So a backup folder is as secret
 *   as the node's disk; it is created 0700.
 *
 * Incremental: when `--out` already holds a backup, or `--since PREV` names
 * one, what has not changed since is taken over by hard link (a copy where the
 * file system cannot link) instead of read again. A database is unchanged when
 * its file and -wal have the size and mtime the previous manifest recorded,
 * under the racy-stamp rule of ops/sqlite-snapshot.mjs; a file in `files/` when
 * its size and mtime are the same (it is immutable). Every backup is complete
 * on its own — restore needs no chain — and the hard links make an unchanged
 * file cost its bytes once across generations.
 *
 * The backup is built in a hidden folder beside `--out` and renamed into place
 * once its manifest is written, so `--out` only ever holds a finished backup;
 * a previous backup there is replaced only then.
 *
 * Exit code: 0 done, 2 the backup could not be made (one line on stderr says why).
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { VERSION } from "./node-config.mjs";
import { dataFolderProblem, directoryFile, nodeForCommand } from "./find-node.mjs";
import { NODE_KEY_FILE, readPublicKey } from "./node-key.mjs";
import {
  BackupError,
  FORMAT,
  FORMAT_VERSION,
  copyAndHash,
  hasManifest,
  hashFile,
  onDisk,
  readManifest,
  writeManifest,
} from "./backup-manifest.mjs";
import { Database, NO_SQLITE, snapshotSqlite, stampOf, unchangedSince } from "./sqlite-snapshot.mjs";
import { mb, progressLine } from "./progress-line.mjs";
import { inTurn, sourceGroups } from "./backup-sources.mjs";
import { appendAuditStamp } from "./audit-stamp.mjs";

const USAGE = "usage: npm run backup -- --out DIR [--since PREVIOUS_BACKUP]   (node from OUTPOST_CONFIG / OUTPOST_DATA, as npm start)";

/** @typedef {import("./backup-manifest.mjs").BackupEntry} BackupEntry */
/** @typedef {import("./backup-manifest.mjs").BackupManifest} BackupManifest */
/** @typedef {import("./backup-sources.mjs").Source} Source */

/**
 * Back up the node whose data folder is `dataDir` into `out`.
 *
 * @param {{ dataDir: string, nodeName: string, out: string, since?: string | null,
 *   onProgress?: (doneFiles: number, doneBytes: number) => void, onTotal?: (t: { files: number, bytes: number }) => void }} options
 * @returns {Promise<{ manifest: BackupManifest, out: string, notes: string[] }>}
 */
export async function createBackup({ dataDir, nodeName, out, since = null, onProgress = () => {}, onTotal = () => {} }) {
  if (!Database) throw new BackupError(NO_SQLITE);
  const startedAt = new Date();
  dataDir = path.resolve(dataDir);
  out = path.resolve(out);
  const missing = dataFolderProblem(dataDir);
  if (missing) throw new BackupError(missing);
  const named = nodeNameOfData(dataDir);
  if (named && named !== nodeName) {
    throw new BackupError(`the data folder ${dataDir} holds node ${named}, but the node settings say ${nodeName}: run backup with the same OUTPOST_NODE / OUTPOST_CONFIG as npm start`);
  }
  if (out === dataDir || out.startsWith(dataDir + path.sep)) throw new BackupError(`--out ${out} is inside the data folder ${dataDir}: put backups elsewhere`);

  // What --out is now: new, empty, a previous backup (then replaced, and the base), or something else (refused).
  const outStat = fs.statSync(out, { throwIfNoEntry: false });
  let replacing = false;
  if (outStat) {
    if (!outStat.isDirectory()) throw new BackupError(`--out ${out} exists and is not a folder`);
    if (fs.readdirSync(out).length > 0) {
      if (!hasManifest(out)) throw new BackupError(`--out ${out} exists, is not empty and is not an Outpost backup: give a new or empty folder, or a previous backup to update`);
      replacing = true;
    }
  }
  const baseDir = since ? path.resolve(since) : replacing ? out : null;
  const base = baseDir ? readManifest(baseDir) : null;
  if (base && base.node.name !== nodeName) throw new BackupError(`the previous backup ${baseDir} is of node ${base.node.name}, not ${nodeName}`);
  const baseEntries = new Map((base?.entries ?? []).map((e) => [e.path, e]));

  /** @type {Set<string>} */
  const notes = new Set();
  const groups = sourceGroups(dataDir, notes);
  // A first look for the progress line's total; each group is listed again at its turn.
  const estimate = groups.flatMap((list) => list());
  onTotal({ files: estimate.length, bytes: estimate.reduce((n, s) => n + s.estimate, 0) });

  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.partial-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    /** @type {BackupEntry[]} */
    const entries = [];
    const stats = { copiedFiles: 0, copiedBytes: 0, reusedFiles: 0, reusedBytes: 0, base: baseDir };
    // Databases first, then files (see the header: every file a snapshot names is on disk by then).
    for (const src of inTurn(groups)) {
      const dest = onDisk(tmp, src.rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      let stamp;
      try {
        stamp = stampOf(src.abs, { wal: src.kind === "sqlite" });
      } catch (err) {
        if (/** @type {NodeJS.ErrnoException} */ (err).code !== "ENOENT") throw err;
        notes.add(`${src.rel} disappeared before it was copied (an upload deleted meanwhile)`);
        onProgress(1, 0);
        continue;
      }
      const previous = baseEntries.get(src.rel);
      const unchanged =
        previous &&
        baseDir &&
        previous.kind === src.kind &&
        (src.kind === "sqlite" ? unchangedSince(previous.source, stamp) : previous.source.size === stamp.size && previous.source.mtimeNs === stamp.mtimeNs);
      if (unchanged && reuse(onDisk(baseDir, src.rel), dest, previous)) {
        // The source stamp stays the one the copied bytes were taken with.
        entries.push(previous);
        stats.reusedFiles += 1;
        stats.reusedBytes += previous.bytes;
        onProgress(1, previous.bytes);
        continue;
      }
      let counted = 0;
      /** @param {number} n */
      const count = (n) => {
        counted += n;
        onProgress(0, n);
      };
      let copied;
      if (src.kind === "sqlite") {
        try {
          await snapshotSqlite(src.abs, dest, (done, total) => count(Math.round((done / Math.max(1, total)) * src.estimate) - counted));
        } catch (err) {
          if (!fs.existsSync(src.abs)) {
            // workerd removed the object's storage meanwhile (deleteAll): nothing to keep.
            notes.add(`${src.rel} disappeared before it was copied (the object's storage was deleted meanwhile)`);
            fs.rmSync(dest, { force: true });
            onProgress(1, -counted);
            continue;
          }
          throw new BackupError(`cannot snapshot ${src.rel}: ${/** @type {Error} */ (err).message}`);
        }
        copied = hashFile(dest);
      } else {
        try {
          copied = copyAndHash(src.abs, dest, { mode: src.kind === "key" ? 0o600 : 0o644, onBytes: count });
        } catch (err) {
          if (/** @type {NodeJS.ErrnoException} */ (err).code !== "ENOENT") throw err;
          notes.add(`${src.rel} disappeared before it was copied (an upload deleted meanwhile)`);
          fs.rmSync(dest, { force: true });
          onProgress(1, -counted);
          continue;
        }
      }
      entries.push({ path: src.rel, kind: src.kind, bytes: copied.bytes, sha256: copied.sha256, source: stamp });
      stats.copiedFiles += 1;
      stats.copiedBytes += copied.bytes;
      onProgress(1, copied.bytes - counted);
    }

    /** @type {BackupManifest} */
    const manifest = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      node: { name: nodeName, publicKey: readPublicKey(dataDir) },
      outpostVersion: VERSION,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      sourceDataDir: dataDir,
      entries,
      stats,
    };
    writeManifest(tmp, manifest);
    fsyncTree(tmp);
    putInPlace(tmp, out);
    return { manifest, out, notes: [...notes] };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Take a previous backup's copy over: a hard link (one copy of the bytes for both
 * backups), or where linking is not possible a copy checked against its hash.
 * False when the previous copy is not as its manifest says (then copy afresh).
 *
 * @param {string} from
 * @param {string} to
 * @param {BackupEntry} entry
 */
function reuse(from, to, entry) {
  const st = fs.statSync(from, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size !== entry.bytes) return false;
  try {
    fs.linkSync(from, to);
    return true;
  } catch {
    try {
      const { sha256 } = copyAndHash(from, to, { mode: entry.kind === "key" ? 0o600 : 0o644 });
      if (sha256 === entry.sha256) return true;
    } catch {
      // fall through to a fresh copy
    }
    fs.rmSync(to, { force: true });
    return false;
  }
}

/**
 * The node name the data itself carries (every account id ends in `@<node>`), read
 * from the directory's database read-only; null when there is none yet. The manifest
 * must name the node its data belongs to — a restored node started under another
 * name would not recognise its own rooms — and a backup run without the node's
 * settings would otherwise record the default name.
 *
 * @param {string} dataDir
 * @returns {string | null}
 */
function nodeNameOfData(dataDir) {
  if (!Database) return null;
  const file = directoryFile(dataDir);
  if (!fs.existsSync(file)) return null;
  let db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
    db.pragma("query_only = 1");
    const row = /** @type {{ id: string } | undefined} */ (db.prepare("SELECT id FROM users LIMIT 1").get());
    return row ? (/@([^@]+)$/.exec(row.id)?.[1] ?? null) : null;
  } catch {
    return null; // no users table yet, or a damaged directory: the settings' name stands (npm run doctor says more)
  } finally {
    db?.close();
  }
}

/** fsync every folder under `dir` (the files were fsynced as written): the renames and links are durable. @param {string} dir */
function fsyncTree(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) fsyncTree(path.join(dir, entry.name));
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Rename the finished backup `tmp` to `out`. A previous backup at `out` is moved
 * aside first and removed after (its unchanged files live on as hard links).
 *
 * @param {string} tmp
 * @param {string} out
 */
function putInPlace(tmp, out) {
  const old = path.join(path.dirname(out), `.${path.basename(out)}.old-${process.pid}`);
  const existing = fs.statSync(out, { throwIfNoEntry: false });
  if (existing && fs.readdirSync(out).length === 0) fs.rmdirSync(out);
  else if (existing) fs.renameSync(out, old);
  fs.renameSync(tmp, out);
  fs.rmSync(old, { recursive: true, force: true });
  fsyncTree(path.dirname(out));
}

/** @param {string[]} argv @returns {{ out: string, since: string | null } | string} */
function parseArgs(argv) {
  /** @type {{ out: string | null, since: string | null }} */
  const opts = { out: null, since: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out" || a === "--since") {
      const v = argv[++i];
      if (!v || v.startsWith("--")) return `${a} needs a folder`;
      opts[a === "--out" ? "out" : "since"] = v;
    } else return `unknown argument ${a}`;
  }
  if (!opts.out) return "--out DIR is required";
  return { out: opts.out, since: opts.since };
}

/** @param {string[]} argv @returns {Promise<number>} */
async function main(argv) {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === "string") {
    console.error(`backup: ${args}\n${USAGE}`);
    return 2;
  }
  const config = nodeForCommand("backup");
  if (!config) return 2;
  /** @type {ReturnType<typeof progressLine> | null} */
  let progress = null;
  try {
    const started = Date.now();
    const { manifest, out, notes } = await createBackup({
      dataDir: config.dataDir,
      nodeName: config.name,
      out: args.out,
      since: args.since,
      onTotal: (total) => (progress = progressLine("backup", total)),
      onProgress: (files, bytes) => progress?.add(files, bytes),
    });
    /** @type {ReturnType<typeof progressLine> | null} */ (progress)?.end();
    for (const n of notes) console.log(`note: ${n}`);
    const s = manifest.stats;
    const total = manifest.entries.reduce((n, e) => n + e.bytes, 0);
    console.log(
      `backup of node ${manifest.node.name} (Outpost ${manifest.outpostVersion}) in ${out}: ${manifest.entries.length} files, ${mb(total)} MB, ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s; copied ${s.copiedFiles} (${mb(s.copiedBytes)} MB)` +
        (s.base ? `, ${s.reusedFiles} unchanged (${mb(s.reusedBytes)} MB) taken over from ${s.base}` : ""),
    );
    console.log(`every message acknowledged before ${manifest.startedAt} is in it`);
    if (manifest.entries.some((e) => e.kind === "key")) {
      console.log(`it holds the node's private key (${NODE_KEY_FILE}, mode 0600) and every conversation: keep it as private as the node's own disk`);
    }
    console.log(`check it: npm run restore -- --verify ${out}`);
    try {
      appendAuditStamp(config.dataDir, "node.backup", { out, files: manifest.entries.length, bytes: total, startedAt: manifest.startedAt, incremental: !!s.base });
    } catch (err) {
      console.error(`backup: the backup is complete, but it could not be recorded in the node's audit trail: ${/** @type {Error} */ (err).message}`);
      return 2;
    }
    return 0;
  } catch (err) {
    /** @type {ReturnType<typeof progressLine> | null} */ (progress)?.end();
    if (err instanceof BackupError) console.error(`backup: ${err.message}`);
    else console.error(`backup: failed: ${/** @type {Error} */ (err).message}`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
