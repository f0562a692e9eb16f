/**
 * The last step of a person's erasure at their home (erasure.ts): the
 * cluster's other nodes erase them from the rooms homed there — their
 * messages, reactions, files and member rows in a Shanghai room do not live in
 * Beijing, where the person is homed, and only Shanghai can remove them (its
 * mirrors then follow through Shanghai's pushes, as for any change).
 *
 * The job row keeps one entry per node of the cluster (when the job began):
 * each is asked `POST /link/v1/erasures {userId}` (worker/routes/link-erasures.ts)
 * until it answers `done`. The other node keeps its own job row
 * (erasure-foreign.ts), so asking twice, or again after its crash, resumes the
 * same job; an answer `running` means it is on it and is asked again soon. A
 * node that cannot be reached (or refuses: an older version without the
 * route) is asked again with back-off, by the directory's alarm: the home's job
 * stays `running` and its `nodesPending` names the nodes still owed, so an
 * administrator sees the erasure is not complete.
 */
import { like } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { LinkErasureAnswer } from "../../protocol/cluster";
import { LinkError, linkFetch, peersOf } from "../shared/cluster";
import type { Env } from "../shared/env";
import { errorText, log } from "../shared/log";
import * as schema from "./schema";

/** One other node's part of an erasure. */
export interface PeerErasure {
  /** `left`: the node is no longer in the cluster file (nothing there can be reached or asked any more) */
  state: "pending" | "done" | "left";
  /** failed asks in a row (the back-off grows with them) */
  failures: number;
  /** not asked again before this time (ms since epoch) */
  nextAt: number;
}

export type PeerErasures = Record<string, PeerErasure>;

/** The first retry after a failure; it doubles up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 5 * 60_000;
/** A node that answered `running` is asked again this soon (it is working, not failing). */
const RUNNING_RECHECK_MS = 3_000;

/** Every other node of the cluster, none asked yet (a node alone has none). */
export function peersToErase(env: Env): PeerErasures {
  return Object.fromEntries(peersOf(env).map((p) => [p.name, { state: "pending", failures: 0, nextAt: 0 } satisfies PeerErasure]));
}

/** The nodes still owed (for `nodesPending`). */
export function pendingNodes(peers: PeerErasures | undefined): string[] {
  return Object.entries(peers ?? {})
    .filter(([, p]) => p.state === "pending")
    .map(([name]) => name)
    .sort();
}

/**
 * Ask every pending node whose time has come, all at once (a cut link costs
 * one timeout, not one per node). Updates `peers` in place; returns the
 * earliest time a node is due again, or null when none is pending.
 */
export async function askPeers(env: Env, userId: string, peers: PeerErasures, now = Date.now()): Promise<number | null> {
  await Promise.all(
    Object.entries(peers).map(async ([node, p]) => {
      if (p.state !== "pending" || p.nextAt > now) return;
      try {
        const { status, body } = await linkFetch(env, node, "POST", "/link/v1/erasures", { userId });
        const answer = LinkErasureAnswer.safeParse(body);
        if (status !== 200 || !answer.success) throw new Error(`HTTP ${status}: ${JSON.stringify(body).slice(0, 200)}`);
        if (answer.data.state === "done") Object.assign(p, { state: "done", failures: 0, nextAt: 0 });
        else Object.assign(p, { failures: 0, nextAt: now + RUNNING_RECHECK_MS });
      } catch (err) {
        if (err instanceof LinkError && err.reason === "not_in_cluster") {
          // Removed from the cluster file since the job began: nothing there can be asked any more.
          p.state = "left";
          log("warn", "erasure.peer_left", { userId, node });
          return;
        }
        p.failures++;
        p.nextAt = now + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (p.failures - 1));
        log("warn", "erasure.peer_failed", { userId, node, failures: p.failures, retryInMs: p.nextAt - now, error: errorText(err) });
      }
    }),
  );
  return nextAskAt(peers);
}

export function nextAskAt(peers: PeerErasures): number | null {
  const due = Object.values(peers).filter((p) => p.state === "pending").map((p) => p.nextAt);
  return due.length ? Math.min(...due) : null;
}

/**
 * When the directory's alarm should fire again for the erasure jobs still
 * running: at the earliest node due of a job that reached step 4, else at
 * `fallback` (the resume of a job a crash or a failing room interrupted: a
 * room that keeps failing is not retried every second); `crashed`: some job
 * needs that resume whatever the nodes' times.
 */
export function nextErasureAlarm(db: DrizzleSqliteDODatabase<typeof schema>, now: number, fallback: number, crashed: boolean): number {
  let at: number | null = null;
  for (const row of db.select().from(schema.settings).where(like(schema.settings.key, "erasure:%")).all()) {
    const job = JSON.parse(row.value) as { state?: string; peers?: PeerErasures; roomsDone?: number; roomsTotal?: number };
    if (job.state !== "running") continue;
    const next = job.peers && (job.roomsDone ?? 0) >= (job.roomsTotal ?? 0) ? nextAskAt(job.peers) : null;
    if (next === null) crashed = true;
    else at = Math.min(at ?? next, next);
  }
  if (crashed || at === null) at = Math.min(at ?? fallback, fallback);
  return Math.max(at, now + 1_000);
}
