// @ts-check
/**
 * How the commands that read a node's files beside it (`npm run audit`,
 * `npm run backup`) find the node: its settings as `npm start` finds them
 * (OUTPOST_CONFIG, OUTPOST_DATA; ops/node-config.mjs), and in its data folder
 * the object databases and the directory's own file. Found the same way
 * everywhere, so each command names the same node `npm start` runs, and says
 * the same thing when it cannot.
 *
 * @example
 *   const config = nodeForCommand("backup");
 *   if (!config) return 2;
 *   const missing = dataFolderProblem(config.dataDir);
 *   if (missing) throw new Error(missing);
 */
import fs from "node:fs";
import path from "node:path";
import { loadNodeConfig, uniqueKeyFor } from "./node-config.mjs";
import { objectIdFromName } from "./object-ids.mjs";
import { Database, NO_SQLITE } from "./sqlite-snapshot.mjs";

/**
 * The node's settings for `command`, or null once it has said on stderr why
 * not (the command then exits 2): better-sqlite3 is missing (the command could
 * read no database), or the settings are wrong (the offending field named).
 *
 * @param {string} command  the name its messages start with
 * @returns {import("./node-config.mjs").NodeConfig | null}
 */
export function nodeForCommand(command) {
  if (!Database) {
    console.error(`${command}: ${NO_SQLITE}`);
    return null;
  }
  try {
    return loadNodeConfig();
  } catch (err) {
    console.error(`${command}: bad node configuration: ${/** @type {Error} */ (err).message}`);
    return null;
  }
}

/**
 * Why `dataDir` is not a node's data folder (no `objects/` in it), or null when
 * it is. A sentence for the operator: most often OUTPOST_DATA is not set as
 * for `npm start`.
 *
 * @param {string} dataDir  absolute
 * @returns {string | null}
 */
export function dataFolderProblem(dataDir) {
  if (fs.existsSync(path.join(dataDir, "objects"))) return null;
  return `no Outpost data folder at ${dataDir} (no objects/ in it): set OUTPOST_DATA, or dataDir in the OUTPOST_CONFIG file, as for npm start`;
}

/**
 * The directory object's SQLite file in `dataDir` (accounts, rooms, the audit
 * checkpoint): workerd names it by the id it derives from the name "directory".
 *
 * @param {string} dataDir
 * @returns {string}
 */
export function directoryFile(dataDir) {
  const key = uniqueKeyFor("DirectoryObject");
  return path.join(dataDir, "objects", key, `${objectIdFromName(key, "directory")}.sqlite`);
}
