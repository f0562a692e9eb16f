/** `/presence?ids=`: online/away/offline of people the caller shares a room with. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { PresenceQuery } from "../../protocol/rest";
import { PresenceListSchema } from "../../protocol/responses";
import { existingUsers, storedUser } from "../../durable-objects/shared/objects";

export const presence = new Hono<AppEnv>().get("/", async (c) => {
  const { ids } = readQuery(c, PresenceQuery);
  const caller = c.get("caller");
  // Ids no user has are left out (and cost no object): the answer is the same as for a stranger.
  const local = await existingUsers(c.env, ids);
  const myRooms = (await storedUser(c.env, caller.userId).inboxRooms()).map((r) => r.roomId);
  const found = await Promise.all(local.map((id) => storedUser(c.env, id).getPresence(id === caller.userId ? null : myRooms)));
  return reply(c, PresenceListSchema, { presence: found.filter((p) => p !== null) });
});
