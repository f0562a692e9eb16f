/**
 * What a node keeps on its disk, for tests that prove something never got
 * there (residency "home": no message text or file of such a room on another
 * node's disk).
 */
import fs from "node:fs";
import path from "node:path";

/** Every file under a node's data folder (objects, files, -wal and -shm included) that contains `needle`. */
export function filesContaining(dataDir: string, needle: Buffer): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (fs.readFileSync(p).includes(needle)) hits.push(path.relative(dataDir, p));
    }
  };
  walk(dataDir);
  return hits;
}

/** Every file under `dir` (relative paths), none when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}
