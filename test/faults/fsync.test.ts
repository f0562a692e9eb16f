/**
 * Durability on disk, seen from the kernel: strace attached to the running
 * workerd records every fsync/fdatasync and every write to a socket. For each
 * acknowledged message, a sync of the room's database must come *before* the
 * bytes of its `msg.ack` leave the process: the ack means "on disk", not "in
 * the page cache". Also reports how many syncs one acknowledged message costs.
 *
 * Run by hand: `npx vitest run --config vitest.node.config.ts test/faults/fsync.test.ts`
 * (needs strace and ptrace permission; root here).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { OutpostNode } from "../harness";
import { roomWs } from "../e2e/client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";

let node: OutpostNode;
let admin: string;

beforeAll(async () => {
  ({ node, admin } = await withNode());
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

function attachStrace(pid: number, out: string): ChildProcess {
  const threads = fs.readdirSync(`/proc/${pid}/task`);
  const args = ["-f", "-tt", "-s", "120", "-e", "trace=fsync,fdatasync,write,writev,sendto,sendmsg", "-o", out];
  for (const t of threads) args.push("-p", t);
  return spawn("strace", args, { stdio: ["ignore", "ignore", "pipe"] });
}

describe("fsync per acknowledged message", () => {
  it("every msg.ack leaves after a sync of the database, about one sync per message", async () => {
    const room = (await (await fetch(`${node.url}/api/v1/rooms`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ name: "fsync", visibility: "private" }) })).json()) as { id: string };
    const ws = await roomWs(`${node.wsUrl}/api/v1/rooms/${room.id}/socket`, admin);
    await ws.next("hello");
    // Warm up (first writes create files, WAL, indexes).
    for (let i = 0; i < 3; i++) {
      ws.send({ type: "msg.send", clientId: `warm-${i}`, text: "warm up" });
      await ws.next("msg.ack", (f) => f.clientId === `warm-${i}`);
    }
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "outpost-strace-")), "trace.txt");
    const strace = attachStrace(node.pid()!, out);
    await new Promise((r) => setTimeout(r, 1000)); // strace has attached (it says nothing when it has)
    const N = 50;
    for (let i = 0; i < N; i++) {
      ws.send({ type: "msg.send", clientId: `m-${i}`, text: `durable message ${i}` });
      await ws.next("msg.ack", (f) => f.clientId === `m-${i}`);
    }
    await new Promise((r) => setTimeout(r, 300)); // the last syscalls reach strace's output
    strace.kill("SIGINT");
    await new Promise((r) => strace.once("exit", r));
    await ws.close();

    const lines = fs.readFileSync(out, "utf8").split("\n");
    let syncsSinceAck = 0;
    let totalSyncs = 0;
    let acksSeen = 0;
    let acksWithoutSync = 0;
    for (const line of lines) {
      if (/\b(fsync|fdatasync)\(/.test(line) && !/resumed>|unfinished/.test(line.split("(")[0])) {
        totalSyncs++;
        syncsSinceAck++;
      } else if (/(write|writev|sendto|sendmsg)\(/.test(line) && line.includes("msg.ack") && line.includes("\"m-")) {
        acksSeen++;
        if (syncsSinceAck === 0) acksWithoutSync++;
        syncsSinceAck = 0;
      }
    }
    recordFigures("fsync", {
      "acknowledged messages traced": acksSeen,
      "fsync/fdatasync calls": totalSyncs,
      "syncs per acknowledged message": Number((totalSyncs / Math.max(acksSeen, 1)).toFixed(2)),
      "acks sent before any sync of their write": acksWithoutSync,
    });
    expect(acksSeen).toBe(N);
    expect(acksWithoutSync).toBe(0);
    expect(totalSyncs).toBeGreaterThanOrEqual(N);
  }, 120_000);
});
