/**
 * The audit trail drops nothing: under concurrent load, and while the node's
 * disk is full, every action that succeeded has exactly one record in its
 * object's chain, and every action whose record could not be written was
 * refused (503 storage_error) and left nothing behind. Counted from the
 * chains in the SQLite files themselves after the node stops, and the trail
 * then passes `npm run audit -- verify`. Figures for docs/RELIABILITY.md.
 *
 * Needs root for `mount -t tmpfs` (as test/faults/disk-full.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import path from "node:path";
import { withNode, type TestNode } from "../fixtures";
import { api } from "../e2e/client";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";
import { recordFigures } from "../figures";
import { fillDisk, mountSmallDisk, unmountSmallDisk } from "./small-disk";

const repo = path.resolve(import.meta.dirname, "../..");
let mnt: string;
let t: TestNode;

beforeAll(async () => {
  mnt = mountSmallDisk("outpost-auditfull-", "64m");
  t = await withNode({ dataDir: mnt });
}, 60_000);

afterAll(async () => {
  await t?.stop();
  unmountSmallDisk(mnt);
});

/** A rename of `room` to a fresh name: "ok", or the error code it was refused with. */
async function rename(room: string, name: string): Promise<string> {
  const r = await api(t.node.url, "PATCH", `/api/v1/rooms/${room}`, { token: t.admin, body: { name } });
  return r.status === 200 ? "ok" : `${r.status} ${r.body?.error?.code ?? r.text.slice(0, 40)}`;
}

/** Run `jobs` with at most `width` in flight. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

describe("audit records under load and disk full", () => {
  it("every successful action is recorded once; every action that could not be recorded was refused", async () => {
    const rooms: string[] = [];
    for (const name of ["load-a", "load-b", "load-c"]) rooms.push((await api(t.node.url, "POST", "/api/v1/rooms", { token: t.admin, body: { name, visibility: "private" } })).body.id as string);
    const ok = new Map(rooms.map((r) => [r, 0]));
    const refused: Record<string, number> = {};
    const tally = (room: string, result: string) => {
      if (result === "ok") ok.set(room, ok.get(room)! + 1);
      else refused[result] = (refused[result] ?? 0) + 1;
    };

    // Load: 300 renames over three rooms, 24 in flight.
    let n = 0;
    const loadJobs = Array.from({ length: 300 }, (_, i) => async () => {
      const room = rooms[i % 3];
      tally(room, await rename(room, `load ${n++}`));
    });
    const started = Date.now();
    await pool(loadJobs, 24);
    const loadSeconds = (Date.now() - started) / 1000;
    const loadOk = [...ok.values()].reduce((a, b) => a + b, 0);
    expect(refused, "refused under load").toEqual({});
    expect(loadOk).toBe(300);

    // Disk full: fill the tmpfs, then keep renaming (with names long enough to need new pages).
    const free = fillDisk(mnt);
    const fullJobs = Array.from({ length: 120 }, (_, i) => async () => {
      const room = rooms[i % 3];
      tally(room, await rename(room, `full ${n++} ${"名".repeat(60)}`));
    });
    await pool(fullJobs, 6);
    free();
    const refusedTotal = Object.values(refused).reduce((a, b) => a + b, 0);
    expect(refusedTotal).toBeGreaterThan(0);
    // Refused with the clear error, never a half-done 200 or an opaque 500.
    expect(Object.keys(refused)).toEqual(["503 storage_error"]);
    // Space again: the same node carries on.
    expect(await rename(rooms[0], "after")).toBe("ok");
    ok.set(rooms[0], ok.get(rooms[0])! + 1);

    // The chains on disk, read after the node stops.
    await t.node.stop();
    let recorded = 0;
    for (const room of rooms) {
      const file = path.join(mnt, "objects", uniqueKeyFor("RoomObject"), `${objectIdFromName(uniqueKeyFor("RoomObject"), room)}.sqlite`);
      const db = new Database(file, { readonly: true });
      const renames = (db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'room.renamed'").get() as { n: number }).n;
      const name = (db.prepare("SELECT value FROM meta WHERE key = 'name'").get() as { value: string } | undefined)?.value;
      db.close();
      expect(renames, room).toBe(ok.get(room));
      recorded += renames;
      if (name !== undefined) expect(name.startsWith("full") || name.startsWith("load") || name === "after").toBe(true);
    }
    const succeeded = [...ok.values()].reduce((a, b) => a + b, 0);
    const verify = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, [path.join(repo, "ops", "audit.mjs"), "verify"], { env: { ...process.env, OUTPOST_DATA: mnt, OUTPOST_CONFIG: "", OUTPOST_NODE: "" }, cwd: repo }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout }),
      ),
    );
    expect(verify.stdout).toContain("intact");
    expect(verify.code).toBe(0);

    recordFigures("audit", {
      "audit: actions under load (300 renames, 24 in flight)": `${loadOk} succeeded in ${loadSeconds.toFixed(1)} s, ${loadOk} recorded`,
      "audit: actions while the disk was full": `${succeeded - loadOk - 1} succeeded and recorded, ${refusedTotal} refused (503 storage_error)`,
      "audit: records dropped under load and during disk-full": `${succeeded - recorded} (actions refused instead)`,
    });
    expect(succeeded - recorded).toBe(0);
  }, 180_000);
});
