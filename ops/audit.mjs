// @ts-check
/**
 * `npm run audit -- verify`: check the node's audit trail.
 *
 *   npm run audit -- verify            # every chain, and the signed checkpoint
 *   npm run audit -- verify --json     # the report as JSON on stdout
 *
 * The node is found as `npm start` finds it (OUTPOST_CONFIG, OUTPOST_DATA; see
 * ops/node-config.mjs). Safe on a running node: each file is opened read-only
 * (as `npm run doctor` does; see there for why a read-only connection on a
 * WAL database never disturbs workerd).
 *
 * What is checked (durable-objects/shared/audit-chain.mjs has the arithmetic):
 * - every object file with an `audit_log` table is one chain: positions 1, 2, …
 *   with no gap, each record's prev_hash the hash of the one before, each hash
 *   the SHA-256 of the record's canonical encoding. An altered, deleted or
 *   reordered row breaks one of these; the first break of each chain is
 *   reported with its object (class, file, room or user id) and position.
 * - the directory's checkpoint of every chain head, signed with the node's
 *   Ed25519 key (`node-key.json`): its signature, and that every chain still
 *   reaches the head it records with the same hash. A chain whose last
 *   records were deleted is valid by itself; this is what finds it. The
 *   checkpoint is read before the chains: chains only grow, so a chain read
 *   after it can never be behind it on a running node unless it was cut.
 *
 * Exit code: 0 the trail is intact, 1 something is wrong (each problem is
 * listed), 2 the check could not run.
 */
import fs from "node:fs";
import path from "node:path";
import { createHash, webcrypto } from "node:crypto";
import { pathToFileURL } from "node:url";
import { dataFolderProblem, directoryFile, nodeForCommand } from "./find-node.mjs";
import { NODE_KEY_FILE, readPublicKey } from "./node-key.mjs";
import { Database, NO_SQLITE } from "./sqlite-snapshot.mjs";
import { checkpointText, GENESIS, recordHash } from "../durable-objects/shared/audit-chain.mjs";

const USAGE = "usage: npm run audit -- verify [--json]   (node from OUTPOST_CONFIG / OUTPOST_DATA, as npm start)";
const WORKERD_METADATA = "metadata.sqlite";
const CLASS_PREFIX = "outpost-";

/** @param {string} text */
const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * @typedef {{ object: string, name: string | null, file: string, position: number | null, problem: string }} Problem
 * @typedef {{ object: string, seq: number, hash: string }} Head
 * @typedef {{ version: number, at: number, heads: Head[], signature: string | null }} Checkpoint
 * @typedef {{ dataDir: string, chains: number, records: number, checkpoint: { version: number, at: number, heads: number, signed: boolean } | null, problems: Problem[] }} AuditReport
 */

/**
 * @param {string} file
 * @param {(db: import("better-sqlite3").Database) => T} fn
 * @template T
 */
function readOnly(file, fn) {
  if (!Database) throw new Error(NO_SQLITE);
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
  try {
    db.pragma("query_only = 1");
    return fn(db);
  } finally {
    db.close();
  }
}

/** @param {import("better-sqlite3").Database} db @param {string} table */
const hasTable = (db, table) => !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);

/**
 * Verify the trail of the node whose data folder is `dataDir`.
 * @param {string} dataDir
 * @returns {Promise<AuditReport>}
 */
export async function verifyAudit(dataDir) {
  dataDir = path.resolve(dataDir);
  const objectsDir = path.join(dataDir, "objects");
  const missing = dataFolderProblem(dataDir);
  if (missing) throw new Error(missing);
  /** @type {Problem[]} */
  const problems = [];

  // 1. The checkpoint and the names of the objects, from the directory (first: see above).
  const dirClass = "DirectoryObject";
  const dirFile = directoryFile(dataDir);
  /** @type {Checkpoint | null} */
  let checkpoint = null;
  /** @type {Map<string, string>} */
  const names = new Map();
  let dirHasHeads = false;
  if (fs.existsSync(dirFile)) {
    readOnly(dirFile, (db) => {
      if (hasTable(db, "audit_heads")) {
        for (const r of /** @type {{ object: string, name: string }[]} */ (db.prepare("SELECT object, name FROM audit_heads").all())) names.set(r.object, r.name);
        dirHasHeads = names.size > 0;
      }
      const row = /** @type {{ value: string } | undefined} */ (db.prepare("SELECT value FROM settings WHERE key = 'audit_checkpoint'").get());
      if (row) checkpoint = JSON.parse(row.value);
    });
  }
  const cp = /** @type {Checkpoint | null} */ (checkpoint);
  const dirObject = `${dirClass}:${path.basename(dirFile, ".sqlite")}`;
  if (cp) {
    const publicKey = readPublicKey(dataDir);
    if (!cp.signature) problems.push({ object: dirObject, name: "directory", file: rel(dataDir, dirFile), position: null, problem: "the checkpoint is not signed (the node ran without its key)" });
    else if (!publicKey) problems.push({ object: dirObject, name: "directory", file: rel(dataDir, dirFile), position: null, problem: `no ${NODE_KEY_FILE} to check the checkpoint's signature with` });
    else if (!(await signatureHolds(publicKey, cp))) problems.push({ object: dirObject, name: "directory", file: rel(dataDir, dirFile), position: null, problem: "the checkpoint's signature does not match its contents (altered)" });
  } else if (dirHasHeads) {
    problems.push({ object: dirObject, name: "directory", file: rel(dataDir, dirFile), position: null, problem: "the directory knows audit chains but holds no checkpoint of them (removed)" });
  }

  // 2. Every chain.
  /** @type {Map<string, { seq: number, hash: string }[]>} */
  const chains = new Map();
  let records = 0;
  for (const folder of fs.readdirSync(objectsDir).sort()) {
    if (!folder.startsWith(CLASS_PREFIX) || !fs.statSync(path.join(objectsDir, folder)).isDirectory()) continue;
    const className = folder.slice(CLASS_PREFIX.length);
    for (const name of fs.readdirSync(path.join(objectsDir, folder)).sort()) {
      if (!name.endsWith(".sqlite") || name === WORKERD_METADATA) continue;
      const file = path.join(objectsDir, folder, name);
      const object = `${className}:${name.slice(0, -".sqlite".length)}`;
      /** @param {number | null} position @param {string} problem */
      const report = (position, problem) => problems.push({ object, name: names.get(object) ?? null, file: rel(dataDir, file), position, problem });
      let rows;
      try {
        rows = readOnly(file, (db) => (hasTable(db, "audit_log") ? /** @type {AuditRow[]} */ (db.prepare("SELECT * FROM audit_log ORDER BY seq").all()) : null));
      } catch (err) {
        report(null, `cannot be read: ${/** @type {Error} */ (err).message}`);
        continue;
      }
      if (!rows) continue; // an object kind without a trail, or a file not migrated since the trail began
      chains.set(object, rows);
      records += rows.length;
      const broken = firstBreak(rows);
      if (broken) report(broken.position, broken.problem);
    }
  }

  // 3. Every head the checkpoint holds is still there.
  if (cp) {
    for (const h of cp.heads) {
      const rows = chains.get(h.object);
      const report = (/** @type {string} */ problem) =>
        problems.push({ object: h.object, name: names.get(h.object) ?? null, file: `objects/${CLASS_PREFIX}${h.object.split(":")[0]}/${h.object.split(":")[1]}.sqlite`, position: h.seq, problem });
      if (!rows) {
        report("the checkpoint holds this chain, but its file (or its audit_log) is gone");
        continue;
      }
      const at = rows.find((r) => r.seq === h.seq);
      const last = rows.at(-1)?.seq ?? 0;
      if (!at && last < h.seq) report(`the chain ends at position ${last}, but the signed checkpoint holds it at ${h.seq}: records were cut off`);
      else if (at && at.hash !== h.hash) report("the record at this position is not the one the signed checkpoint holds");
      // (a record missing in the middle is reported by the chain's own check above)
    }
  }
  return {
    dataDir,
    chains: chains.size,
    records,
    checkpoint: cp ? { version: cp.version, at: cp.at, heads: cp.heads.length, signed: !!cp.signature } : null,
    problems,
  };
}

/** @typedef {{ seq: number, at: number, actor: string, action: string, room_id: string | null, user_id: string | null, detail: string, prev_hash: string, hash: string }} AuditRow */

/**
 * The first broken link of one chain, or null.
 * @param {AuditRow[]} rows ordered by seq
 * @returns {{ position: number, problem: string } | null}
 */
export function firstBreak(rows) {
  let prev = GENESIS;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const expected = i + 1;
    if (r.seq !== expected) return { position: expected, problem: `record ${expected} is missing (the next is ${r.seq}): deleted` };
    if (r.prev_hash !== prev) return { position: expected, problem: "its link to the record before does not match: a record before it was altered, deleted or moved" };
    const fields = { seq: r.seq, at: r.at, actor: r.actor, action: r.action, roomId: r.room_id, userId: r.user_id, detail: r.detail, prevHash: r.prev_hash };
    if (recordHash(fields, sha256Hex) !== r.hash) return { position: expected, problem: "its contents do not match its hash: altered" };
    prev = r.hash;
  }
  return null;
}

/** @param {string} publicKey @param {Checkpoint} cp */
async function signatureHolds(publicKey, cp) {
  try {
    const key = await webcrypto.subtle.importKey("raw", Buffer.from(publicKey, "base64url"), { name: "Ed25519" }, false, ["verify"]);
    return await webcrypto.subtle.verify({ name: "Ed25519" }, key, Buffer.from(/** @type {string} */ (cp.signature), "base64url"), new TextEncoder().encode(checkpointText(cp)));
  } catch {
    return false;
  }
}

/** @param {string} dataDir @param {string} file */
const rel = (dataDir, file) => path.relative(dataDir, file).split(path.sep).join("/");

/** @param {string[]} argv */
async function main(argv) {
  const [command, ...rest] = argv;
  if (command !== "verify" || rest.some((a) => a !== "--json")) {
    console.error(USAGE);
    return 2;
  }
  const config = nodeForCommand("audit");
  if (!config) return 2;
  let report;
  try {
    report = await verifyAudit(config.dataDir);
  } catch (err) {
    console.error(`audit: ${/** @type {Error} */ (err).message}`);
    return 2;
  }
  if (rest.includes("--json")) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    for (const p of report.problems) {
      console.log(`BROKEN ${p.object}${p.name ? ` (${p.name})` : ""}${p.position !== null ? ` at position ${p.position}` : ""}: ${p.problem} [${p.file}]`);
    }
    const cp = report.checkpoint;
    console.log(
      `audit trail of ${report.dataDir}: ${report.chains} chains, ${report.records} records; ` +
        (cp ? `checkpoint ${cp.version} of ${new Date(cp.at).toISOString()} holds ${cp.heads} chain heads${cp.signed ? ", signed" : ", NOT signed"}` : "no checkpoint yet"),
    );
    console.log(report.problems.length ? `${report.problems.length} problem(s): the trail has been tampered with or damaged` : "intact");
  }
  return report.problems.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
