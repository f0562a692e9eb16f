/** `/dms`: open (or find) the direct-message room with another person. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { reply } from "../reply";
import { CreateDmBody } from "../../protocol/rest";
import { RoomSchema } from "../../protocol/models";
import { homeNode, newId } from "../../protocol/ids";
import { AppError } from "../../durable-objects/shared/app-error";
import { directoryStub as directory, storedRoom } from "../../durable-objects/shared/objects";
import { activeUsers, asMember } from "../active-users";

export const dms = new Hono<AppEnv>().post("/", async (c) => {
  const caller = c.get("caller");
  const body = await readJson(c, CreateDmBody);
  if (body.userId === caller.userId) throw new AppError("invalid_request", "a direct message needs another person");
  const [peer] = await activeUsers(c.env, [body.userId]);
  const { roomId, created } = await directory(c.env).dmRoomFor(caller.userId, peer.userId, newId("r", c.env.NODE_NAME));
  // The pair's DM already lives on the other person's node (this node mirrors it).
  if (homeNode(roomId) !== c.env.NODE_NAME) return reply(c, RoomSchema, (await storedRoom(c.env, roomId).info(caller)).room, 200);
  // create() is idempotent, so a DM whose first creation was interrupted is completed here.
  const room = await storedRoom(c.env, roomId).create({ id: roomId, name: "", kind: "dm", visibility: "private", creator: asMember(caller), members: [peer] });
  return reply(c, RoomSchema, room, created ? 201 : 200);
});
