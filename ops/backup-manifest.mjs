/**
 * The manifest of an Outpost backup (`<backup>/manifest.json`): what the backup
 * holds, and the SHA-256 of every file in it, so `npm run restore -- --verify`
 * can prove a backup whole without restoring it.
 *
 * A backup folder is a plain copy of the parts of a data folder that matter,
 * at the same relative paths, plus this manifest:
 *
 *   manifest.json
 *   node-key.json                          the node's identity (mode 0600)
 *   objects/<uniqueKey>/<id>.sqlite        one snapshot per object (no -wal/-shm)
 *   files/<room>/<file>                    uploaded files
 *
 * The manifest is read back from a disk that may have been tampered with or
 * damaged, so it is parsed strictly, and every path in it must be one of the
 * shapes above (no `..`, nothing absolute): a restore never writes outside its
 * target because a manifest said so.
 *
 * @example
 *   const manifest = readManifest("/backups/monday");   // throws BackupError if unreadable
 *   const problem = await verifyBackup("/backups/monday", manifest);
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

export const MANIFEST_FILE = "manifest.json";
export const FORMAT = "outpost-backup";
export const FORMAT_VERSION = 1;

/** An error the commands print as one line (no stack): the operator's mistake or a damaged backup. */
export class BackupError extends Error {}

/**
 * The relative paths a backup may hold. Segments are the characters workerd's
 * object ids and the Worker's storage keys use (worker/store-upload.ts), plus
 * what an older or newer layout might add that is still plainly a name.
 */
const SEGMENT = "[A-Za-z0-9_][A-Za-z0-9_.-]*";
const ENTRY_PATH = new RegExp(`^(?:node-key\\.json|objects/${SEGMENT}/${SEGMENT}\\.sqlite|files/${SEGMENT}(?:/${SEGMENT})*)$`);

/** Whether `rel` (with `/`) is a path a backup may hold. @param {string} rel */
export const isEntryPath = (rel) => ENTRY_PATH.test(rel) && !rel.split("/").includes("..");

/** A backup-relative path, always with `/` (manifests travel between machines). */
const EntryPath = z
  .string()
  .regex(ENTRY_PATH, "not a path a backup holds")
  .refine((p) => !p.split("/").includes(".."), "has a .. segment");

/**
 * What the source looked like when the entry was taken: an incremental run
 * compares the live file with this to decide whether it changed (ops/backup.mjs).
 */
const SourceStamp = z.strictObject({
  size: z.number().int().min(0),
  mtimeNs: z.string().regex(/^\d+$/),
  /** the -wal beside a database: its size (-1: none) and mtime */
  walSize: z.number().int().min(-1).optional(),
  walMtimeNs: z.string().regex(/^\d+$/).optional(),
  /** when the stamp was taken (ns since the epoch), for the racy-stamp rule */
  stampedNs: z.string().regex(/^\d+$/),
});

const Entry = z.strictObject({
  path: EntryPath,
  kind: z.enum(["sqlite", "file", "key"]),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  source: SourceStamp,
});

export const Manifest = z.strictObject({
  format: z.literal(FORMAT),
  formatVersion: z.literal(FORMAT_VERSION),
  node: z.strictObject({ name: z.string().min(1).max(100), publicKey: z.string().nullable() }),
  outpostVersion: z.string(),
  /** when the backup began: every message acknowledged before this is in it */
  startedAt: z.string(),
  finishedAt: z.string(),
  /** the data folder it was taken from (for the operator's information only) */
  sourceDataDir: z.string(),
  entries: z.array(Entry),
  /** how much this run copied and how much it took over unchanged from `base` */
  stats: z.strictObject({
    copiedFiles: z.number().int().min(0),
    copiedBytes: z.number().int().min(0),
    reusedFiles: z.number().int().min(0),
    reusedBytes: z.number().int().min(0),
    base: z.string().nullable(),
  }),
});

/** @typedef {z.infer<typeof Manifest>} BackupManifest */
/** @typedef {z.infer<typeof Entry>} BackupEntry */
/** @typedef {z.infer<typeof SourceStamp>} SourceStampT */

/** @param {string} dir */
export function hasManifest(dir) {
  return fs.existsSync(path.join(dir, MANIFEST_FILE));
}

/**
 * The manifest of the backup in `dir`, checked; a BackupError saying what is wrong otherwise.
 *
 * @param {string} dir
 * @returns {BackupManifest}
 */
export function readManifest(dir) {
  const file = path.join(dir, MANIFEST_FILE);
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    throw new BackupError(code === "ENOENT" ? `${dir} is not an Outpost backup (no ${MANIFEST_FILE})` : `cannot read ${file}: ${/** @type {Error} */ (err).message}`);
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BackupError(`backup corrupt: ${file} is not JSON (${/** @type {Error} */ (err).message})`);
  }
  if (json?.format === FORMAT && json.formatVersion !== FORMAT_VERSION) {
    throw new BackupError(`${file}: backup format version ${JSON.stringify(json.formatVersion)}; this Outpost reads version ${FORMAT_VERSION}`);
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BackupError(`backup corrupt: ${file}: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  const seen = new Set();
  for (const e of parsed.data.entries) {
    if (seen.has(e.path)) throw new BackupError(`backup corrupt: ${file} lists ${e.path} twice`);
    seen.add(e.path);
  }
  return parsed.data;
}

/**
 * Write the manifest durably: a temporary file, fsync, rename. It is the last
 * thing a backup writes, so a folder with a manifest is a finished backup.
 *
 * @param {string} dir
 * @param {BackupManifest} manifest
 */
export function writeManifest(dir, manifest) {
  const tmp = path.join(dir, `.${MANIFEST_FILE}.tmp`);
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(manifest, null, 2) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, MANIFEST_FILE));
}

/** A manifest path (always `/`) as a path on this machine under `root`. @param {string} root @param {string} rel */
export const onDisk = (root, rel) => path.join(root, ...rel.split("/"));

/**
 * SHA-256 (hex) and size of a file, read in 1 MiB pieces.
 *
 * @param {string} file
 * @param {(bytes: number) => void} [onBytes]
 * @returns {{ sha256: string, bytes: number }}
 */
export function hashFile(file, onBytes = () => {}) {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, "r");
  let bytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
      onBytes(n);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest("hex"), bytes };
}

/**
 * Copy `from` to `to` (created with `mode`, fsynced), hashing the bytes as they
 * pass: one read of the source gives both the copy and its SHA-256.
 *
 * @param {string} from
 * @param {string} to
 * @param {{ mode?: number, onBytes?: (bytes: number) => void }} [options]
 * @returns {{ sha256: string, bytes: number }}
 */
export function copyAndHash(from, to, { mode = 0o644, onBytes = () => {} } = {}) {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const src = fs.openSync(from, "r");
  let dst;
  let bytes = 0;
  try {
    dst = fs.openSync(to, "wx", mode);
    for (;;) {
      const n = fs.readSync(src, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      let off = 0;
      while (off < n) off += fs.writeSync(dst, buf, off, n - off);
      bytes += n;
      onBytes(n);
    }
    fs.fsyncSync(dst);
  } finally {
    fs.closeSync(src);
    if (dst !== undefined) fs.closeSync(dst);
  }
  return { sha256: hash.digest("hex"), bytes };
}

/**
 * Check every file the manifest lists: present, the recorded size, the recorded
 * SHA-256. Stops at the first problem (a damaged backup needs no second opinion
 * before it is replaced) and returns it as one line; null when all is well.
 *
 * @param {string} dir
 * @param {BackupManifest} manifest
 * @param {(entry: BackupEntry, bytes: number) => void} [onProgress]  per chunk read
 * @returns {string | null}
 */
export function verifyBackup(dir, manifest, onProgress = () => {}) {
  for (const entry of manifest.entries) {
    const file = onDisk(dir, entry.path);
    let stat;
    try {
      stat = fs.statSync(file);
    } catch {
      return `${entry.path}: missing`;
    }
    if (!stat.isFile()) return `${entry.path}: not a file`;
    if (stat.size !== entry.bytes) return `${entry.path}: ${stat.size} bytes, the manifest says ${entry.bytes}`;
    const { sha256 } = hashFile(file, (n) => onProgress(entry, n));
    if (sha256 !== entry.sha256) return `${entry.path}: SHA-256 ${sha256.slice(0, 16)}… differs from the manifest's ${entry.sha256.slice(0, 16)}…`;
  }
  return null;
}
