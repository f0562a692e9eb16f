/**
 * Which branch nodes this node can reach (GET /api/v1/cluster): a banner names
 * an unreachable node, and a room homed there says it shows what arrived by
 * the last contact (docs/FEDERATION.md).
 */
import { api, changed, state } from "./store";

let clusterTimer: ReturnType<typeof setInterval> | null = null;

/**
 * Which branch nodes this node can reach: refreshed every 10 s (a cut is
 * noticed by the node within ~3 s) and at every reconnect, so people see which
 * node is unreachable and that what they see of its rooms is as of the last sync.
 */
export function watchCluster(): void {
  const refresh = async () => {
    if (state.phase !== "signedIn") return;
    try {
      const view = await api.cluster();
      if (JSON.stringify(view) !== JSON.stringify(state.cluster)) {
        state.cluster = view;
        changed();
      }
    } catch {
      // this node itself is unreachable: the connection banner says so
    }
  };
  if (clusterTimer) clearInterval(clusterTimer);
  clusterTimer = setInterval(() => void refresh(), 10_000);
  void refresh();
}

/** The cluster's nodes this node cannot reach now (none when it runs alone). */
export function unreachableNodes(): { node: string; since: number; lastContactAt: number | null }[] {
  return (state.cluster?.nodes ?? []).filter((n) => n.state === "down").map((n) => ({ node: n.node, since: n.since, lastContactAt: n.lastContactAt }));
}

/** For a room homed on a node this one cannot reach: that node and when it last heard from it. */
export function roomUnreachable(roomId: string): { node: string; lastContactAt: number | null } | null {
  const home = roomId.slice(roomId.lastIndexOf("@") + 1);
  return unreachableNodes().find((n) => n.node === home) ?? null;
}

export function stopWatchingCluster(): void {
  if (clusterTimer) clearInterval(clusterTimer);
  clusterTimer = null;
}
