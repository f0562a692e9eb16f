/**
 * When an incremental backup may take a database over from the previous backup
 * unread (ops/sqlite-snapshot.mjs `stampOf` / `unchangedSince`): only when its
 * file and -wal are as they were, and were already quiet when they were stamped.
 * Real SQLite files in WAL mode; times moved with utimes instead of waiting.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { stampOf, unchangedSince } from "../ops/sqlite-snapshot.mjs";

let dir: string;
let file: string;

/** Move a file's mtime `seconds` into the past. */
const age = (f: string, seconds: number) => {
  const t = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(f, t, t);
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-stamps-"));
  file = path.join(dir, "room.sqlite");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE m (seq INTEGER PRIMARY KEY, text TEXT); INSERT INTO m (text) VALUES ('one')");
  db.close(); // the last connection checkpoints and deletes the -wal
  age(file, 60);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("incremental backup stamps", () => {
  it("a quiet database with nothing changed is taken over", () => {
    const before = stampOf(file, { wal: true });
    expect(unchangedSince(before, stampOf(file, { wal: true }))).toBe(true);
  });

  it("an empty -wal appearing (workerd or a reader reopening the file) is no change", () => {
    const before = stampOf(file, { wal: true });
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    fs.writeFileSync(`${file}-wal`, "");
    expect(unchangedSince(before, stampOf(file, { wal: true }))).toBe(true);
  });

  it("a commit is a change, even one that only appends to the -wal", () => {
    const before = stampOf(file, { wal: true });
    const db = new Database(file);
    db.prepare("INSERT INTO m (text) VALUES ('two')").run();
    // Keep the -wal: a closing last connection would checkpoint it into the file.
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(0);
    expect(unchangedSince(before, stampOf(file, { wal: true }))).toBe(false);
    db.close();
  });

  it("a stamp taken right after a write is not trusted, even when nothing changed since", () => {
    age(file, 0.5);
    const racy = stampOf(file, { wal: true });
    expect(unchangedSince(racy, stampOf(file, { wal: true }))).toBe(false);
    age(file, 3);
    const settled = stampOf(file, { wal: true });
    expect(unchangedSince(settled, stampOf(file, { wal: true }))).toBe(true);
  });
});
