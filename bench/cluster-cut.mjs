/**
 * `node bench/cluster-cut.mjs [seconds] [--no-remote-sends]`: the cluster scenario's cut
 * on its own, with a second-by-second view. Three nodes (bench/lib/cluster.mjs), the
 * 17/17/16 room homed on beijing, 200 msg/s from beijing; beijing↔shanghai is cut for
 * `seconds` (default 30) and healed. Prints, for the messages sent in each second of the
 * cut, p50/max latency at beijing's own sockets and at shenzhen's, the senders' acks, and
 * every second how long a REST history request to the room took on beijing — to see
 * whether a cut to one branch slows the room for the others (docs/PERFORMANCE.md,
 * "Cluster"). The catch-up summary is the scenario's.
 */
import { parseArgs } from "node:util";
import { startCluster } from "./lib/cluster.mjs";
import { cutAndHeal, setUpCluster } from "./lib/cluster-scenario.mjs";
import { killAll, pin, runLoadgen } from "./lib/servers.mjs";

const { values, positionals } = parseArgs({ options: { "no-remote-sends": { type: "boolean", default: false } }, allowPositionals: true });
const cutS = Number(positionals[0] ?? 30);
pin(process.pid, 0);
const line = (secs) => (secs ?? []).map((x, i) => `${i}:${x ? `${x[0]}/${x[1]}` : "–"}`).join(" ");

const cluster = await startCluster(["beijing", "shanghai", "shenzhen"]);
try {
  const setup = await setUpCluster(cluster, console.log);
  const reader = setup.a.beijing[16];
  const started = Date.now();
  const probes = [];
  let stop = false;
  const probing = (async () => {
    while (!stop) {
      const at = Date.now();
      const outcome = await fetch(`${cluster.nodes.beijing.url}/api/v1/rooms/${encodeURIComponent(setup.roomA)}/messages?limit=1`, { headers: { authorization: `Bearer ${reader.token}` } }).then(
        async (res) => (await res.arrayBuffer(), res.status === 200 ? "" : ` HTTP ${res.status}`),
        (e) => ` ${e.cause?.message ?? e.message}`,
      );
      probes.push(`${Math.round((at - started) / 1000)}s:${Date.now() - at}ms${outcome}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const r = await cutAndHeal(runLoadgen, cluster, setup, { cutS, noRemoteSends: values["no-remote-sends"] }, console.log);
  stop = true;
  await probing;
  console.log(`\nby second of the cut (sent then): p50/max ms`);
  for (const [node, secs] of Object.entries(r.cutLatencyElsewhereBySecond)) console.log(`  ${node} sockets: ${line(secs)}`);
  console.log(`  beijing senders' acks: ${line(r.cutAcksBySecond)}`);
  console.log(`REST history on beijing (from the start of the run, which has ~3 s before the cut): ${probes.join(" ")}`);
  console.log(`CPU per message during the cut (ms): ${JSON.stringify(r.cpuMsPerMsgDuringCut)}`);
  console.log(`beijing's log:\n${cluster.nodes.beijing.logs().trim()}`);
} finally {
  await cluster.stop();
  killAll();
}
