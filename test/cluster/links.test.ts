/**
 * Three real nodes (beijing, shanghai, shenzhen), each link through a proxy the
 * test controls. Every node shows its key; every node sees the others' links
 * up; a cut link is noticed within 10 s by both ends and only that link goes
 * down; a healed link comes back; a killed node is seen down and back. Nothing
 * but a correctly signed, fresh request from a node of the file gets an answer
 * from /link/v1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { generateNodeKey } from "../../ops/node-key.mjs";
import { importPrivateKey, signRequest } from "../../durable-objects/shared/link-auth";
import type { ClusterView, LinkState } from "../../protocol/cluster";
import { loginAs, startNode } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { recordFigures } from "../figures";

const PASSWORD = "cluster operator passphrase";
let cluster: TestCluster;
const tokens: Record<string, string> = {};

async function clusterView(node: string): Promise<ClusterView> {
  const res = await fetch(`${cluster.nodes[node].url}/api/v1/cluster`, { headers: { authorization: `Bearer ${tokens[node]}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as ClusterView;
}

async function linkState(from: string, to: string): Promise<LinkState> {
  return (await clusterView(from)).nodes.find((n) => n.node === to)!.state;
}

/** Poll until `from` sees its link to `to` in `state`; returns how long it took. */
async function until(from: string, to: string, state: LinkState, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await linkState(from, to)) === state) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`${from} did not see ${to} ${state} within ${withinMs} ms (now ${await linkState(from, to)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD });
  for (const n of cluster.names) tokens[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a cluster of three branch nodes", () => {
  it("shows each node's public key, the one in its data folder", async () => {
    for (const n of cluster.names) {
      const health = (await (await fetch(`${cluster.nodes[n].url}/healthz`)).json()) as { node: string; publicKey: string };
      const key = JSON.parse(fs.readFileSync(path.join(cluster.nodes[n].dataDir, "node-key.json"), "utf8"));
      expect(health).toMatchObject({ node: n, publicKey: key.publicKey });
      expect(fs.statSync(path.join(cluster.nodes[n].dataDir, "node-key.json")).mode & 0o777).toBe(0o600);
    }
  });

  it("sees every link up", async () => {
    for (const a of cluster.names) for (const b of cluster.names) if (a !== b) await until(a, b, "up", 10_000);
    const view = await clusterView("beijing");
    expect(view.self).toBe("beijing");
    expect(view.nodes.map((n) => [n.node, n.state])).toEqual([["beijing", "self"], ["shanghai", "up"], ["shenzhen", "up"]]);
  });

  it("notices a cut link within 10 s at both ends, only that link, and its return", async () => {
    const cutAt = Date.now();
    await cluster.cut("beijing", "shanghai");
    const seenAt = await Promise.all([until("beijing", "shanghai", "down", 10_000), until("shanghai", "beijing", "down", 10_000)]);
    expect(Math.max(...seenAt)).toBeLessThanOrEqual(10_000);
    const down = (await clusterView("beijing")).nodes.find((n) => n.node === "shanghai")!;
    expect(down.since).toBeGreaterThanOrEqual(cutAt - 2000);
    expect(await linkState("beijing", "shenzhen")).toBe("up");
    expect(await linkState("shenzhen", "shanghai")).toBe("up");
    await cluster.heal("beijing", "shanghai");
    await Promise.all([until("beijing", "shanghai", "up", 10_000), until("shanghai", "beijing", "up", 10_000)]);
    recordFigures("cluster", { "a cut link noticed at both ends (ms; heartbeat 1.5 s, down after 2 misses)": Math.max(...seenAt) });
  }, 60_000);

  it("sees a killed node down and back after its restart", async () => {
    await cluster.nodes.shenzhen.kill9();
    await until("beijing", "shenzhen", "down", 10_000);
    await cluster.nodes.shenzhen.restart();
    await until("beijing", "shenzhen", "up", 10_000);
    await until("shenzhen", "beijing", "up", 10_000);
  }, 60_000);
});

describe("the link endpoint", () => {
  const ping = (node: string, headers: Record<string, string>, body = "{}") =>
    fetch(`${cluster.nodes[node].url}/link/v1/ping`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("answers only signed, fresh requests of a node of the file, addressed to it", async () => {
    expect((await ping("shanghai", {})).status).toBe(401);
    // A key not in the file, using a name that is.
    const stranger = await generateNodeKey();
    const forged = await signRequest(await importPrivateKey(stranger.privateKey), { from: "beijing", to: "shanghai", method: "POST", path: "/link/v1/ping", body: "{}" });
    expect((await ping("shanghai", forged)).status).toBe(401);
    // beijing's real key, but addressed to shenzhen and sent to shanghai.
    const bjKey = JSON.parse(fs.readFileSync(path.join(cluster.nodes.beijing.dataDir, "node-key.json"), "utf8"));
    const key = await importPrivateKey(bjKey.privateKey);
    expect((await ping("shanghai", await signRequest(key, { from: "beijing", to: "shenzhen", method: "POST", path: "/link/v1/ping", body: "{}" }))).status).toBe(401);
    // Correct, then replayed, then stale.
    const good = await signRequest(key, { from: "beijing", to: "shanghai", method: "POST", path: "/link/v1/ping", body: "{}" });
    const first = await ping("shanghai", good);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-outpost-link-signature")).toBeTruthy();
    expect((await ping("shanghai", good)).status).toBe(401);
    expect((await ping("shanghai", await signRequest(key, { from: "beijing", to: "shanghai", method: "POST", path: "/link/v1/ping", body: "{}", now: Date.now() - 120_000 }))).status).toBe(401);
  });

  it("does not exist on a node that runs alone", async () => {
    const alone = await startNode({ adminPassword: PASSWORD });
    try {
      expect((await fetch(`${alone.url}/link/v1/ping`, { method: "POST" })).status).toBe(404);
      const token = await loginAs(alone.url, "admin", PASSWORD);
      const view = (await (await fetch(`${alone.url}/api/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })).json()) as ClusterView;
      expect(view.nodes.map((n) => n.state)).toEqual(["self"]);
      expect(((await (await fetch(`${alone.url}/healthz`)).json()) as { publicKey: string }).publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await alone.stop();
    }
  });
});
