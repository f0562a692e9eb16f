/**
 * `npm run restore -- --from DIR --data NEWDIR`: turn a backup (ops/backup.mjs)
 * into a data folder a node starts on.
 * `npm run restore -- --verify DIR`: check a backup without restoring it.
 *
 * Restore refuses a target folder that exists and is not empty (it never mixes
 * a backup into live data, nor overwrites a node). It copies every file the
 * manifest lists, hashing each as it is read, so a byte that differs from the
 * manifest stops the restore — one read of the backup both verifies and
 * restores. Then `PRAGMA integrity_check` on every restored database. On any
 * failure the target is emptied again: a half-restored folder is never left
 * for a node to start on. The node key keeps mode 0600.
 *
 * Verify reads every file the manifest lists and compares size and SHA-256;
 * the first file that is missing or differs is reported, and the exit code is 1.
 *
 * Exit codes: 0 done / the backup is sound; 1 the backup is damaged; 2 the
 * command could not run (bad arguments, target not empty, better-sqlite3 missing).
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { BackupError, copyAndHash, hasManifest, onDisk, readManifest, verifyBackup, MANIFEST_FILE } from "./backup-manifest.mjs";
import { Database, NO_SQLITE, integrityCheck } from "./sqlite-snapshot.mjs";
import { mb, progressLine } from "./progress-line.mjs";
import { appendAuditStamp } from "./audit-stamp.mjs";

const USAGE = "usage: npm run restore -- --from BACKUP --data NEW_DATA_DIR\n       npm run restore -- --verify BACKUP";

/** A backup whose bytes are not what its manifest says (exit 1, not 2). */
export class CorruptBackupError extends BackupError {}

/** @typedef {import("./backup-manifest.mjs").BackupManifest} BackupManifest */

/**
 * Restore the backup in `from` into the new or empty folder `data`.
 *
 * @param {{ from: string, data: string, onTotal?: (t: { files: number, bytes: number }) => void, onProgress?: (files: number, bytes: number) => void }} options
 * @returns {{ manifest: BackupManifest, data: string }}
 */
export function restoreBackup({ from, data, onTotal = () => {}, onProgress = () => {} }) {
  if (!Database) throw new BackupError(NO_SQLITE);
  from = path.resolve(from);
  data = path.resolve(data);
  const manifest = readManifest(from);
  if (data === from || data.startsWith(from + path.sep) || from.startsWith(data + path.sep)) {
    throw new BackupError(`--data ${data} and the backup ${from} overlap: restore into a folder of its own`);
  }
  const existing = fs.statSync(data, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw new BackupError(`--data ${data} exists and is not a folder`);
  if (existing && fs.readdirSync(data).length > 0) {
    throw new BackupError(`--data ${data} exists and is not empty: restore into a new or empty folder (it never overwrites a node's data)`);
  }
  fs.mkdirSync(data, { recursive: true, mode: 0o700 });
  onTotal({ files: manifest.entries.length, bytes: manifest.entries.reduce((n, e) => n + e.bytes, 0) });
  try {
    // The folders a node expects, even when the backup has nothing in them.
    for (const dir of ["objects", "files"]) fs.mkdirSync(path.join(data, dir), { recursive: true });
    for (const entry of manifest.entries) {
      const src = onDisk(from, entry.path);
      const dest = onDisk(data, entry.path);
      if (!fs.existsSync(src)) throw new CorruptBackupError(`backup corrupt: ${entry.path}: missing`);
      let counted = 0;
      const got = copyAndHash(src, dest, {
        mode: entry.kind === "key" ? 0o600 : 0o644,
        onBytes: (n) => {
          counted += n;
          onProgress(0, n);
        },
      });
      if (got.bytes !== entry.bytes || got.sha256 !== entry.sha256) {
        throw new CorruptBackupError(`backup corrupt: ${entry.path}: ${got.bytes} bytes with SHA-256 ${got.sha256.slice(0, 16)}…, the manifest says ${entry.bytes} bytes, ${entry.sha256.slice(0, 16)}…`);
      }
      // A umask cannot widen the key, but a backup copied by hand may have: the key is 0600 whatever the source.
      if (entry.kind === "key") fs.chmodSync(dest, 0o600);
      onProgress(1, got.bytes - counted);
    }
    for (const entry of manifest.entries) {
      if (entry.kind !== "sqlite") continue;
      const result = integrityCheck(onDisk(data, entry.path));
      if (result !== "ok") throw new CorruptBackupError(`backup corrupt: ${entry.path}: integrity_check: ${result}`);
    }
    return { manifest, data };
  } catch (err) {
    // Empty the target again (it was new or empty): nothing half-restored for a node to start on.
    for (const name of fs.readdirSync(data)) fs.rmSync(path.join(data, name), { recursive: true, force: true });
    throw err;
  }
}

/** @param {string[]} argv @returns {{ verify: string } | { from: string, data: string } | string} */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!["--from", "--data", "--verify"].includes(a)) return `unknown argument ${a}`;
    const v = argv[++i];
    if (!v || v.startsWith("--")) return `${a} needs a folder`;
    opts[a.slice(2)] = v;
  }
  if (opts.verify && (opts.from || opts.data)) return "--verify checks a backup; it takes no --from or --data";
  if (opts.verify) return { verify: opts.verify };
  if (!opts.from || !opts.data) return "--from BACKUP and --data NEW_DATA_DIR are both required";
  return { from: opts.from, data: opts.data };
}

/** @param {string} dir @returns {number} */
function verify(dir) {
  const manifest = readManifest(dir);
  const progress = progressLine("verify", { files: manifest.entries.length, bytes: manifest.entries.reduce((n, e) => n + e.bytes, 0) });
  let current = "";
  const problem = verifyBackup(dir, manifest, (entry, bytes) => {
    if (current && current !== entry.path) progress.add(1, 0);
    current = entry.path;
    progress.add(0, bytes);
  });
  if (!problem && current) progress.add(1, 0);
  progress.end();
  if (problem) {
    console.error(`verify: backup corrupt: ${problem}`);
    return 1;
  }
  const extra = listed(dir).filter((rel) => rel !== MANIFEST_FILE && !manifest.entries.some((e) => e.path === rel));
  if (extra.length) console.log(`note: ${extra.length} file(s) the manifest does not list (not restored), e.g. ${extra[0]}`);
  const bytes = manifest.entries.reduce((n, e) => n + e.bytes, 0);
  console.log(`backup ${path.resolve(dir)} is sound: node ${manifest.node.name}, Outpost ${manifest.outpostVersion}, taken ${manifest.startedAt}, ${manifest.entries.length} files, ${mb(bytes)} MB, every SHA-256 as recorded`);
  return 0;
}

/** Every file under `dir`, relative, with `/`. @param {string} dir @returns {string[]} */
function listed(dir) {
  return /** @type {string[]} */ (fs.readdirSync(dir, { recursive: true }))
    .map((rel) => rel.split(path.sep).join("/"))
    .filter((rel) => fs.statSync(path.join(dir, rel)).isFile());
}

/** @param {string[]} argv @returns {Promise<number>} */
async function main(argv) {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === "string") {
    console.error(`restore: ${args}\n${USAGE}`);
    return 2;
  }
  if ("verify" in args) {
    try {
      return verify(args.verify);
    } catch (err) {
      console.error(`verify: ${/** @type {Error} */ (err).message}`);
      return err instanceof BackupError && /^backup corrupt/.test(/** @type {Error} */ (err).message) ? 1 : 2;
    }
  }
  if (!Database) {
    console.error(`restore: ${NO_SQLITE}`);
    return 2;
  }
  if (!hasManifest(args.from)) {
    console.error(`restore: ${path.resolve(args.from)} is not an Outpost backup (no ${MANIFEST_FILE})`);
    return 2;
  }
  /** @type {ReturnType<typeof progressLine> | null} */
  let progress = null;
  try {
    const started = Date.now();
    const { manifest, data } = restoreBackup({
      from: args.from,
      data: args.data,
      onTotal: (total) => (progress = progressLine("restore", total)),
      onProgress: (files, bytes) => progress?.add(files, bytes),
    });
    /** @type {ReturnType<typeof progressLine> | null} */ (progress)?.end();
    const dbs = manifest.entries.filter((e) => e.kind === "sqlite").length;
    console.log(
      `restored node ${manifest.node.name} (backup of ${manifest.startedAt}, Outpost ${manifest.outpostVersion}) into ${data}: ` +
        `${manifest.entries.length} files verified against the manifest, integrity_check ok on all ${dbs} databases, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    if (manifest.entries.some((e) => e.kind === "key")) {
      console.log(`the node key (node-key.json, mode 0600) is restored: this is the same node to its cluster, so stop the old one for good before starting it`);
    } else {
      console.log("the backup held no node key: the node makes a new one at its first start, and its cluster file must list the new public key");
    }
    console.log("start it (the node name must stay the same: every id it homes ends in @" + manifest.node.name + "):");
    console.log(`  OUTPOST_DATA=${data} OUTPOST_NODE=${manifest.node.name} npm start`);
    console.log(`  (or set "dataDir": ${JSON.stringify(data)} in the node's OUTPOST_CONFIG file), then check it with npm run doctor`);
    try {
      // Recorded in the restored node's trail at its first start (ops/audit-stamp.mjs).
      appendAuditStamp(data, "node.restore", { from: path.resolve(args.from), backupStartedAt: manifest.startedAt, files: manifest.entries.length });
    } catch (err) {
      console.error(`restore: the data is restored, but the restore could not be recorded in its audit trail: ${/** @type {Error} */ (err).message}`);
      return 2;
    }
    return 0;
  } catch (err) {
    /** @type {ReturnType<typeof progressLine> | null} */ (progress)?.end();
    console.error(`restore: ${/** @type {Error} */ (err).message}`);
    return err instanceof CorruptBackupError || /^backup corrupt/.test(/** @type {Error} */ (err).message) ? 1 : 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
