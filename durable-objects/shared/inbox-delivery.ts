/**
 * A room telling its members' inboxes what happened, wherever each member is
 * homed. A member of this node: a call to their user object. A member homed on
 * another node: one signed link request to that node per batch (all of the
 * batch's members there at once), which hands each update to the member's user
 * object on their own node. The room does not care which: it calls these.
 *
 * Updates travel in the room's outbox order and are applied at least once
 * (applying one twice is harmless). When a link is down the delivery throws,
 * and the room's outbox keeps the update and tries again later, in order.
 *
 * A node whose last delivery failed is not asked again until its back-off has
 * passed (shared/peer-backoff.ts): deliveries to it fail at once meanwhile, as
 * they would after a timeout, so a room's inbox round (which waits for each
 * slice of members) does not wait LINK_TIMEOUT_MS for a black-holed branch
 * every time, and a cut costs no requests per message. Module state: one per
 * isolate, which on a self-hosted node is every room of the node.
 */
import type { Env } from "./env";
import { storedUser } from "./objects";
import { LinkError, linkFetch } from "./cluster";
import { homeNode } from "../../protocol/ids";
import type { InboxUpdate, RoomActivity } from "../user/inbox-update";
import { Backoff } from "./peer-backoff";

const backoff = new Backoff();

/** A signed request to a member's node, unless that node is known down (then a LinkError at once). */
async function toNode<T>(env: Env, node: string, path: string, body: unknown, what: string): Promise<T> {
  if (backoff.waitMs(node, Date.now()) > 0) throw new LinkError(node, "unreachable", "known down, waiting before the next try");
  try {
    const { status, body: answer } = await linkFetch<T>(env, node, "POST", path, body);
    if (status !== 200) throw new LinkError(node, "unreachable", `${what} answered ${status}: ${JSON.stringify(answer).slice(0, 200)}`);
    backoff.succeeded(node);
    return answer;
  } catch (err) {
    if (err instanceof LinkError && err.reason !== "not_in_cluster") backoff.failed(node, Date.now());
    throw err;
  }
}

/** Deliver one membership update to a member's inbox; throws when it could not be delivered. */
export async function deliverInboxUpdate(env: Env, userId: string, update: InboxUpdate): Promise<void> {
  const home = homeNode(userId);
  if (!home || home === env.NODE_NAME) return storedUser(env, userId).applyInboxUpdate(update);
  await toNode(env, home, "/link/v1/inbox/updates", { items: [{ userId, update }] }, "inbox update");
}

/**
 * Deliver activity summaries; resolves with each member's answer (is anyone
 * looking?) or an error, in the order given. Members of other nodes are sent
 * in one request per node.
 */
export async function deliverActivities(env: Env, items: { userId: string; activity: RoomActivity }[]): Promise<PromiseSettledResult<{ live: boolean }>[]> {
  const out: PromiseSettledResult<{ live: boolean }>[] = new Array(items.length);
  const byNode = new Map<string, number[]>();
  const local: Promise<void>[] = [];
  items.forEach((item, i) => {
    const home = homeNode(item.userId);
    if (!home || home === env.NODE_NAME) {
      local.push(
        storedUser(env, item.userId)
          .applyActivity(item.activity)
          .then(
            (value) => void (out[i] = { status: "fulfilled", value }),
            (reason) => void (out[i] = { status: "rejected", reason }),
          ),
      );
    } else {
      const list = byNode.get(home) ?? [];
      list.push(i);
      byNode.set(home, list);
    }
  });
  const remote = [...byNode].map(async ([node, indexes]) => {
    try {
      const body = await toNode<{ results?: ({ live: boolean } | null)[] }>(env, node, "/link/v1/inbox/activity", { items: indexes.map((i) => items[i]) }, "inbox activity");
      if (!Array.isArray(body?.results)) throw new LinkError(node, "unreachable", "inbox activity answered without results");
      indexes.forEach((i, k) => {
        const r = body.results![k];
        out[i] = r ? { status: "fulfilled", value: { live: r.live !== false } } : { status: "rejected", reason: new Error("not delivered") };
      });
    } catch (reason) {
      for (const i of indexes) out[i] = { status: "rejected", reason };
    }
  });
  await Promise.all([...local, ...remote]);
  return out;
}

/**
 * One member's summary, wherever the member is homed. Rooms deliver summaries
 * a slice at a time, one call per member; calls for members of another node
 * made in the same turn travel together in one link request (deliverActivities).
 */
export function deliverActivity(env: Env, userId: string, activity: RoomActivity): Promise<{ live: boolean }> {
  const home = homeNode(userId);
  if (!home || home === env.NODE_NAME) return storedUser(env, userId).applyActivity(activity);
  return new Promise((resolve, reject) => {
    let batch = batches.get(home);
    if (!batch) {
      batch = [];
      batches.set(home, batch);
      // After the rest of this turn's calls have joined.
      queueMicrotask(() => {
        const items = batches.get(home)!;
        batches.delete(home);
        void deliverActivities(env, items.map((i) => i.item)).then((results) =>
          results.forEach((r, k) => (r.status === "fulfilled" ? items[k].resolve(r.value) : items[k].reject(r.reason))),
        );
      });
    }
    batch.push({ item: { userId, activity }, resolve, reject });
  });
}

const batches = new Map<string, { item: { userId: string; activity: RoomActivity }; resolve: (v: { live: boolean }) => void; reject: (e: unknown) => void }[]>();
