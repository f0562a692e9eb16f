// @ts-check
/**
 * Who this node is to the others: its key pair (ops/node-key.mjs) and, when it
 * belongs to a cluster, the checked cluster file and the addresses of its peers
 * (ops/cluster.mjs). `npm start` and the test harness attach it to the node
 * config before rendering workerd's config; the private key goes to workerd
 * through its environment (`OUTPOST_NODE_PRIVATE_KEY`), never into a file
 * other than node-key.json.
 */
import { ensureNodeKey } from "./node-key.mjs";
import { loadCluster, peerAddresses } from "./cluster.mjs";

/**
 * @param {{ name: string, dataDir: string, cluster: unknown }} config  from loadNodeConfig/makeNodeConfig
 * @returns {Promise<{ publicKey: string, privateKey: string, created: boolean, file: string, cluster: import("./cluster.mjs").Cluster | null, peerAllow: string[] }>}
 */
export async function nodeIdentity(config) {
  const key = await ensureNodeKey(config.dataDir);
  const cluster = config.cluster ? loadCluster(config.cluster, { self: config.name, selfKey: key.publicKey }) : null;
  return { publicKey: key.publicKey, privateKey: key.privateKey, created: key.created, file: key.file, cluster, peerAllow: cluster ? await peerAddresses(cluster) : [] };
}
