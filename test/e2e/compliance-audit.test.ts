/**
 * The compliance actions' audit records on a real node: retention changes,
 * legal holds, exports, an erasure and a retention purge each leave their
 * record in the listing, `npm run audit -- verify` still finds every chain
 * intact and covered by the signed checkpoint (running and stopped), and
 * GET /metrics carries the checkpoint's age. (Each record's detail and the
 * fail-closed behaviour are checked in test/workers/compliance-audit.test.ts.)
 *
 * Aging for the purge: the node is stopped, the room's messages are moved
 * back five days in its SQLite file (what time would have done), and the node
 * is started again on the same data folder.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { withNode, type TestNode } from "../fixtures";
import { api, type TestUser } from "./client";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";
import type { AuditPage } from "../../protocol/audit";
import type { Room } from "../../protocol/models";

const repo = path.resolve(import.meta.dirname, "../..");
let t: TestNode;
let dataDir: string;
let ann: TestUser;
let bob: TestUser;
let room: Room;

/** `npm run audit -- verify` as an operator runs it, the node found through OUTPOST_DATA. */
function verify(): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, OUTPOST_DATA: dataDir };
  delete env.OUTPOST_CONFIG;
  delete env.OUTPOST_NODE;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repo, "ops", "audit.mjs"), "verify"], { env, cwd: repo }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function listed(query: string, n = 1): Promise<AuditPage["records"]> {
  const until = Date.now() + 10_000;
  for (;;) {
    const r = await api<AuditPage>(t.node.url, "GET", `/api/v1/admin/audit?${query}`, { token: t.admin });
    expect(r.status).toBe(200);
    if (r.body.records.length >= n || Date.now() > until) return r.body.records;
    await new Promise((res) => setTimeout(res, 50));
  }
}

const ok = async (status: number, ...args: Parameters<typeof api>) => {
  const r = await api(...args);
  expect(r.status, `${args[1]} ${args[2]}: ${JSON.stringify(r.body)}`).toBe(status);
  return r.body;
};

beforeAll(async () => {
  t = await withNode({ keepData: true });
  dataDir = t.node.dataDir;
  ann = await t.user("ann");
  bob = await t.user("bob");
  room = await t.room(ann.token, "Records", [bob.id]);
  for (const [who, text] of [
    [ann, "first"],
    [bob, "second"],
    [ann, "third"],
  ] as const) {
    await ok(201, t.node.url, "POST", `/api/v1/rooms/${room.id}/messages`, { token: who.token, body: { clientId: `c-${text}`, text } });
  }
}, 90_000);

afterAll(async () => {
  await t?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("compliance actions on a real node", () => {
  it("each leaves its record; the chains stay intact and signed (verify on the running node); /metrics has the checkpoint's age", async () => {
    const url = t.node.url;
    const token = t.admin;
    await ok(200, url, "PUT", "/api/v1/admin/retention", { token, body: { defaultDays: 3650 } });
    await ok(200, url, "PUT", "/api/v1/admin/retention", { token, body: { defaultDays: null } });
    await ok(200, url, "PUT", `/api/v1/admin/rooms/${room.id}/retention`, { token, body: { days: 30 } });
    const hold = await ok(201, url, "POST", "/api/v1/admin/holds", { token, body: { roomId: room.id, reason: "case 1" } });
    await ok(200, url, "DELETE", `/api/v1/admin/holds/${hold.id}`, { token });
    const zip = await fetch(`${url}/api/v1/admin/export?room=${room.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(zip.status).toBe(200);
    await zip.arrayBuffer();
    const csv = await fetch(`${url}/api/v1/admin/export?user=${bob.id}&format=csv`, { headers: { authorization: `Bearer ${token}` } });
    expect(csv.status).toBe(200);
    await csv.arrayBuffer();
    await ok(200, url, "POST", `/api/v1/admin/users/${bob.id}/erase`, { token });

    const expected: [string, number][] = [
      ["retention.changed", 3],
      ["hold.placed", 1],
      ["hold.released", 1],
      ["export.room", 1],
      ["export.user", 1],
      // the directory's start, and the room (bob's message and member row)
      ["erasure.user", 2],
    ];
    for (const [action, n] of expected) expect((await listed(`action=${action}`, n)).length, action).toBe(n);

    const v = await verify();
    expect(v.stdout, v.stderr).toContain("intact");
    expect(v.code).toBe(0);

    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const line = (await metrics.text()).split("\n").find((l) => l.startsWith("outpost_audit_head_age_seconds "));
    expect(line).toBeDefined();
    expect(Number(line!.split(" ")[1])).toBeLessThan(60);
  }, 60_000);

  it("a retention purge after a restart leaves one retention.purged record; verify passes on the stopped node", async () => {
    await t.node.stop();
    const key = uniqueKeyFor("RoomObject");
    const db = new Database(path.join(dataDir, "objects", key, `${objectIdFromName(key, room.id)}.sqlite`));
    try {
      db.prepare("UPDATE messages SET created_at = created_at - ?").run(5 * 24 * 60 * 60 * 1000);
    } finally {
      db.close();
    }
    t = await withNode({ dataDir, name: t.node.name, keepData: true });
    await ok(200, t.node.url, "PUT", `/api/v1/admin/rooms/${room.id}/retention`, { token: t.admin, body: { days: 1 } });
    const [purged] = await listed(`action=retention.purged&room=${room.id}`);
    expect(purged).toMatchObject({ actor: "system", roomId: room.id });
    expect(JSON.parse(purged.detail)).toMatchObject({ count: 3, throughSeq: 3 });
    await t.node.stop();
    const v = await verify();
    expect(v.stdout, v.stderr).toMatch(/checkpoint \d+ of .* holds \d+ chain heads, signed/);
    expect(v.stdout).toContain("intact");
    expect(v.code).toBe(0);
  }, 90_000);
});
