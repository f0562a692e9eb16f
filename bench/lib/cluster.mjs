/**
 * Outpost nodes for the cluster scenario, started exactly as `npm start` starts a
 * node (ops/: node config, key pair, cluster file, generated capnp, workerd), the
 * way test/cluster/cluster-harness.ts does for the tests — which bench cannot
 * import (plain .mjs under Node 20, no TypeScript loader).
 *
 * Every directed link (a's requests to b) passes through its own LinkProxy
 * (link-proxy.mjs): each node gets its own copy of the cluster file listing the
 * others at the proxies it should use, so the bench can cut one branch's link
 * and count the bytes that cross each link in each direction.
 *
 * @example
 *   const c = await startCluster(["beijing", "shanghai", "shenzhen"]);
 *   c.linkBytes("beijing", "shanghai")  // { out, back }: a's requests to b and b's answers, plus b's requests to a and a's answers
 *   await c.cut("beijing", "shanghai"); await c.heal("beijing", "shanghai");
 *   await c.stop();
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { ensureNodeKey } from "../../ops/node-key.mjs";
import { makeNodeConfig } from "../../ops/node-config.mjs";
import { nodeIdentity } from "../../ops/node-identity.mjs";
import { writeWorkerdFiles } from "../../ops/workerd-config.mjs";
import { newInstanceToken, spawnWorkerd, stopWorkerd, waitForHealthy } from "../../ops/workerd.mjs";
import { ADMIN_PASSWORD, pin, prepareBuild, tmpDir, track, untrack } from "./servers.mjs";
import { LinkProxy, freePort } from "./link-proxy.mjs";

/**
 * The limits every node of this scenario runs with: the per-user quotas off, as for the
 * single-node scenarios (the bench measures the node, not the limits), and cheap password
 * hashes with a high sign-in budget, so signing in 60 people across three nodes takes
 * seconds. Only sign-in is affected; the message path is the same as with the defaults.
 */
export const CLUSTER_BENCH_LIMITS = { messagesPerSecondPerUser: 0, messageBurstPerUser: 0, roomsPerUserPerDay: 0, signInsPerSecond: 1000, signInBurst: 1000, passwordHashIterations: 1000 };

/**
 * One node: `cluster` is the path of its cluster file, or null for a node alone.
 * Returns the server handle the bench's helpers take (`kind`, `url`, `wsUrl`, `pid`).
 */
export async function startNode({ name, dataDir, port, cluster = null, cpu = 1, limits = CLUSTER_BENCH_LIMITS, v8Flags = [] }) {
  const bundlePath = await prepareBuild();
  const config = makeNodeConfig({ name, listen: `127.0.0.1:${port}`, dataDir, limits, cluster });
  const identity = await nodeIdentity(config);
  config.identity = { publicKey: identity.publicKey, cluster: identity.cluster, peerAllow: identity.peerAllow };
  const { configPath } = writeWorkerdFiles(config, { bundlePath });
  // Profiling only (bench/profile-cluster.mjs): --perf-prof makes V8 write a jitdump into the data folder.
  if (v8Flags.length) {
    const flags = v8Flags.map((f) => JSON.stringify(f)).join(", ");
    fs.writeFileSync(configPath, fs.readFileSync(configPath, "utf8").replace("const config :Workerd.Config = (\n", `const config :Workerd.Config = (\n  v8Flags = [${flags}],\n`));
  }
  const instance = newInstanceToken();
  const env = {
    ...process.env,
    OUTPOST_SETUP_TOKEN: randomBytes(24).toString("base64url"),
    OUTPOST_ADMIN_PASSWORD: ADMIN_PASSWORD,
    OUTPOST_NODE_PRIVATE_KEY: identity.privateKey,
    OUTPOST_INSTANCE_TOKEN: instance,
  };
  const child = track(spawnWorkerd(configPath, { env, stdio: ["ignore", "pipe", "pipe"], cwd: v8Flags.length ? dataDir : undefined }));
  pin(child.pid, cpu);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    await waitForHealthy(config.url, { child, timeoutMs: 30000, intervalMs: 20, instance });
  } catch (e) {
    child.kill("SIGKILL");
    untrack(child);
    throw new Error(`node ${name}: ${e.message}\n${out}`);
  }
  return {
    kind: "outpost",
    name,
    url: config.url,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    dataDir,
    logs: () => out,
    async stop() {
      await stopWorkerd(child, { graceMs: 3000 });
      untrack(child);
    },
  };
}

/** A node alone (no cluster file), with the same limits as the cluster's nodes: the scenario's comparison. */
export async function startSingleNode(name = "beijing", { cpu = 1 } = {}) {
  const dataDir = tmpDir(`single-${name}`);
  const node = await startNode({ name, dataDir, port: await freePort(), cpu, v8Flags: process.env.BENCH_V8FLAGS_SINGLE?.split(" ").filter(Boolean) ?? [] });
  const stop = node.stop;
  node.stop = async () => {
    await stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return node;
}

/**
 * Start `names` as one cluster, every node pinned to `cpu`, every link through a proxy
 * (`direct`: the nodes talk to each other without proxies — no cuts, no byte counts — to
 * check what the proxies themselves add).
 */
export async function startCluster(names, { cpu = 1, direct = false, v8Flags = process.env.BENCH_V8FLAGS?.split(" ").filter(Boolean) ?? [] } = {}) {
  const dirs = {};
  const keys = {};
  const ports = {};
  for (const n of names) {
    dirs[n] = tmpDir(`cluster-${n}`);
    keys[n] = (await ensureNodeKey(dirs[n])).publicKey;
    ports[n] = await freePort();
  }
  /** proxies[a][b]: the proxy a's requests to b pass through */
  const proxies = {};
  for (const a of names) {
    proxies[a] = {};
    for (const b of names) if (a !== b) proxies[a][b] = await LinkProxy.start({ targetPort: ports[b] });
  }
  const nodes = {};
  try {
    await Promise.all(
      names.map(async (n) => {
        const file = path.join(dirs[n], "cluster.json");
        const entries = names.map((m) => ({ name: m, url: `http://127.0.0.1:${m === n || direct ? ports[m] : proxies[n][m].port}`, publicKey: keys[m] }));
        fs.writeFileSync(file, JSON.stringify({ nodes: entries }, null, 2));
        nodes[n] = await startNode({ name: n, dataDir: dirs[n], port: ports[n], cluster: file, cpu, v8Flags });
      }),
    );
  } catch (err) {
    await Promise.all(Object.values(nodes).map((node) => node.stop()));
    throw err;
  }
  const both = async (a, b, fn) => {
    await fn(proxies[a][b]);
    await fn(proxies[b][a]);
  };
  return {
    names,
    nodes,
    proxies,
    pids: () => names.map((n) => nodes[n].pid),
    /** Move every node's threads to `cpu` ("1", or "0,1" for both cores). */
    pinAll: (cpu) => names.forEach((n) => pin(nodes[n].pid, cpu)),
    /**
     * Bytes between a and b so far: `out` = everything a sent b (a's requests to b and a's
     * answers to b's requests), `back` = everything b sent a.
     */
    linkBytes(a, b) {
      return { out: proxies[a][b].bytes.toTarget + proxies[b][a].bytes.fromTarget, back: proxies[a][b].bytes.fromTarget + proxies[b][a].bytes.toTarget };
    },
    /** Requests a sent b so far, by endpoint. */
    requests: (a, b) => ({ ...proxies[a][b].requests }),
    /** How long b took to answer a's requests (ms, by endpoint), from the first request on: take a length before a phase, slice after. */
    answerMs: (a, b) => proxies[a][b].answerMs,
    /** The latest push a sent b, as it crossed the link (HTTP request text), or null. */
    lastPush: (a, b) => proxies[a][b].lastPush,
    cut: (a, b) => both(a, b, (p) => p.cut()),
    heal: (a, b) => both(a, b, (p) => p.heal()),
    async stop() {
      for (const a of names) for (const b of names) if (a !== b) await proxies[a][b].close();
      await Promise.all(Object.values(nodes).map((node) => node.stop()));
      for (const d of Object.values(dirs)) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}
