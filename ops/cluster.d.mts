export interface ClusterNode { name: string; url: string; publicKey: string }
export interface Cluster { self: string; nodes: ClusterNode[]; file: string | null }
export function loadCluster(source: unknown, options: { self: string; selfKey: string; baseDir?: string }): Cluster;
export function peerAddresses(cluster: Cluster): Promise<string[]>;
