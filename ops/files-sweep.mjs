/**
 * Remove uploads that a crashed node left half-written under `<dataDir>/files`.
 *
 * workerd's `disk` service writes a PUT into a temporary file beside its
 * target, `.kj-tmp.<workerd pid>.<n>.<name>.partial`, and renames it when the
 * body has ended (kj's `Directory::replaceFile`). Only a dead process leaves
 * one behind: in a running node the temporary is owned by an object whose
 * destructor deletes it unless the rename happened, and that destructor runs
 * on every other way out — the client aborting, the Worker erroring the body
 * (too large, malformed form), the Worker's request being cancelled, a disk
 * error (workerd `server.c++` DiskDirectoryService PUT; capnproto
 * `filesystem-disk-unix.c++` ReplacerImpl). Measured on a real node: aborting
 * uploads from Node clients (http with Content-Length, chunked, a streaming
 * fetch aborted half-way) left no partial; `kill -9` mid-upload left one of
 * the bytes received so far (test/e2e/files-crash.test.ts). So the sweep runs
 * at start-up, before workerd does, and no alarm is needed while it runs. (The
 * disk service's listing hides dot-files, so the Worker could not see them anyway.)
 *
 * @example
 *   const { removed, bytes } = sweepPartialUploads(path.join(dataDir, "files"));
 */
import fs from "node:fs";
import path from "node:path";

/** kj's temporary names: `.kj-tmp.<pid>.<counter>.<final name>.partial`. */
const PARTIAL_RE = /^\.kj-tmp\.(\d+)\.\d+\..*\.partial$/;

/**
 * Delete every leftover partial upload under `filesDir` (recursively), except
 * those whose writer is still running: a second workerd on the same data
 * directory (a mistake, but not one that should cost someone's upload in
 * progress). A writer is "still running" when its pid is alive and, where
 * /proc exists, that process is a workerd (a pid reused by another program
 * after a reboot does not keep a leftover forever).
 *
 * @param {string} filesDir
 * @returns {{ removed: string[], bytes: number }} paths removed, and their total size
 */
export function sweepPartialUploads(filesDir) {
  /** @type {string[]} */
  const removed = [];
  let bytes = 0;
  /** @param {string} dir */
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (errorCode(err) === "ENOENT") return;
      throw err;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const m = PARTIAL_RE.exec(entry.name);
      if (m) {
        if (writerAlive(Number(m[1]))) continue;
        try {
          bytes += entry.isFile() ? fs.statSync(full).size : 0;
          fs.rmSync(full, { recursive: true, force: true });
          removed.push(full);
        } catch (err) {
          if (errorCode(err) !== "ENOENT") throw err;
        }
      } else if (entry.isDirectory()) {
        walk(full);
      }
    }
  };
  walk(filesDir);
  return { removed, bytes };
}

/** @param {number} pid */
function writerAlive(pid) {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errorCode(err) !== "EPERM") return false; // ESRCH: no such process
  }
  try {
    return /workerd/.test(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  } catch {
    return !fs.existsSync("/proc/self"); // no /proc here (macOS): alive is all we can tell
  }
}

/** @param {unknown} err */
function errorCode(err) {
  return /** @type {{ code?: string } | null} */ (err)?.code;
}
