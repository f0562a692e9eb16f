/** `/rooms/{id}/members`: who is in a room, invitations, removals, roles. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { reply } from "../reply";
import { AddMemberBody, SetRoleBody } from "../../protocol/rest";
import { MemberSchema, RoomSchema } from "../../protocol/models";
import { MemberListSchema, OkSchema } from "../../protocol/responses";
import { resolveRoom } from "../../durable-objects/shared/objects";
import { activeUsers } from "../active-users";
import { roomParam } from "./room-param";

export const roomMembers = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { members } = await (await resolveRoom(c.env, roomParam(c))).info(c.get("caller"));
    return reply(c, MemberListSchema, { members });
  })
  .post("/", async (c) => {
    const body = await readJson(c, AddMemberBody);
    const stub = await resolveRoom(c.env, roomParam(c));
    const [user] = await activeUsers(c.env, [body.userId]);
    return reply(c, RoomSchema, await stub.addMember(c.get("caller"), user));
  })
  .delete("/:userId", async (c) => {
    await (await resolveRoom(c.env, roomParam(c))).removeMember(c.get("caller"), c.req.param("userId"));
    return reply(c, OkSchema, { ok: true });
  })
  .patch("/:userId", async (c) => {
    const body = await readJson(c, SetRoleBody);
    return reply(c, MemberSchema, await (await resolveRoom(c.env, roomParam(c))).setRole(c.get("caller"), c.req.param("userId"), body.role));
  });
