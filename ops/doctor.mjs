/**
 * `npm run doctor`: check every object database of a node for damage, and say
 * which room or user each damaged file belongs to.
 *
 *   npm run doctor                  # PRAGMA integrity_check of every file
 *   npm run doctor -- --quick       # PRAGMA quick_check (O(n), skips index contents)
 *   npm run doctor -- --json        # the report as JSON on stdout
 *
 * The node is found as `npm start` finds it (OUTPOST_CONFIG, OUTPOST_DATA; see
 * ops/node-config.mjs). Progress goes to stderr, the report to stdout. Exit
 * code: 0 every file is sound, 1 some file is damaged, 2 the check could not run.
 *
 * Safe on a running node. Each file is opened read-only (`readonly`,
 * `fileMustExist`, `query_only`): the database and its -wal are never
 * written. workerd keeps the databases in WAL mode; a read-only connection
 * takes the ordinary WAL read locks through the -shm index, so it reads one
 * consistent snapshot while workerd keeps committing, never checkpoints, and
 * never deletes the -wal on close (only a read-write last connection does).
 * While a file is being checked workerd's checkpoints cannot pass that
 * snapshot, so its -wal may grow for that moment; the next checkpoint catches
 * up. The -wal and -shm files are never opened by name.
 *
 * Owners: files are named by object id, and workerd derives a named object's
 * id from its name (ops/object-ids.mjs), so every room and user listed in the
 * directory maps to its file name — damaged files included. A file the
 * directory does not list (or every file, when the directory itself is
 * damaged) is named from its own tables if it can be read (`meta.id` of a
 * room, the user object's `profile`); otherwise it is reported as unknown.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DURABLE_OBJECTS, loadNodeConfig, uniqueKeyFor } from "./node-config.mjs";
import { objectIdFromName } from "./object-ids.mjs";

/**
 * better-sqlite3 is an optional dependency: it compiles on install, and a node installed
 * on a machine without a C++ toolchain runs without it (only this command needs it).
 */
const Database = await import("better-sqlite3").then(
  (m) => m.default,
  () => null,
);
const NO_SQLITE =
  "needs better-sqlite3, an optional dependency this install does not have (it compiles with a C++ toolchain: " +
  "python3, make, g++); install them and run `npm install better-sqlite3`";

const USAGE = "usage: npm run doctor [-- --quick] [--json]   (node from OUTPOST_CONFIG / OUTPOST_DATA, as npm start)";

/** workerd's own per-namespace index (alarms), beside the objects' files. */
const WORKERD_METADATA = "metadata.sqlite";

/**
 * @typedef {{ kind: "room" | "user" | "directory" | "workerd" | "unknown", id?: string, label?: string }} Owner
 * @typedef {{ file: string, className: string, owner: Owner, ok: boolean, problem?: string }} CheckedFile
 * @typedef {{ className: string, name: string, rel: string, abs: string }} ObjectFile
 * @typedef {object} DoctorReport
 * @property {string} dataDir
 * @property {"integrity_check" | "quick_check"} check
 * @property {number} seconds
 * @property {CheckedFile[]} files
 * @property {CheckedFile[]} damaged
 * @property {{ file: string, owner: Owner }[]} missing
 * @property {string[]} notes
 */

/**
 * Check every object file under `dataDir`. `onProgress(done, total)` after each file.
 * @param {string} dataDir
 * @param {{ quick?: boolean, onProgress?: (done: number, total: number) => void }} [options]
 * @returns {DoctorReport}
 */
export function checkNode(dataDir, { quick = false, onProgress = () => {} } = {}) {
  if (!Database) throw new Error(NO_SQLITE);
  const started = process.hrtime.bigint();
  const objectsDir = path.join(dataDir, "objects");
  if (!fs.existsSync(objectsDir)) throw new Error(`no object files under ${objectsDir}: is OUTPOST_DATA (or dataDir in OUTPOST_CONFIG) right?`);
  const files = listFiles(objectsDir);
  /** @type {Map<string, Owner>} */
  const owners = new Map();
  /** @type {string[]} */
  const notes = [];

  // The directory first: it names every other file.
  const directoryHex = objectIdFromName(uniqueKeyFor("DirectoryObject"), "directory");
  const directoryFile = files.find((f) => f.className === "DirectoryObject" && f.name === `${directoryHex}.sqlite`);
  if (directoryFile) owners.set(directoryFile.rel, { kind: "directory", id: "directory" });
  const listed = directoryFile ? readDirectory(directoryFile.abs) : { error: "no directory file" };
  if ("error" in listed) notes.push(`the directory could not be read (${listed.error}): files are named from their own tables where they can be read`);
  else {
    for (const r of listed.rooms) owners.set(relFile("RoomObject", objectIdFromName(uniqueKeyFor("RoomObject"), r.id)), { kind: "room", id: r.id, label: r.name });
    for (const u of listed.users) owners.set(relFile("UserObject", objectIdFromName(uniqueKeyFor("UserObject"), u.id)), { kind: "user", id: u.id, label: u.username });
  }

  /** @type {CheckedFile[]} */
  const checked = [];
  let done = 0;
  for (const f of files) {
    const result = checkFile(f.abs, quick);
    const owner = owners.get(f.rel) ?? (f.name === WORKERD_METADATA ? { kind: "workerd", label: `workerd's index for ${f.className}` } : ownerFromFile(f, result.ok));
    checked.push({ file: f.rel, className: f.className, owner, ...result });
    onProgress(++done, files.length);
  }
  // Rooms and users the directory lists whose file is not there: their data is missing, not damaged.
  const present = new Set(files.map((f) => f.rel));
  const missing = "error" in listed ? [] : [...owners].filter(([rel, o]) => (o.kind === "room" || o.kind === "user") && !present.has(rel)).map(([file, owner]) => ({ file, owner }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { dataDir, check: quick ? "quick_check" : "integrity_check", seconds, files: checked, damaged: checked.filter((c) => !c.ok), missing, notes };
}

/** @param {string} className @param {string} hex */
function relFile(className, hex) {
  return path.join("objects", uniqueKeyFor(className), `${hex}.sqlite`);
}

/**
 * Every `*.sqlite` under objects/, by class folder; folders of unknown classes too.
 * @param {string} objectsDir
 */
function listFiles(objectsDir) {
  const classOf = new Map(DURABLE_OBJECTS.map((d) => [uniqueKeyFor(d.className), d.className]));
  /** @type {ObjectFile[]} */
  const out = [];
  for (const dir of fs.readdirSync(objectsDir, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const className = classOf.get(dir.name) ?? dir.name;
    for (const name of fs.readdirSync(path.join(objectsDir, dir.name)).sort()) {
      if (!name.endsWith(".sqlite")) continue; // -wal and -shm belong to their database
      const rel = path.join("objects", dir.name, name);
      out.push({ className, name, rel, abs: path.join(objectsDir, dir.name, name) });
    }
  }
  return out;
}

/**
 * Read-only, never writing, waiting up to 5 s for a lock workerd holds for a moment.
 * @param {string} file
 */
function openReadOnly(file) {
  if (!Database) throw new Error(NO_SQLITE);
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  db.pragma("query_only = 1");
  return db;
}

/**
 * @param {string} file
 * @param {boolean} quick
 * @returns {{ ok: boolean, problem?: string }}
 */
function checkFile(file, quick) {
  let db;
  try {
    db = openReadOnly(file);
    const rows = /** @type {Record<string, string>[]} */ (db.pragma(quick ? "quick_check" : "integrity_check", { simple: false }));
    const lines = rows.map((r) => Object.values(r)[0]);
    if (lines.length === 1 && lines[0] === "ok") return { ok: true };
    return { ok: false, problem: lines.slice(0, 3).join("; ") + (lines.length > 3 ? ` (+${lines.length - 3} more)` : "") };
  } catch (err) {
    const e = /** @type {Error & { code?: string }} */ (err);
    return { ok: false, problem: `${e.message}${e.code ? ` (${e.code})` : ""}` };
  } finally {
    db?.close();
  }
}

/**
 * @param {string} file
 * @returns {{ rooms: { id: string, name: string }[], users: { id: string, username: string }[] } | { error: string }}
 */
function readDirectory(file) {
  let db;
  try {
    db = openReadOnly(file);
    return {
      rooms: /** @type {{ id: string, name: string }[]} */ (db.prepare("SELECT id, name FROM rooms").all()),
      users: /** @type {{ id: string, username: string }[]} */ (db.prepare("SELECT id, username FROM users").all()),
    };
  } catch (err) {
    return { error: /** @type {Error} */ (err).message };
  } finally {
    db?.close();
  }
}

/**
 * @param {ObjectFile} f
 * @param {boolean} readable
 * @returns {Owner}
 */
function ownerFromFile(f, readable) {
  if (readable) {
    let db;
    try {
      db = openReadOnly(f.abs);
      if (f.className === "RoomObject") {
        const row = /** @type {{ value: string } | undefined} */ (db.prepare("SELECT value FROM meta WHERE key = 'id'").get());
        if (row) return { kind: "room", id: row.value, label: "not in the directory" };
      } else if (f.className === "UserObject") {
        const row = /** @type {{ value: string } | undefined} */ (db.prepare("SELECT value FROM profile WHERE key = 'profile'").get());
        if (row) return { kind: "user", id: JSON.parse(row.value).userId, label: "not in the directory" };
      }
    } catch {
      // an empty object (never created) has no such tables: unknown
    } finally {
      db?.close();
    }
  }
  return { kind: "unknown", label: `a ${f.className} file no directory entry names` };
}

/** @param {Owner} o */
function describeOwner(o) {
  const label = o.label ? ` ${JSON.stringify(o.label)}` : "";
  return o.id ? `${o.kind} ${o.id}${label}` : `${o.kind}${label}`;
}

/** @param {DoctorReport} report @param {(line: string) => void} out */
function printReport(report, out) {
  out(`Outpost doctor: ${report.dataDir}`);
  for (const d of report.damaged) out(`DAMAGED  ${describeOwner(d.owner)}\n         ${d.file}\n         ${d.problem}`);
  for (const m of report.missing) out(`MISSING  ${describeOwner(m.owner)}: the directory lists it, but ${m.file} is not there`);
  for (const n of report.notes) out(`note: ${n}`);
  /** @param {Owner["kind"]} kind */
  const count = (kind) => report.files.filter((f) => f.owner.kind === kind).length;
  out(
    `${report.files.length} files checked with ${report.check} in ${report.seconds.toFixed(2)} s ` +
      `(${count("room")} rooms, ${count("user")} users, ${count("directory")} directory, ${count("workerd")} workerd, ${count("unknown")} unknown): ` +
      `${report.damaged.length} damaged, ${report.missing.length} missing`,
  );
  if (report.damaged.length) {
    out("A damaged room answers 500 room_unavailable; other rooms keep working. Stop the node, move each damaged file aside");
    out("(with its -wal and -shm), restore it from a backup, and start the node again.");
  }
}

/** @param {string[]} argv @returns {Promise<number>} */
async function main(argv) {
  const args = new Set(argv);
  if (args.has("--help") || args.has("-h")) {
    console.log(USAGE);
    return 0;
  }
  for (const a of args) {
    if (!["--quick", "--json"].includes(a)) {
      console.error(`doctor: unknown argument ${a}\n${USAGE}`);
      return 2;
    }
  }
  if (!Database) {
    console.error(`doctor: ${NO_SQLITE}`);
    return 2;
  }
  let report;
  try {
    const config = loadNodeConfig();
    const tty = process.stderr.isTTY;
    let lastLine = 0;
    report = checkNode(config.dataDir, {
      quick: args.has("--quick"),
      onProgress(done, total) {
        // A line per tenth on a log, a live counter on a terminal.
        if (tty) process.stderr.write(`\rdoctor: ${done}/${total} files checked`);
        else if (done === total || done - lastLine >= Math.max(1, Math.ceil(total / 10))) {
          lastLine = done;
          process.stderr.write(`doctor: ${done}/${total} files checked\n`);
        }
      },
    });
    if (tty) process.stderr.write("\n");
  } catch (err) {
    console.error(`doctor: ${/** @type {Error} */ (err).message}`);
    return 2;
  }
  if (args.has("--json")) console.log(JSON.stringify(report, null, 2));
  else printReport(report, (line) => console.log(line));
  return report.damaged.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
