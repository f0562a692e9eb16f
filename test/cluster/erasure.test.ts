/**
 * Erasure across nodes (issue 16): a person of Beijing who wrote in rooms
 * homed in Shanghai, with a member in Shenzhen. Erasing them at Beijing
 * reaches Shanghai's rooms (`POST /link/v1/erasures`) and, through Shanghai's
 * pushes, Shenzhen's copies and search index: no text of theirs is left on
 * either node's disk, others' messages stay. A cut link keeps the home's job
 * `running`, naming the node still owed, until the link heals; a legal hold on
 * a Shanghai room keeps that room's copy of what they wrote.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { rowsContaining } from "./data-files";
import { importPrivateKey, signRequest } from "../../durable-objects/shared/link-auth";
import type { Erasure, Message } from "../../protocol/models";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
let cluster: TestCluster;
const admin: Record<string, string> = {};
const people: Record<string, { id: string; node: string; token: string }> = {};

const call = (node: string, token: string, method: string, p: string, body?: unknown) => callNode(cluster, node, token, method, p, body);
const as = (who: string) => (method: string, p: string, body?: unknown) => call(people[who].node, people[who].token, method, p, body);
const rooms = (roomId: string) => `/rooms/${encodeURIComponent(roomId)}`;

async function history(who: string, roomId: string): Promise<Message[]> {
  const page = await as(who)("GET", `${rooms(roomId)}/messages?limit=100`);
  expect(page.status).toBe(200);
  return page.body.messages as Message[];
}

/** A room homed in Shanghai, made by 陈梅 with `members`; everyone has it on their own node. */
async function shanghaiRoom(name: string, members: string[]): Promise<string> {
  const made = await as("chenmei")("POST", "/rooms", { name, visibility: "private", members: members.map((m) => people[m].id) });
  expect(made.status).toBe(201);
  const roomId = made.body.id as string;
  expect(roomId).toMatch(/@shanghai$/);
  for (const who of members) await eventually(`${who} can open ${name}`, async () => (await as(who)("GET", rooms(roomId))).status === 200);
  return roomId;
}

async function say(who: string, roomId: string, text: string): Promise<Message> {
  const r = await as(who)("POST", `${rooms(roomId)}/messages`, { text, clientId: `${who}-${text.length}-${Date.now()}` });
  expect(r.status).toBe(201);
  return r.body as Message;
}

const erase = async (who: string) => (await call("beijing", admin.beijing, "POST", `/admin/users/${encodeURIComponent(people[who].id)}/erase`)).body as Erasure;
const erasure = async (who: string) => (await call("beijing", admin.beijing, "GET", `/admin/users/${encodeURIComponent(people[who].id)}/erase`)).body as Erasure;

/** Whether a message of `who` (by id) still shows its text to `reader`. */
async function shows(reader: string, roomId: string, id: string): Promise<boolean> {
  const m = (await history(reader, roomId)).find((x) => x.id === id);
  return !!m && m.text !== "" && m.deletedAt === null;
}

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD });
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["wangfang", "beijing"], ["liuyang", "beijing"], ["sunli", "beijing"], ["zhouqi", "beijing"], ["chenmei", "shanghai"], ["zhaolei", "shenzhen"]]) {
    const made = await call(node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    expect(made.status).toBe(201);
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  await eventually("Shanghai knows Beijing's and Shenzhen's people", async () => {
    for (const who of ["wangfang", "liuyang", "sunli", "zhouqi", "zhaolei"]) if ((await call("shanghai", admin.shanghai, "GET", `/users/${people[who].id}`)).status !== 200) return false;
    return true;
  }, 20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  for (const n of cluster?.names ?? []) fs.rmSync(cluster.nodes[n].dataDir, { recursive: true, force: true });
});

describe("erasure of a person in rooms of other nodes", () => {
  it("removes their text from a Shanghai room, its Shenzhen copy and search index, and both disks; others' messages stay", async () => {
    const roomId = await shanghaiRoom("跨区项目", ["wangfang", "zhaolei"]);
    const marker = "Wangfang-Secret-4711-Erasable";
    const hers = await say("wangfang", roomId, `my account number is ${marker}`);
    const theirs = await say("chenmei", roomId, "thanks, noted on the Shanghai side");
    const zl = await say("zhaolei", roomId, "Shenzhen says hello");
    const reacted = await as("wangfang")("POST", `${rooms(roomId)}/messages/${theirs.id}/reactions`, { emoji: "👍" });
    expect(reacted.status).toBe(200);
    // Shenzhen's copy has it all, and finds the marker in its own search index.
    await eventually("Shenzhen's copy has her message and reaction", async () => {
      const h = await history("zhaolei", roomId);
      return h.some((m) => m.id === hers.id && m.text.includes(marker)) && h.some((m) => m.id === theirs.id && m.reactions.some((r) => r.users.includes(people.wangfang.id)));
    });
    const found = await as("zhaolei")("GET", `/search?q=${marker}&room=${encodeURIComponent(roomId)}`);
    expect(found.status).toBe(200);
    expect(found.body.hits.length).toBe(1);
    for (const node of ["shanghai", "shenzhen"]) expect(rowsContaining(cluster.nodes[node].dataDir, marker).length, node).toBeGreaterThan(0);

    await erase("wangfang");

    // At the room's home and at Shenzhen's copy: her message is a tombstone, her reaction gone,
    // her member row the placeholder; everyone else's messages as they were.
    for (const reader of ["chenmei", "zhaolei"]) {
      const after = await eventually(`${reader} sees the tombstone`, async () => {
        const h = await history(reader, roomId);
        const m = h.find((x) => x.id === hers.id);
        return m && m.text === "" && m.deletedAt !== null ? h : null;
      });
      expect(after.find((m) => m.id === theirs.id)).toMatchObject({ text: theirs.text, reactions: [] });
      expect(after.find((m) => m.id === zl.id)?.text).toBe(zl.text);
      const members = await eventually(`${reader} sees "Deleted user"`, async () => {
        const list = (await as(reader)("GET", `${rooms(roomId)}/members`)).body.members as { userId: string; displayName: string }[];
        return list.find((x) => x.userId === people.wangfang.id)?.displayName === "Deleted user" ? list : null;
      });
      expect(members.length).toBe(3);
    }
    const done = await eventually("the erasure completes", async () => ((await erasure("wangfang")).state === "done" ? erasure("wangfang") : null), 30_000);
    expect(done).toMatchObject({ state: "done", nodesPending: [] });
    expect((await as("zhaolei")("GET", `/search?q=${marker}&room=${encodeURIComponent(roomId)}`)).body.hits).toEqual([]);
    expect((await as("chenmei")("GET", `/search?q=${marker}&room=${encodeURIComponent(roomId)}`)).body.hits).toEqual([]);
    // Nothing of her text left in any table of any object on these nodes (rooms, copies, search
    // indexes, outboxes, inboxes), nor on her own node (its copy of the room, its link queue).
    // (Beijing's copy has no reader left to wait on: its push may land a moment later.)
    await eventually("Beijing's copy of the room follows", async () => rowsContaining(cluster.nodes.beijing.dataDir, marker).length === 0);
    for (const node of ["shanghai", "shenzhen"]) expect(rowsContaining(cluster.nodes[node].dataDir, marker), node).toEqual([]);
    // Asking again changes nothing and answers the finished job.
    expect(await erase("wangfang")).toMatchObject({ state: "done", nodesPending: [] });
  }, 120_000);

  it("stays running, naming Shanghai, while the link to it is cut, and finishes after the heal", async () => {
    const roomId = await shanghaiRoom("断线", ["liuyang", "zhaolei"]);
    const said = await say("liuyang", roomId, "Liuyang-Cut-Marker-9023 is my badge");
    await eventually("Shenzhen's copy has it", async () => shows("zhaolei", roomId, said.id));

    await cluster.cut("beijing", "shanghai");
    try {
      // Written during the cut: queued at Beijing for Shanghai (202), not yet delivered.
      const queued = await as("liuyang")("POST", `${rooms(roomId)}/messages`, { text: "Liuyang-Queued-Marker-3141 sent while cut", clientId: "ly-queued" });
      expect(queued.status).toBe(202);
      const first = await erase("liuyang");
      expect(first).toMatchObject({ state: "running", nodesPending: ["shanghai"] });
      await new Promise((r) => setTimeout(r, 4_000));
      // Retried meanwhile (the alarm, with back-off), still owed: the admin sees it is not complete.
      expect(await erasure("liuyang")).toMatchObject({ state: "running", nodesPending: ["shanghai"] });
      expect(await shows("chenmei", roomId, said.id)).toBe(true);

    } finally {
      // Healed also when an expectation above failed: the other tests need the link.
      await cluster.heal("beijing", "shanghai");
      await eventually("Beijing counts the link to Shanghai up again", async () => {
        const view = await call("beijing", admin.beijing, "GET", "/cluster");
        return view.status === 200 && view.body.nodes.some((n: { node: string; state: string }) => n.node === "shanghai" && n.state === "up");
      }, 30_000);
    }
    const done = await eventually("the job finishes after the heal", async () => {
      const e = await erasure("liuyang");
      return e.state === "done" ? e : null;
    }, 60_000, 500);
    expect(done.nodesPending).toEqual([]);
    expect(await shows("chenmei", roomId, said.id)).toBe(false);
    await eventually("Shenzhen's copy follows", async () => !(await shows("zhaolei", roomId, said.id)));
    // The send queued during the cut never reached the room: its erasure dropped it at Beijing.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await history("chenmei", roomId)).map((m) => m.text).filter((t) => t.includes("Queued-Marker"))).toEqual([]);
    for (const node of cluster.names) expect(rowsContaining(cluster.nodes[node].dataDir, "Liuyang-Queued-Marker-3141"), node).toEqual([]);
  }, 120_000);

  it("keeps a held Shanghai room's copy of what they wrote, out of view", async () => {
    const roomId = await shanghaiRoom("诉讼保全", ["sunli", "zhaolei"]);
    const hold = await call("shanghai", admin.shanghai, "POST", "/admin/holds", { roomId, reason: "case 2026-31" });
    expect(hold.status).toBe(201);
    const marker = "Sunli-Held-Marker-5150";
    const said = await say("sunli", roomId, `contract draft ${marker}`);
    await eventually("Shenzhen's copy has it", async () => shows("zhaolei", roomId, said.id));

    await erase("sunli");
    // Out of view for members on every node, as a held room's erasure at home…
    await eventually("Shanghai's room shows the tombstone", async () => !(await shows("chenmei", roomId, said.id)), 30_000);
    expect(await erasure("sunli")).toMatchObject({ state: "done", nodesPending: [] });
    await eventually("Shenzhen's copy shows the tombstone", async () => !(await shows("zhaolei", roomId, said.id)));
    // …but the hold's copy stays at the room's home, and only there.
    expect(rowsContaining(cluster.nodes.shanghai.dataDir, marker)).toEqual([expect.stringMatching(/: held_messages$/)]);
    expect(rowsContaining(cluster.nodes.shenzhen.dataDir, marker)).toEqual([]);
  }, 120_000);

  it("keeps, under Shanghai's hold on the person, Shanghai's copy of what they wrote there, out of view", async () => {
    const roomId = await shanghaiRoom("人员保全", ["zhouqi", "zhaolei"]);
    // Shanghai holds a person of Beijing: what they sent in Shanghai's rooms.
    const hold = await call("shanghai", admin.shanghai, "POST", "/admin/holds", { userId: people.zhouqi.id, reason: "case 2026-32" });
    expect(hold.status).toBe(201);
    const marker = "Zhouqi-Person-Held-6021";
    const said = await say("zhouqi", roomId, `invoice ${marker}`);
    await eventually("Shenzhen's copy has it", async () => shows("zhaolei", roomId, said.id));

    // The hold is Shanghai's, not Beijing's: Beijing erases, Shanghai keeps its copy for the hold.
    await erase("zhouqi");
    await eventually("Shanghai's room shows the tombstone", async () => !(await shows("chenmei", roomId, said.id)), 30_000);
    expect(await erasure("zhouqi")).toMatchObject({ state: "done", nodesPending: [] });
    await eventually("Shenzhen's copy shows the tombstone", async () => !(await shows("zhaolei", roomId, said.id)));
    expect(rowsContaining(cluster.nodes.shanghai.dataDir, marker)).toEqual([expect.stringMatching(/: held_messages$/)]);
    expect(rowsContaining(cluster.nodes.shenzhen.dataDir, marker)).toEqual([]);
  }, 120_000);

  it("refuses an erasure asked by a node that is not the person's home", async () => {
    const ask = async (from: string, to: string, body: unknown) => {
      const { privateKey } = JSON.parse(fs.readFileSync(path.join(cluster.nodes[from].dataDir, "node-key.json"), "utf8"));
      const text = JSON.stringify(body);
      const headers = await signRequest(await importPrivateKey(privateKey), { from, to, method: "POST", path: "/link/v1/erasures", body: text });
      const res = await fetch(`${cluster.nodes[to].url}/link/v1/erasures`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: text });
      return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
    };
    const roomId = await shanghaiRoom("安全", ["zhaolei"]);
    const said = await say("zhaolei", roomId, "Shenzhen's own words");
    // Beijing cannot erase a person of Shenzhen from Shanghai's rooms.
    const r = await ask("beijing", "shanghai", { userId: people.zhaolei.id });
    expect(r.status).toBe(403);
    expect(r.body.error?.code).toBe("forbidden");
    expect((await ask("beijing", "shanghai", { userId: "not an id" })).status).toBe(400);
    // Asked again by the person's home after it finished: the same job, done, nothing redone.
    const again = await ask("beijing", "shanghai", { userId: people.wangfang.id });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: "done" });
    expect(await shows("chenmei", roomId, said.id)).toBe(true);
  }, 60_000);
});
