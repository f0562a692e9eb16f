/**
 * The runtime floor of the cluster scenario (bench/floor/cluster.js): three minimal
 * relay nodes on the same workerd, started, pinned and linked the way
 * bench/lib/cluster.mjs starts three Outpost nodes — the home's links to the others
 * pass through a LinkProxy each — so the cluster scenario can run the same fan-out on
 * them and say what a relay between processes costs on this machine by itself.
 *
 * @example
 *   const f = await startFloorCluster(["beijing", "shanghai", "shenzhen"]);
 *   f.nodes.shanghai.wsUrl; f.pids(); f.pinAll("0,1"); await f.stop();
 */
import fs from "node:fs";
import path from "node:path";
import { COMPATIBILITY_DATE, COMPATIBILITY_FLAGS } from "../../ops/node-config.mjs";
import { benchDir, freePort, launchWorkerd, pin, tmpDir } from "./servers.mjs";
import { LinkProxy } from "./link-proxy.mjs";

function capnp({ dataDir, port, role, peerUrls }) {
  const text = (name, value) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "floor", worker = (
      modules = [(name = "cluster.js", esModule = embed "cluster.js")],
      compatibilityDate = ${JSON.stringify(COMPATIBILITY_DATE)},
      compatibilityFlags = [${COMPATIBILITY_FLAGS.map((f) => JSON.stringify(f)).join(", ")}],
      bindings = [
        (name = "HOMES", durableObjectNamespace = "FloorHome"),
        (name = "MIRRORS", durableObjectNamespace = "FloorMirror"),
        (name = "PEERS", service = "peers"),
        ${text("ROLE", role)},
        ${text("PEER_URLS", JSON.stringify(peerUrls))},
      ],
      durableObjectNamespaces = [
        (className = "FloorHome", uniqueKey = "floor-home", enableSql = true),
        (className = "FloorMirror", uniqueKey = "floor-mirror", enableSql = true),
      ],
      durableObjectStorage = (localDisk = "disk"),
    )),
    (name = "disk", disk = (path = ${JSON.stringify(path.join(dataDir, "objects"))}, writable = true)),
    (name = "peers", network = (allow = ["127.0.0.1/32"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "floor")],
);
`;
}

/** Three floor nodes, the first of `names` the home, every node pinned to `cpu`. */
export async function startFloorCluster(names, { cpu = 1 } = {}) {
  const [home, ...others] = names;
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()])));
  const proxies = Object.fromEntries(await Promise.all(others.map(async (n) => [n, await LinkProxy.start({ targetPort: ports[n] })])));
  const nodes = {};
  const dirs = [];
  try {
    for (const n of names) {
      const dataDir = tmpDir(`floor-cluster-${n}`);
      dirs.push(dataDir);
      fs.mkdirSync(path.join(dataDir, "objects"), { recursive: true });
      fs.copyFileSync(path.join(benchDir, "floor/cluster.js"), path.join(dataDir, "cluster.js"));
      const configPath = path.join(dataDir, "floor.capnp");
      const peerUrls = n === home ? others.map((o) => `http://127.0.0.1:${proxies[o].port}`) : [];
      fs.writeFileSync(configPath, capnp({ dataDir, port: ports[n], role: n === home ? "home" : "mirror", peerUrls }));
      nodes[n] = await launchWorkerd("floor", configPath, { port: ports[n], dataDir, cpu });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  async function stopAll() {
    for (const p of Object.values(proxies)) await p.close();
    await Promise.all(Object.values(nodes).map((node) => node.stop()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  return {
    nodes,
    pids: () => names.map((n) => nodes[n].pid),
    pinAll: (c) => names.forEach((n) => pin(nodes[n].pid, c)),
    /** Bytes the home sent `n` and got back over its link. */
    linkBytes: (n) => ({ out: proxies[n].bytes.toTarget, back: proxies[n].bytes.fromTarget }),
    stop: stopAll,
  };
}

/**
 * The cluster scenario's fan-out on the floor: the same room and senders (`plan`, from
 * cluster-scenario.mjs `sockets()`) on one floor node, then on three; the two phases
 * (`clusterOnly`: the three nodes alone, `single` null).
 */
export async function floorFanout(loadgen, floor, plan, members, durationMs, task, { clusterOnly = false } = {}) {
  let one = null;
  if (!clusterOnly) {
    one = await loadgen(task({ wsBase: floor.single.wsUrl, pid: floor.single.pid, rooms: [{ roomId: "floor-50", tokens: Array.from({ length: members }, () => "floor"), senders: plan.senders }], durationMs }), 180000);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const tokens = plan.tokens.map((t) => ({ token: "floor", wsBase: floor.cluster.nodes[t.group].wsUrl, group: t.group }));
  const three = await loadgen(task({ pids: floor.cluster.pids(), rooms: [{ roomId: "floor-17-17-16", tokens, senders: plan.senders }], durationMs }), 180000);
  return { single: one?.phases[0] ?? null, cluster: three.phases[0] };
}
