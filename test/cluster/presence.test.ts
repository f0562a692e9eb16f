/**
 * Presence across branches, on three real nodes. 李伟 is homed in Beijing and
 * connects there; 陈梅 in Shanghai shares a room with him and sees him online,
 * away and offline — over REST and as `presence` frames on her device socket —
 * within seconds, exactly as she sees a colleague of her own branch. 周 in
 * Shanghai shares no room with him and sees nothing. When the WAN link between
 * Beijing and Shanghai is cut he shows offline in Shanghai (and stays online in
 * Shenzhen, whose link is fine); when it returns, online again. A node may
 * report only its own people: a forged report is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { loginAs } from "../harness";
import { deviceSocket, expectNoFrame, type DeviceWs } from "../e2e/client";
import { importPrivateKey, signRequest } from "../../durable-objects/shared/link-auth";
import { recordFigures } from "../figures";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
let cluster: TestCluster;
const people: Record<string, { id: string; node: string; token: string }> = {};
const open: DeviceWs[] = [];

const call = (who: string, method: string, p: string, body?: unknown) => callNode(cluster, people[who].node, people[who].token, method, p, body);

/** `who`'s view of `whom` over REST on their own node: the status, or null when not in the answer. */
async function statusOf(who: string, whom: string): Promise<string | null> {
  const r = await call(who, "GET", `/presence?ids=${encodeURIComponent(people[whom].id)}`);
  expect(r.status).toBe(200);
  const list = r.body.presence as { userId: string; status: string }[];
  expect(list.length).toBeLessThanOrEqual(1);
  return list[0]?.userId === people[whom].id ? list[0].status : null;
}

async function device(who: string, watch: string[] = []): Promise<DeviceWs> {
  const { ws } = await deviceSocket(cluster.nodes[people[who].node].wsUrl, people[who].token);
  open.push(ws);
  if (watch.length) {
    ws.send({ type: "presence.watch", userIds: watch.map((w) => people[w].id), reqId: "watch" });
    await ws.next("ok", (f) => f.replyTo === "watch", 15_000);
  }
  return ws;
}

const presenceOf = (whom: string, status: string) => (f: { type: string; presence?: { userId: string; status: string } }) => f.type === "presence" && f.presence?.userId === people[whom].id && f.presence.status === status;

/** POST /link/v1/presence to `to`, signed with `from`'s real key. */
async function report(from: string, to: string, body: unknown): Promise<{ status: number; body: { error?: { code: string }; applied?: number } }> {
  const { privateKey } = JSON.parse(fs.readFileSync(path.join(cluster.nodes[from].dataDir, "node-key.json"), "utf8"));
  const text = JSON.stringify(body);
  const headers = await signRequest(await importPrivateKey(privateKey), { from, to, method: "POST", path: "/link/v1/presence", body: text });
  const res = await fetch(`${cluster.nodes[to].url}/link/v1/presence`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: text });
  return { status: res.status, body: (await res.json()) as { error?: { code: string }; applied?: number } };
}

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD });
  const admin: Record<string, string> = {};
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"], ["zhou", "shanghai"], ["zhaolei", "shenzhen"]]) {
    const made = await callNode(cluster, node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    expect(made.status).toBe(201);
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  await eventually("beijing knows the others", async () => (await call("liwei", "GET", `/users/${people.chenmei.id}`)).status === 200 && (await call("liwei", "GET", `/users/${people.zhaolei.id}`)).status === 200);
  await eventually("shanghai and shenzhen know liwei", async () => (await call("chenmei", "GET", `/users/${people.liwei.id}`)).status === 200 && (await call("zhaolei", "GET", `/users/${people.liwei.id}`)).status === 200);
  // 陈梅 and 赵磊 share a group room homed in Beijing with 李伟; 周 shares nothing with anyone.
  const room = await call("liwei", "POST", "/rooms", { name: "季度报表", visibility: "private", members: [people.chenmei.id, people.zhaolei.id] });
  expect(room.status).toBe(201);
  for (const who of ["chenmei", "zhaolei"]) {
    await eventually(`${who} is in the room on their node`, async () => (await call(who, "GET", `/rooms/${encodeURIComponent(room.body.id)}/members`)).status === 200);
  }
}, 120_000);

afterAll(async () => {
  for (const ws of open) await ws.close().catch(() => undefined);
  await cluster?.stop();
});

describe("presence of people homed on another node", () => {
  it("reaches a Shanghai member of a shared room live, over REST and on her socket, and never a stranger", async () => {
    expect(await statusOf("chenmei", "liwei")).toBe("offline");
    expect(await statusOf("zhou", "liwei")).toBeNull();
    const chenmei = await device("chenmei", ["liwei"]);
    await chenmei.next(presenceOf("liwei", "offline"), 5_000);
    const zhou = await device("zhou", ["liwei"]);

    const connectedAt = Date.now();
    const liwei = await device("liwei");
    await chenmei.next(presenceOf("liwei", "online"), 10_000);
    const seenMs = Date.now() - connectedAt;
    expect(seenMs).toBeLessThan(5_000);
    expect(await statusOf("chenmei", "liwei")).toBe("online");
    expect(await statusOf("zhaolei", "liwei")).toBe("online");

    liwei.send({ type: "presence.set", status: "away", reqId: "away" });
    await chenmei.next(presenceOf("liwei", "away"), 10_000);
    expect(await statusOf("chenmei", "liwei")).toBe("away");

    await liwei.close();
    const closedAt = Date.now();
    await chenmei.next(presenceOf("liwei", "offline"), 10_000);
    const offlineMs = Date.now() - closedAt;
    expect(await statusOf("chenmei", "liwei")).toBe("offline");

    // A bounded wait, not a fence: 周's frames would come from the link object, not from anything his socket orders.
    await expectNoFrame(zhou, (f) => f.type === "presence", 1_000);
    expect(await statusOf("zhou", "liwei")).toBeNull();
    recordFigures("cluster", { "presence change seen on another node's socket (ms, connect)": seenMs, "presence change seen on another node's socket (ms, disconnect)": offlineMs });
  }, 60_000);

  it("shows him offline in Shanghai while its link to Beijing is cut, online in Shenzhen, and online again when it returns", async () => {
    const chenmei = await device("chenmei", ["liwei"]);
    await chenmei.next(presenceOf("liwei", "offline"), 5_000);
    await device("liwei");
    await chenmei.next(presenceOf("liwei", "online"), 10_000);
    expect(await statusOf("chenmei", "liwei")).toBe("online");

    const cutAt = Date.now();
    await cluster.cut("beijing", "shanghai");
    await chenmei.next(presenceOf("liwei", "offline"), 12_000);
    const offlineMs = Date.now() - cutAt;
    expect(offlineMs).toBeLessThan(12_000);
    expect(await statusOf("chenmei", "liwei")).toBe("offline");
    expect(await statusOf("zhaolei", "liwei")).toBe("online");

    const healedAt = Date.now();
    await cluster.heal("beijing", "shanghai");
    await chenmei.next(presenceOf("liwei", "online"), 15_000);
    const backMs = Date.now() - healedAt;
    expect(await statusOf("chenmei", "liwei")).toBe("online");
    recordFigures("cluster", { "remote presence shown offline after a cut (ms)": offlineMs, "remote presence back after the link returns (ms)": backMs });
  }, 60_000);

  it("takes a node's word only for its own people, and creates nothing for unknown ids", async () => {
    const item = (userId: string, status = "online") => ({ userId, status, lastSeen: Date.now() });
    const base = { epoch: "forged", seq: 1, full: false };
    // Beijing's real key, speaking for a Shenzhen colleague and for Shanghai's own.
    expect(await report("beijing", "shanghai", { ...base, items: [item(people.zhaolei.id)] })).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await report("beijing", "shanghai", { ...base, items: [item(people.liwei.id, "offline"), item(people.zhou.id)] })).toMatchObject({ status: 403 });
    expect(await statusOf("chenmei", "zhaolei")).toBe("offline");
    // Ids of its own that nobody has: accepted, nothing applied.
    const unknown = people.liwei.id.replace(/^u_[^@]+/, "u_0000000000000000");
    expect(await report("beijing", "shanghai", { epoch: "forged-2", seq: 1, full: false, items: [item(unknown)] })).toMatchObject({ status: 200, body: { applied: 0 } });
    expect((await call("chenmei", "GET", `/presence?ids=${encodeURIComponent(unknown)}`)).body.presence).toEqual([]);
    // Not a report at all.
    expect((await report("beijing", "shanghai", { items: "everyone online" })).status).toBe(400);
  });
});
