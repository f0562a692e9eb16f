/**
 * Made-up ids, the way an attacker sends them, against a real `workerd serve`:
 * room ids in every room route, file ids, user ids in admin routes and
 * presence, tokens naming random users, room socket upgrades, and device
 * socket frames naming rooms and users that do not exist (or live on another
 * node). workerd creates an object's SQLite file (+ WAL + SHM, three open
 * handles) the moment a stub for a new name is used, so each of these used to
 * leave files behind and hold handles; an outside probe ran a node with
 * `ulimit -n 1024` out of handles with 400 GETs. Now: no new file, handles
 * back to where they were, and the node keeps serving under that ulimit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { randomKey } from "../../protocol/ids";
import type { OutpostNode } from "../harness";
import { api, deviceWs, isReplyTo, makeUser, ok, roomWs, type TestUser } from "../e2e/client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";

let node: OutpostNode;
let admin: string;
let alice: TestUser;
let realRoom: string;

/** Every file under the node's data folder (objects and files), recursively. */
function dataFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== ".workerd") walk(p);
      } else out.push(path.relative(node.dataDir, p));
    }
  };
  walk(node.dataDir);
  return out.sort();
}

function openHandles(): { all: number; sqlite: number } {
  const pid = node.pid()!;
  let all = 0;
  let sqlite = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    all++;
    try {
      if (/\.sqlite(-wal|-shm)?$/.test(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) sqlite++;
    } catch {
      // closed meanwhile
    }
  }
  return { all, sqlite };
}

const forgedRoom = (node = "local") => `r_${randomKey()}@${node}`;
const forgedUser = (node = "local") => `u_${randomKey()}@${node}`;
const forgedToken = () => `op1.${Buffer.from(forgedUser()).toString("base64url")}.${randomKey(43)}`;

/** One forged request of kind `i % 12`: REST, upgrades and tokens. */
async function forge(i: number): Promise<number> {
  const room = forgedRoom(i % 24 === 5 ? "othernode" : "local");
  const t = alice.token;
  switch (i % 12) {
    case 0:
      return (await api(node.url, "GET", `/api/v1/rooms/${room}`, { token: t })).status;
    case 1:
      return (await api(node.url, "GET", `/api/v1/rooms/${room}/messages`, { token: t })).status;
    case 2:
      return (await api(node.url, "POST", `/api/v1/rooms/${room}/messages`, { token: t, body: { clientId: `c${i}`, text: "hi" } })).status;
    case 3:
      return (await api(node.url, "POST", `/api/v1/rooms/${room}/join`, { token: t })).status;
    case 4:
      return (await api(node.url, "POST", `/api/v1/rooms/${room}/read`, { token: t, body: { seq: 1 } })).status;
    case 5:
      return (await api(node.url, "GET", `/api/v1/files/f_${randomKey()}.${room.slice(2, 18)}@local`, { token: t })).status;
    case 6:
      return (await api(node.url, "GET", `/api/v1/search?q=hello&room=${encodeURIComponent(room)}`, { token: t })).status;
    case 7: {
      // Presence answers for the ids it knows: none of these.
      const r = await api(node.url, "GET", `/api/v1/presence?ids=${forgedUser()},${forgedUser()}`, { token: t });
      return r.status === 200 && r.body.presence.length === 0 ? 404 : r.status;
    }
    case 8:
      // Every other time: a made-up person's avatar (it reads the directory, never a user object or a file).
      if (i % 24 === 20) return (await api(node.url, "GET", `/api/v1/users/${forgedUser()}/avatar`, { token: t })).status;
      return (await api(node.url, "GET", `/api/v1/users/${forgedUser()}/sessions`, { token: admin })).status;
    case 9:
      return (await api(node.url, "GET", "/api/v1/me", { token: forgedToken() })).status;
    case 10:
      return roomWs(`${node.wsUrl}/api/v1/rooms/${room}/socket`, t).then(
        async (ws) => {
          await ws.close();
          return 101;
        },
        (err: { status?: number }) => err.status ?? 0,
      );
    default:
      return deviceWs(`${node.wsUrl}/api/v1/socket`, forgedToken()).then(
        async (ws) => {
          await ws.close();
          return 101;
        },
        (err: { status?: number }) => err.status ?? 0,
      );
  }
}

/** Device-socket frames naming made-up rooms and users (the Worker never sees these ids). */
async function forgeFrames(n: number): Promise<void> {
  const ws = await deviceWs(`${node.wsUrl}/api/v1/socket`, alice.token);
  await ws.next("inbox.hello");
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) ws.send({ type: "read", roomId: forgedRoom(i % 4 === 0 ? "othernode" : "local"), seq: 1, reqId: `r${i}` });
    else ws.send({ type: "presence.watch", userIds: [forgedUser(), forgedUser("othernode")], reqId: `r${i}` });
  }
  for (let i = 0; i < n; i++) await ws.next(isReplyTo(`r${i}`), 20_000);
  await ws.close();
}

async function inBatches(n: number, width: number, fn: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += width) out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, k) => fn(i + k)))));
  return out;
}

/** Wait until the node's handles settle back (closed sockets linger in workerd for a few seconds). */
async function settledHandles(baseline: number): Promise<{ all: number; sqlite: number }> {
  let h = openHandles();
  for (let i = 0; i < 40 && h.all > baseline; i++) {
    await new Promise((r) => setTimeout(r, 500));
    h = openHandles();
  }
  return h;
}

beforeAll(async () => {
  const t = await withNode();
  ({ node, admin } = t);
  alice = await t.user("alice");
  realRoom = (await ok(201, node.url, "POST", "/api/v1/rooms", { token: alice.token, body: { name: "Real", visibility: "private" } })).id;
  await ok(201, node.url, "POST", `/api/v1/rooms/${realRoom}/messages`, { token: alice.token, body: { clientId: "first", text: "hello" } });
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("forged ids", () => {
  it("1,000 forged ids over REST, upgrades, tokens and device frames create no file and keep no handle", async () => {
    // Warm up every path once with real ids, so the baseline includes what real use opens.
    await ok(200, node.url, "GET", `/api/v1/rooms/${realRoom}/messages`, { token: alice.token });
    await forgeFrames(2);
    const filesBefore = dataFiles();
    const handlesBefore = await settledHandles(Infinity);

    const statuses = await inBatches(800, 20, forge);
    await forgeFrames(200);

    // Every forged REST id is "not found" (or "unauthorized" for a forged token): never 5xx.
    const counts = statuses.reduce<Record<number, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {});
    expect(Object.keys(counts).map(Number).every((s) => s === 404 || s === 401), JSON.stringify(counts)).toBe(true);

    const filesAfter = dataFiles();
    const handlesAfter = await settledHandles(handlesBefore.all);
    recordFigures("forged-ids", {
      "forged ids sent (REST, upgrades, tokens, device frames)": 1000,
      "new files in the data folder": filesAfter.length - filesBefore.length,
      "open SQLite handles before / after": `${handlesBefore.sqlite} / ${handlesAfter.sqlite}`,
      "open handles before / after": `${handlesBefore.all} / ${handlesAfter.all}`,
    });
    expect(filesAfter).toEqual(filesBefore);
    expect(handlesAfter.sqlite).toBe(handlesBefore.sqlite);
    expect(handlesAfter.all).toBeLessThanOrEqual(handlesBefore.all);
  }, 300_000);

  it("keeps serving everyone else under ulimit -n 1024 while forged ids pour in", async () => {
    execFileSync("prlimit", [`--pid=${node.pid()}`, "--nofile=1024:1024"]);
    const bob = await makeUser(node.url, admin, "bob");
    const statuses = await inBatches(1000, 25, forge);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    // Another user's ordinary work still succeeds: a new room, a message, a read of it.
    const room = await ok(201, node.url, "POST", "/api/v1/rooms", { token: bob.token, body: { name: "After the flood", visibility: "private" } });
    await ok(201, node.url, "POST", `/api/v1/rooms/${room.id}/messages`, { token: bob.token, body: { clientId: "after", text: "still here" } });
    const history = await ok(200, node.url, "GET", `/api/v1/rooms/${room.id}/messages`, { token: bob.token });
    expect(history.messages.map((m: { text: string }) => m.text)).toEqual(["still here"]);
    recordFigures("forged-ids", { "ordinary requests refused under ulimit -n 1024 after 1,000 more forged ids": 0 });
  }, 300_000);
});
