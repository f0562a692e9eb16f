import type { Cluster } from "./cluster.mjs";
export function nodeIdentity(config: { name: string; dataDir: string; cluster: unknown }): Promise<{ publicKey: string; privateKey: string; created: boolean; cluster: Cluster | null; peerAllow: string[] }>;
