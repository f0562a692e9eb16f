/**
 * Real clusters for tests: several `workerd serve` nodes on 127.0.0.1, each
 * with its own key and data folder, whose node-to-node links each pass through
 * a LinkProxy the test controls. Every directed link (a's requests to b) has
 * its own proxy, so a test can cut one branch's WAN link and keep the others:
 * each node gets its own copy of the cluster file, listing the others at the
 * proxies it should use ("url is how the others reach a node").
 *
 * @example
 *   const cluster = await startCluster(["beijing", "shanghai", "shenzhen"]);
 *   await cluster.cut("beijing", "shanghai");   // both directions
 *   await cluster.heal("beijing", "shanghai");
 *   await cluster.stop();
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureNodeKey } from "../../ops/node-key.mjs";
import { portTaken, startNode, type OutpostNode, type StartNodeOptions } from "../harness";
import { LinkProxy, freePort } from "./link-proxy";

export interface TestCluster {
  names: string[];
  nodes: Record<string, OutpostNode>;
  /** proxies[a][b]: the proxy a's requests to b pass through */
  proxies: Record<string, Record<string, LinkProxy>>;
  /** cut the link between a and b, both directions */
  cut(a: string, b: string): Promise<void>;
  /** black-hole the link between a and b, both directions: connections open, nothing answers (link-proxy.ts) */
  blackhole(a: string, b: string): void;
  /** reset every connection between a and b as it opens, both directions, counting them (link-proxy.ts) */
  reject(a: string, b: string): void;
  heal(a: string, b: string): Promise<void>;
  /** cut every link of one node (its branch's WAN is down) */
  isolate(name: string): Promise<void>;
  rejoin(name: string): Promise<void>;
  /** delay every link by `ms` each way */
  delay(ms: number): void;
  stop(): Promise<void>;
}

/**
 * `tls`: every node listens on https with its own keypair (`certs[name]`), the
 * cluster file lists `https://` URLs and names `ca` (the organisation's CA).
 */
export interface ClusterTls {
  ca: string;
  certs: Record<string, { cert: string; key: string }>;
}

export async function startCluster(
  names: string[],
  options: {
    adminPassword?: string;
    limits?: StartNodeOptions["limits"];
    keepData?: boolean;
    tls?: ClusterTls;
    /** `{ at: node }`: the cluster file of `at` says `channels: false` for `node` (ops/cluster.mjs) */
    noChannels?: { at: string; node: string }[];
  } = {},
): Promise<TestCluster> {
  const dirs: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const ports: Record<string, number> = {};
  for (const n of names) {
    dirs[n] = fs.mkdtempSync(path.join(os.tmpdir(), `outpost-cluster-${n}-`));
    keys[n] = (await ensureNodeKey(dirs[n])).publicKey;
  }
  // The proxies first: they hold their ports from here on, so a node's port, found
  // after them, is none of theirs. Each points at its node once that node has a port.
  const proxies: Record<string, Record<string, LinkProxy>> = {};
  for (const a of names) {
    proxies[a] = {};
    for (const b of names) if (a !== b) proxies[a][b] = await LinkProxy.start({ targetPort: 0 });
  }
  const nodes: Record<string, OutpostNode> = {};
  const scheme = options.tls ? "https" : "http";
  /** Node n on a free port: the proxies to it and its own cluster file name that port (the others reach it only through the proxies). */
  const launch = async (n: string) => {
    const port = await freePort();
    for (const a of names) if (a !== n) proxies[a][n].retarget(port);
    const file = path.join(dirs[n], "cluster.json");
    const entries = names.map((m) => ({
      name: m,
      url: `${scheme}://127.0.0.1:${m === n ? port : proxies[n][m].port}`,
      publicKey: keys[m],
      ...(options.noChannels?.some((x) => x.at === n && x.node === m) ? { channels: false } : {}),
    }));
    fs.writeFileSync(file, JSON.stringify({ ...(options.tls ? { ca: options.tls.ca } : {}), nodes: entries }, null, 2));
    return startNode({ name: n, dataDir: dirs[n], port, cluster: file, adminPassword: options.adminPassword, limits: options.limits, tls: options.tls?.certs[n] });
  };
  try {
    await Promise.all(
      names.map(async (n) => {
        // Another port when the one found was taken before workerd bound it (see portTaken).
        for (let attempt = 1; ; attempt++) {
          try {
            nodes[n] = await launch(n);
            return;
          } catch (err) {
            if (attempt >= 3 || !portTaken(err)) throw err;
          }
        }
      }),
    );
  } catch (err) {
    await Promise.all(Object.values(nodes).map((node) => node.stop()));
    throw err;
  }
  const both = async (a: string, b: string, fn: (p: LinkProxy) => Promise<void>) => {
    await fn(proxies[a][b]);
    await fn(proxies[b][a]);
  };
  return {
    names,
    nodes,
    proxies,
    cut: (a, b) => both(a, b, (p) => p.cut()),
    blackhole: (a, b) => {
      proxies[a][b].blackhole();
      proxies[b][a].blackhole();
    },
    reject: (a, b) => {
      proxies[a][b].reject();
      proxies[b][a].reject();
    },
    heal: (a, b) => both(a, b, (p) => p.heal()),
    isolate: async (n) => {
      for (const m of names) if (m !== n) await both(n, m, (p) => p.cut());
    },
    rejoin: async (n) => {
      for (const m of names) if (m !== n) await both(n, m, (p) => p.heal());
    },
    delay: (ms) => {
      for (const a of names) for (const b of names) if (a !== b) proxies[a][b].delay(ms);
    },
    async stop() {
      for (const a of names) for (const b of names) if (a !== b) await proxies[a][b].close();
      await Promise.all(Object.values(nodes).map((node) => node.stop()));
      if (!options.keepData) for (const d of Object.values(dirs)) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}
