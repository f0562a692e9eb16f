/**
 * What `npm run backup` copies, and in which order (ops/backup.mjs): every
 * object database class by class, then the uploaded files, then the node key.
 */
import fs from "node:fs";
import path from "node:path";
import { uniqueKeyFor } from "./node-config.mjs";
import { NODE_KEY_FILE } from "./node-key.mjs";
import { isEntryPath } from "./backup-manifest.mjs";

/**
 * One file to copy: its path in the backup (`/`), on disk, its kind, and a size
 * estimate for the progress line (a database with its -wal).
 *
 * @typedef {{ rel: string, abs: string, kind: import("./backup-manifest.mjs").BackupEntry["kind"], estimate: number }} Source
 */

/**
 * The order objects are snapshotted in. Each database is its own consistent
 * snapshot, taken one after another, so objects that refer to each other can
 * be caught at slightly different moments; the order makes every such skew the
 * harmless kind:
 * - the directory first: a room or account created after its snapshot is a
 *   file the restored directory does not list (unreachable, and named by
 *   `npm run doctor`), never a directory entry whose file is missing;
 * - user objects before rooms: an inbox can then only be behind its rooms
 *   (an unread count a little low), never point at messages its room's
 *   snapshot does not hold (a seq the restored room would hand out again);
 * - rooms last, with the mirrors and links before them for the same reason;
 * - within a class, workerd's `metadata.sqlite` (its index of the objects'
 *   alarms) after the objects: an alarm set between the two snapshots is then
 *   indexed (a spare wake-up, which alarm handlers tolerate) rather than lost.
 */
const CLASS_ORDER = ["DirectoryObject", "UserObject", "LinkObject", "MirrorObject", "RoomObject"];
const WORKERD_METADATA = "metadata.sqlite";

/**
 * What to copy, in groups: one per object class (in CLASS_ORDER, unknown
 * classes after), then the uploaded files, then the node key. Each group is
 * listed when it is its turn, so an object created while earlier groups were
 * copied is included (a room the directory snapshot already lists has its file).
 *
 * @param {string} dataDir
 * @param {Set<string>} notes
 * @returns {(() => Source[])[]}
 */
export function sourceGroups(dataDir, notes) {
  /** @param {Source[]} into @param {string} rel @param {string} abs @param {Source["kind"]} kind */
  const add = (into, rel, abs, kind) => {
    if (!isEntryPath(rel)) {
      notes.add(`skipped ${rel}: not a name Outpost writes`);
      return;
    }
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) return; // deleted since the folder was read (a recalled upload)
    const wal = kind === "sqlite" ? (fs.statSync(`${abs}-wal`, { throwIfNoEntry: false })?.size ?? 0) : 0;
    into.push({ rel, abs, kind, estimate: st.size + wal });
  };
  const objectsDir = path.join(dataDir, "objects");
  const folders = fs
    .readdirSync(objectsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const rank = (/** @type {string} */ folder) => {
    const i = CLASS_ORDER.findIndex((c) => uniqueKeyFor(c) === folder);
    return i === -1 ? CLASS_ORDER.length : i;
  };
  folders.sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : 1));
  const objectGroups = folders.map((folder) => () => {
    /** @type {Source[]} */
    const dbs = [];
    const names = fs.readdirSync(path.join(objectsDir, folder)).filter((n) => n.endsWith(".sqlite")); // -wal and -shm belong to their database
    names.sort((x, y) => Number(x === WORKERD_METADATA) - Number(y === WORKERD_METADATA) || (x < y ? -1 : 1));
    for (const name of names) add(dbs, `objects/${folder}/${name}`, path.join(objectsDir, folder, name), "sqlite");
    return dbs;
  });
  const filesGroup = () => {
    /** @type {Source[]} */
    const files = [];
    /** @param {string} abs @param {string} rel */
    const walk = (abs, rel) => {
      for (const entry of fs.readdirSync(abs, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
        // Dot-files are uploads still being written (`.kj-tmp….partial`), or not ours.
        if (entry.name.startsWith(".")) continue;
        const childAbs = path.join(abs, entry.name);
        const childRel = `${rel}/${entry.name}`;
        if (entry.isDirectory()) walk(childAbs, childRel);
        else if (entry.isFile()) add(files, childRel, childAbs, "file");
      }
    };
    if (fs.existsSync(path.join(dataDir, "files"))) walk(path.join(dataDir, "files"), "files");
    return files;
  };
  const keyGroup = () => {
    /** @type {Source[]} */
    const key = [];
    if (fs.existsSync(path.join(dataDir, NODE_KEY_FILE))) add(key, NODE_KEY_FILE, path.join(dataDir, NODE_KEY_FILE), "key");
    else notes.add(`no ${NODE_KEY_FILE} in the data folder: a node restored from this backup makes a new identity`);
    return key;
  };
  return [...objectGroups, filesGroup, keyGroup];
}

/** Each group's sources, the group listed only when the previous ones are done. @param {(() => Source[])[]} groups */
export function* inTurn(groups) {
  for (const list of groups) yield* list();
}
