/**
 * Retention across nodes (issue 16, and issue 14's gap marker): a room homed
 * in Beijing with a member in Shanghai. Shanghai's copy follows the home's
 * retention — the copies of removed messages go and its history carries the
 * same marker — and a copy that was cut off while the home removed messages it
 * never received shows the marker instead of silently missing them.
 *
 * Messages are aged on the home's disk with the home stopped (as in
 * test/e2e/retention.test.ts): no clock switch in the product.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { rowsContaining } from "./data-files";
import type { Message } from "../../protocol/models";

const PASSWORD = "cluster operator passphrase";
const DAY = 86_400_000;
let cluster: TestCluster;
const admins: Record<string, string> = {};

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai"], { adminPassword: PASSWORD });
  for (const n of cluster.names) admins[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  for (const n of cluster?.names ?? []) fs.rmSync(cluster.nodes[n].dataDir, { recursive: true, force: true });
});

/** Move every message of the home's rooms back by `days`, with the home stopped. */
async function ageHome(days: number): Promise<void> {
  const home = cluster.nodes.beijing;
  await home.stop();
  for (const f of (fs.readdirSync(home.dataDir, { recursive: true }) as string[]).filter((f) => f.endsWith(".sqlite"))) {
    const db = new Database(path.join(home.dataDir, f));
    const isRoom = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages'").get() && db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'members'").get();
    if (isRoom) db.prepare("UPDATE messages SET created_at = created_at - ?").run(days * DAY);
    db.close();
  }
  await home.restart();
  admins.beijing = await loginAs(home.url, "admin", PASSWORD);
}

describe("retention on a room's copies", () => {
  it("Shanghai's copy drops what Beijing's policy removed, also what it never received while cut off, and shows the marker", async () => {
    const made = await callNode(cluster, "shanghai", admins.shanghai, "POST", "/users", { username: "xiaoli", password: "a long enough passphrase", displayName: "小李" });
    expect(made.status).toBe(201);
    const shaId = made.body.id as string;
    const shaToken = await loginAs(cluster.nodes.shanghai.url, "xiaoli", "a long enough passphrase");
    await eventually("Beijing knows 小李", async () => (await callNode(cluster, "beijing", admins.beijing, "GET", `/users/${shaId}`)).status === 200);
    const room = await callNode(cluster, "beijing", admins.beijing, "POST", "/rooms", { name: "合规", visibility: "private", members: [shaId] });
    expect(room.status).toBe(201);
    const roomId = room.body.id as string;
    const send = async (text: string) => {
      const r = await callNode(cluster, "beijing", admins.beijing, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text, clientId: text.replace(/\W/g, "-") });
      expect(r.status).toBe(201);
      return r.body as Message;
    };
    const copy = async () => (await callNode(cluster, "shanghai", shaToken, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`)).body as { messages: Message[]; retention?: { beforeSeq: number; before: number } };
    await send("first, received by Shanghai");
    await send("second, received by Shanghai");
    // One sent from Shanghai: its node keeps a record of the send (by the message's id, not its text).
    const fromShanghai = await callNode(cluster, "shanghai", shaToken, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text: "from Shanghai, to expire", clientId: "from-shanghai" });
    expect(fromShanghai.status).toBe(201);
    await eventually("Shanghai's copy has all three", async () => (await copy()).messages?.length === 3);

    // Cut off: Shanghai never receives the third before the home removes it.
    await cluster.cut("beijing", "shanghai");
    await send("third, never seen in Shanghai");
    await ageHome(3);
    const set = await callNode(cluster, "beijing", admins.beijing, "PUT", `/admin/rooms/${encodeURIComponent(roomId)}/retention`, { days: 1 });
    expect(set.status).toBe(200);
    await eventually("the home purged", async () => ((await callNode(cluster, "beijing", admins.beijing, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`)).body.messages as Message[]).length === 0);
    const fourth = await send("fourth, after the purge");
    // The copy still shows what it had while the link is down…
    expect((await copy()).messages.map((m) => m.seq)).toEqual([1, 2, 3]);

    await cluster.heal("beijing", "shanghai");
    const after = await eventually("Shanghai follows the home", async () => {
      const p = await copy();
      return p.messages?.length === 1 && p.messages[0].id === fourth.id && p.retention ? p : null;
    }, 20_000);
    // …and then the same marker as the home: seqs 1–4 were removed, 4 never arrived.
    expect(after.retention).toMatchObject({ beforeSeq: 5 });
    const home = (await callNode(cluster, "beijing", admins.beijing, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`)).body;
    expect(after.retention).toEqual(home.retention);
    // No row on Shanghai keeps the removed message's text: not the copy, not the record of its send.
    expect(rowsContaining(cluster.nodes.shanghai.dataDir, "from Shanghai, to expire")).toEqual([]);
    // A late repeat of that send is not answered from the record with the removed message: it goes home again.
    const repeat = await callNode(cluster, "shanghai", shaToken, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text: "from Shanghai, to expire", clientId: "from-shanghai" });
    expect([repeat.status, repeat.body.id === fromShanghai.body.id]).toEqual([201, false]);
  }, 120_000);

  it("an erasure in Beijing reaches Shanghai: the directory's placeholder and the copy's tombstones", async () => {
    const made = await callNode(cluster, "beijing", admins.beijing, "POST", "/users", { username: "wanggang", password: "a long enough passphrase", displayName: "王刚" });
    expect(made.status).toBe(201);
    const id = made.body.id as string;
    const token = await loginAs(cluster.nodes.beijing.url, "wanggang", "a long enough passphrase");
    const other = await callNode(cluster, "shanghai", admins.shanghai, "POST", "/users", { username: "zhaomin", password: "a long enough passphrase", displayName: "赵敏" });
    const otherToken = await loginAs(cluster.nodes.shanghai.url, "zhaomin", "a long enough passphrase");
    await eventually("Beijing knows 赵敏", async () => (await callNode(cluster, "beijing", token, "GET", `/users/${other.body.id}`)).status === 200);
    const room = (await callNode(cluster, "beijing", token, "POST", "/rooms", { name: "项目", visibility: "private", members: [other.body.id] })).body as { id: string };
    const said = (await callNode(cluster, "beijing", token, "POST", `/rooms/${encodeURIComponent(room.id)}/messages`, { text: "my phone is 138 0000 0000", clientId: "w-1" })).body as Message;
    const copy = async () => ((await callNode(cluster, "shanghai", otherToken, "GET", `/rooms/${encodeURIComponent(room.id)}/messages`)).body?.messages ?? []) as Message[];
    await eventually("Shanghai's copy has it", async () => (await copy()).some((m) => m.id === said.id && m.text !== ""));

    const erased = await callNode(cluster, "beijing", admins.beijing, "POST", `/admin/users/${encodeURIComponent(id)}/erase`, undefined);
    expect(erased.body).toMatchObject({ state: "done" });
    await eventually("Shanghai's copy shows the tombstone", async () => (await copy()).some((m) => m.id === said.id && m.text === "" && m.deletedAt !== null));
    const seen = await eventually("Shanghai's directory has the placeholder", async () => {
      const u = (await callNode(cluster, "shanghai", otherToken, "GET", `/users/${id}`)).body;
      return u?.displayName === "Deleted user" ? u : null;
    });
    expect(seen).toMatchObject({ active: false });
    expect(seen.username).toMatch(/^deleted-/);
  }, 60_000);
});
