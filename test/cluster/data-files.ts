/**
 * What a node keeps on its disk, for tests that prove something never got
 * there (residency "home": no message text or file of such a room on another
 * node's disk), and for the e2e file tests that count what a node stores.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

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

/**
 * Every `<file>: <table>` of a node's SQLite files (objects included) with a
 * row holding `needle` in any column: what the node still keeps, read through
 * SQLite as the node sees it (its WAL included). Raw bytes are another matter:
 * SQLite leaves a deleted row's bytes in free pages and old WAL frames until
 * it reuses them, and workerd refuses `secure_delete`, `wal_checkpoint` and
 * `VACUUM` to objects, so a raw grep (filesContaining) cannot prove an erasure.
 */
export function rowsContaining(dataDir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const f of filesUnder(dataDir).filter((p) => p.endsWith(".sqlite"))) {
    const db = new Database(path.join(dataDir, f), { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      for (const { name } of tables) {
        const columns = (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[]).map((c) => c.name);
        if (columns.length === 0) continue;
        const where = columns.map((c) => `instr(CAST("${c.replace(/"/g, '""')}" AS TEXT), ?) > 0`).join(" OR ");
        const row = db.prepare(`SELECT 1 FROM "${name.replace(/"/g, '""')}" WHERE ${where} LIMIT 1`).get(...columns.map(() => needle));
        if (row) hits.push(`${f}: ${name}`);
      }
    } finally {
      db.close();
    }
  }
  return hits;
}
