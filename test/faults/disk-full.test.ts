/**
 * Disk full: the node's data directory on a small tmpfs. While it is full,
 * sends get an explicit failure (REST 503 storage_error; a socket whose room
 * could not commit is dropped) and never an ack; nothing acknowledged is lost;
 * every SQLite file passes `PRAGMA integrity_check`; and when space is freed
 * the node carries on without a restart, with no gap in any room's seq.
 *
 * Needs root for `mount -t tmpfs` (CI and the dev machines run as root).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import path from "node:path";
import type { OutpostNode } from "../harness";
import { roomWs, type RoomWs } from "../e2e/client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";
import { sqliteFiles } from "../sqlite-files";
import { fillDisk, mountSmallDisk, unmountSmallDisk } from "./small-disk";

let mnt: string;
let node: OutpostNode;
let admin: string;

async function api(method: string, p: string, token: string, body?: unknown) {
  const r = await fetch(node.url + p, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
}

/** Send one message and wait for its ack; "failed" if an error frame or a dropped socket came instead. */
async function sendOnce(ws: RoomWs, clientId: string, text: string): Promise<"acked" | "failed"> {
  ws.send({ type: "msg.send", clientId, text });
  try {
    const f = await ws.next((f) => (f.type === "msg.ack" && f.clientId === clientId) || (f.type === "error" && f.replyTo === clientId), 5000);
    return f.type === "msg.ack" ? "acked" : "failed";
  } catch {
    return "failed";
  }
}

beforeAll(async () => {
  mnt = mountSmallDisk("outpost-diskfull-", "12m");
  ({ node, admin } = await withNode({ dataDir: mnt }));
}, 60_000);

afterAll(async () => {
  await node?.stop();
  unmountSmallDisk(mnt);
});

describe("disk full", () => {
  it("refuses writes without acking them, loses nothing, stays consistent, recovers without a restart", async () => {
    const rooms: string[] = [];
    for (const name of ["full-a", "full-b"]) rooms.push((await api("POST", "/api/v1/rooms", admin, { name, visibility: "private" })).body.id as string);
    const acked = new Map<string, Set<string>>(rooms.map((r) => [r, new Set()]));
    const pending = new Map<string, string[]>(rooms.map((r) => [r, []]));
    let sockets = await Promise.all(rooms.map((r) => roomWs(`${node.wsUrl}/api/v1/rooms/${r}/socket`, admin)));
    await Promise.all(sockets.map((s) => s.next("hello")));

    let n = 0;
    const round = async (label: string, count: number) => {
      const results = { acked: 0, failed: 0 };
      for (let i = 0; i < count; i++) {
        for (const [k, roomId] of rooms.entries()) {
          const clientId = `${label}-${n++}`;
          const r = await sendOnce(sockets[k], clientId, `${label} message ${clientId} ` + "x".repeat(2000));
          if (r === "acked") acked.get(roomId)!.add(clientId);
          else pending.get(roomId)!.push(clientId);
          results[r]++;
          if (r === "failed" && sockets[k].ws.readyState !== 1) {
            sockets[k] = await roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, admin).catch(() => sockets[k]);
            await sockets[k].next("hello").catch(() => null);
          }
        }
      }
      return results;
    };

    const before = await round("before", 10);
    expect(before.failed).toBe(0);

    // Fill the disk.
    const free = fillDisk(mnt);

    const during = await round("during", 5);
    const rest = await api("POST", `/api/v1/rooms/${rooms[0]}/messages`, admin, { text: "y".repeat(4000), clientId: "rest-during" });
    expect(rest.status).toBe(503);
    expect(rest.body.error.code).toBe("storage_error");
    expect(during.failed).toBeGreaterThan(0);

    // Free the space: the same node carries on. Clients reconnect when their
    // socket was dropped (as the SDK does) and retry with the same clientId.
    free();
    const ensureOpen = async (k: number) => {
      if (sockets[k].ws.readyState === 1) return;
      sockets[k] = await roomWs(`${node.wsUrl}/api/v1/rooms/${rooms[k]}/socket`, admin);
      await sockets[k].next("hello");
    };
    let retried = 0;
    for (const [k, roomId] of rooms.entries()) {
      for (const clientId of pending.get(roomId)!) {
        let r: "acked" | "failed" = "failed";
        for (let attempt = 0; attempt < 3 && r !== "acked"; attempt++) {
          await ensureOpen(k);
          r = await sendOnce(sockets[k], clientId, "retried after space was freed");
        }
        expect(r).toBe("acked");
        acked.get(roomId)!.add(clientId);
        retried++;
      }
    }
    const after = await round("after", 5);
    expect(after.failed).toBe(0);

    // Every acked message is there exactly once, seq has no gap.
    let present = 0;
    let duplicated = 0;
    for (const roomId of rooms) {
      const hist = await api("GET", `/api/v1/rooms/${roomId}/messages?limit=100`, admin);
      const ids = hist.body.messages.map((m: { clientId: string }) => m.clientId);
      const seqs = hist.body.messages.map((m: { seq: number }) => m.seq);
      expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
      duplicated += ids.length - new Set(ids).size;
      for (const id of acked.get(roomId)!) expect(ids).toContain(id);
      present += ids.filter((id: string) => acked.get(roomId)!.has(id)).length;
    }
    expect(duplicated).toBe(0);

    // Integrity of every SQLite file, read with the node stopped.
    await node.kill9();
    const files = sqliteFiles(path.join(mnt, "objects"));
    expect(files.length).toBeGreaterThanOrEqual(3);
    let ok = 0;
    for (const f of files) {
      const db = new Database(f, { readonly: true, fileMustExist: true });
      try {
        if (db.pragma("integrity_check", { simple: true }) === "ok") ok++;
      } finally {
        db.close();
      }
    }
    expect(ok).toBe(files.length);
    await node.restart();

    const totalAcked = [...acked.values()].reduce((a, s) => a + s.size, 0);
    recordFigures("disk-full", {
      "acked before the disk filled": before.acked,
      "sends refused while full (no ack)": during.failed,
      "sends acked while full": during.acked,
      "REST send while full": `${rest.status} ${rest.body.error.code}`,
      "refused sends retried with the same clientId after space was freed": retried,
      "acked in total": totalAcked,
      "acked and present": present,
      duplicated,
      "SQLite files with integrity_check ok": `${ok}/${files.length}`,
      "node restarted to recover": "no",
    });
    expect(present).toBe(totalAcked);
  }, 180_000);
});
