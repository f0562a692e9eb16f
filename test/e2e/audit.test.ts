/**
 * The audit trail on a real node: actions become records an admin lists
 * through GET /api/v1/admin/audit (filters, paging); `npm run audit -- verify`
 * passes on the running and on the stopped node; and on copies of the stopped
 * node's data folder, one tampering each — a row altered, deleted, two rows
 * swapped, the chain's last records cut off, the checkpoint altered — is found,
 * named by object and position, with exit code 1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { withNode, type TestNode } from "../fixtures";
import { api, type TestUser } from "./client";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";
import type { AuditPage } from "../../protocol/audit";
import type { Room } from "../../protocol/models";

const repo = path.resolve(import.meta.dirname, "../..");
let t: TestNode;
let scratch: string;
let ann: TestUser;
let bob: TestUser;
let room: Room;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** An ops command as an operator runs it: the node found through OUTPOST_DATA. */
function ops(script: "audit" | "backup" | "restore", args: string[], dataDir?: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OUTPOST_CONFIG;
  delete env.OUTPOST_NODE;
  if (dataDir) env.OUTPOST_DATA = dataDir;
  else delete env.OUTPOST_DATA;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repo, "ops", `${script}.mjs`), ...args], { env, cwd: repo }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `npm run audit -- verify`. */
const verify = (dataDir: string) => ops("audit", ["verify"], dataDir);

const list = (query: string, token = t.admin, url = t.node.url) => api<AuditPage>(url, "GET", `/api/v1/admin/audit${query}`, { token });

async function eventually<T>(fn: () => Promise<T>, pred: (v: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (pred(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const roomFileIn = (dataDir: string) => path.join(dataDir, "objects", uniqueKeyFor("RoomObject"), `${objectIdFromName(uniqueKeyFor("RoomObject"), room.id)}.sqlite`);
const roomObject = () => `RoomObject:${objectIdFromName(uniqueKeyFor("RoomObject"), room.id)}`;
const directoryFileIn = (dataDir: string) => path.join(dataDir, "objects", uniqueKeyFor("DirectoryObject"), `${objectIdFromName(uniqueKeyFor("DirectoryObject"), "directory")}.sqlite`);

/** A copy of the stopped node's data folder with `tamper` applied to one of its files. */
function tampered(name: string, file: (dataDir: string) => string, tamper: (db: Database.Database) => void): string {
  const copy = path.join(scratch, name);
  fs.cpSync(t.node.dataDir, copy, { recursive: true });
  const db = new Database(file(copy));
  try {
    tamper(db);
  } finally {
    db.close();
  }
  return copy;
}

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-audit-"));
  t = await withNode({ keepData: true });
  ann = await t.user("ann");
  bob = await t.user("bob");
  room = await t.room(ann.token, "Ledger", []);
  expect((await api(t.node.url, "PATCH", `/api/v1/rooms/${room.id}`, { token: ann.token, body: { name: "Ledger 2" } })).status).toBe(200);
  expect((await api(t.node.url, "POST", `/api/v1/rooms/${room.id}/members`, { token: ann.token, body: { userId: bob.id } })).status).toBe(200);
  expect((await api(t.node.url, "PATCH", `/api/v1/rooms/${room.id}`, { token: ann.token, body: { name: "Ledger 3" } })).status).toBe(200);
  expect((await api(t.node.url, "DELETE", `/api/v1/rooms/${room.id}/members/${bob.id}`, { token: ann.token })).status).toBe(200);
  expect((await api(t.node.url, "POST", "/api/v1/auth/login", { body: { username: "ann", password: "not her password" } })).status).toBe(401);
}, 90_000);

afterAll(async () => {
  await t?.stop();
  if (t) fs.rmSync(t.node.dataDir, { recursive: true, force: true });
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("the trail through the API", () => {
  it("lists the room's records with their actors, newest first", async () => {
    const r = await eventually(() => list(`?room=${room.id}`), (r) => r.body.records?.length === 5);
    expect(r.status).toBe(200);
    expect(r.body.records.map((x) => [x.action, x.actor])).toEqual([
      ["member.removed", ann.id],
      ["room.renamed", ann.id],
      ["member.added", ann.id],
      ["room.renamed", ann.id],
      ["room.created", ann.id],
    ]);
    expect(r.body.records.map((x) => x.seq)).toEqual([5, 4, 3, 2, 1]);
  });

  it("filters by user (actor or acted on), action and time, and pages", async () => {
    const byBob = await list(`?user=${bob.id}`);
    expect(new Set(byBob.body.records.map((x) => x.action))).toEqual(new Set(["user.created", "auth.signin", "member.added", "member.removed"]));
    const failed = await list(`?user=${ann.id}&action=auth.signin_failed`);
    expect(failed.body.records).toHaveLength(1);
    expect(failed.body.records[0]).toMatchObject({ actor: "anonymous", userId: ann.id });
    expect(JSON.parse(failed.body.records[0].detail)).toMatchObject({ username: "ann" });
    const renames = await list(`?action=room.renamed&room=${room.id}`);
    expect(renames.body.records.map((x) => JSON.parse(x.detail).to)).toEqual(["Ledger 3", "Ledger 2"]);
    const newest = renames.body.records[0].at;
    expect((await list(`?room=${room.id}&from=${newest}`)).body.records.every((x) => x.at >= newest)).toBe(true);
    const first = await list(`?room=${room.id}&limit=3`);
    const rest = await list(`?room=${room.id}&limit=3&cursor=${first.body.nextCursor}`);
    expect([...first.body.records, ...rest.body.records].map((x) => x.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(rest.body.nextCursor).toBeNull();
  });

  it("records the node's configuration at its first start (and each change at a later start)", async () => {
    const r = await list("?action=config.changed");
    expect(r.body.records).toHaveLength(1);
    expect(r.body.records[0].actor).toBe("system");
    expect(JSON.parse(r.body.records[0].detail)).toMatchObject({ first: true, changed: "version limits allowedOrigins cluster publicKey" });
  });

  it("is for admins only", async () => {
    const r = await list("", ann.token);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: { code: "forbidden" } });
  });
});

describe("backups and restores", () => {
  it("are recorded: a backup of the running node at once, a restore at the restored node's first start", async () => {
    const out = path.join(scratch, "backup");
    const backup = await ops("backup", ["--out", out], t.node.dataDir);
    expect(backup.code, backup.stderr).toBe(0);
    const listed = await list("?action=node.backup");
    expect(listed.body.records).toHaveLength(1);
    expect(listed.body.records[0]).toMatchObject({ actor: "system" });
    expect(JSON.parse(listed.body.records[0].detail)).toMatchObject({ out, incremental: false });
    // Read again: recorded once.
    expect((await list("?action=node.backup")).body.records).toHaveLength(1);

    const data = path.join(scratch, "restored");
    const restore = await ops("restore", ["--from", out, "--data", data]);
    expect(restore.code, restore.stderr).toBe(0);
    const restored = await withNode({ dataDir: data, name: t.node.name });
    try {
      const r = await eventually(() => list("?action=node.restore", restored.admin, restored.node.url), (x) => x.body.records?.length === 1);
      expect(JSON.parse(r.body.records[0].detail)).toMatchObject({ from: out });
      // The restored node's trail is intact too (the backup's chains, plus its own records).
      const v = await ops("audit", ["verify"], data);
      expect(v.stdout).toContain("intact");
    } finally {
      await restored.stop();
    }
  }, 90_000);
});

describe("npm run audit -- verify", () => {
  it("passes on the running node and on the stopped node", async () => {
    const running = await verify(t.node.dataDir);
    expect(running.stdout).toContain("intact");
    expect(running.code).toBe(0);
    await t.node.stop();
    const stopped = await verify(t.node.dataDir);
    expect(stopped.stdout).toMatch(/\d+ chains, \d+ records; checkpoint \d+ of .* holds \d+ chain heads, signed/);
    expect(stopped.stdout).toContain("intact");
    expect(stopped.code).toBe(0);
  }, 30_000);

  it.each([
    ["an altered row", (db: Database.Database) => db.prepare("UPDATE audit_log SET detail = ? WHERE seq = 3").run('{"role":"owner","joined":false}'), 3, /altered/],
    ["a deleted row", (db: Database.Database) => db.prepare("DELETE FROM audit_log WHERE seq = 2").run(), 2, /missing/],
    [
      "two rows swapped",
      (db: Database.Database) => {
        db.prepare("UPDATE audit_log SET seq = -1 WHERE seq = 2").run();
        db.prepare("UPDATE audit_log SET seq = 2 WHERE seq = 3").run();
        db.prepare("UPDATE audit_log SET seq = 3 WHERE seq = -1").run();
      },
      2,
      /link to the record before/,
    ],
    ["the last records cut off", (db: Database.Database) => db.prepare("DELETE FROM audit_log WHERE seq >= 4").run(), 5, /cut off/],
  ])("finds %s in a room's chain, with the room and the position", async (name, tamper, position, why) => {
    const dir = tampered(name.replace(/\W+/g, "-"), roomFileIn, tamper);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    const line = r.stdout.split("\n").find((l) => l.startsWith("BROKEN"))!;
    expect(line).toContain(`${roomObject()} (${room.id}) at position ${position}`);
    expect(line).toMatch(why);
  });

  it("finds an altered checkpoint (its signature no longer holds)", async () => {
    const dir = tampered("checkpoint", directoryFileIn, (db) => {
      const row = db.prepare("SELECT value FROM settings WHERE key = 'audit_checkpoint'").get() as { value: string };
      const cp = JSON.parse(row.value) as { heads: { object: string; seq: number }[] };
      for (const h of cp.heads) if (h.object === roomObject()) h.seq = 3; // to hide a cut-off chain
      db.prepare("UPDATE settings SET value = ? WHERE key = 'audit_checkpoint'").run(JSON.stringify(cp));
    });
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/BROKEN DirectoryObject:[0-9a-f]{64} \(directory\): the checkpoint's signature does not match/);
  });
});
