/**
 * `/presence?ids=`: online/away/offline of people the caller shares a room with
 * — of this node, or of other nodes of the cluster (as their home last reported
 * it; offline while the link to their node is down).
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { PresenceQuery } from "../../protocol/rest";
import { PresenceListSchema } from "../../protocol/responses";
import type { Presence } from "../../protocol/device";
import { existingUsers, storedUser } from "../../durable-objects/shared/objects";
import { remotePresence } from "../../durable-objects/shared/presence-delivery";

export const presence = new Hono<AppEnv>().get("/", async (c) => {
  const { ids } = readQuery(c, PresenceQuery);
  const caller = c.get("caller");
  // Ids no user has are left out (and cost no object): the answer is the same as for a stranger.
  const local = await existingUsers(c.env, ids);
  const inbox = await storedUser(c.env, caller.userId).inboxRooms();
  const myRooms = inbox.map((r) => r.roomId);
  const [found, remote] = await Promise.all([
    Promise.all(local.map((id) => storedUser(c.env, id).getPresence(id === caller.userId ? null : myRooms))),
    remotePresence(c.env, caller.userId, inbox, ids.filter((id) => !local.includes(id))),
  ]);
  // In the order asked.
  const byId = new Map<string, Presence>([...found, ...remote].filter((p): p is Presence => p !== null).map((p) => [p.userId, p]));
  return reply(c, PresenceListSchema, { presence: [...new Set(ids)].flatMap((id) => byId.get(id) ?? []) });
});
