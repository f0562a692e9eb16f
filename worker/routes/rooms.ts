/** Rooms and DMs: create, list, join, leave, members, roles, rename. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { AddMemberBody, CreateDmBody, CreateRoomBody, PublicRoomsQuery, SetRoleBody, UpdateRoomBody } from "../../protocol/rest";
import { USER_ID_RE, homeNode, newId } from "../../protocol/ids";
import { AppError } from "../../durable-objects/shared/app-error";
import type { Caller } from "../../durable-objects/shared/identity";
import type { MemberInput } from "../../durable-objects/room/room-object";
import type { Env } from "../../durable-objects/shared/env";
import { directoryStub as directory, isLocalUserId, resolveRoom, storedRoom, storedUser } from "../../durable-objects/shared/objects";

const asMember = (c: Caller): MemberInput => ({ userId: c.userId, username: c.username, displayName: c.displayName });

function isClusterUserId(env: Env, id: string): boolean {
  const home = homeNode(id);
  return isLocalUserId(env, id) || (USER_ID_RE.test(id) && !!env.CLUSTER?.nodes.some((n) => n.name === home));
}

/**
 * Active users by id — of this node or, as the directory has them, of any node
 * of the cluster — or `invalid_request` naming the first unknown one.
 */
async function activeUsers(env: Env, ids: string[]): Promise<MemberInput[]> {
  const unique = [...new Set(ids)];
  const found = unique.every((id) => isClusterUserId(env, id)) ? await directory(env).getUsers(unique) : [];
  const byId = new Map(found.filter((u) => u.active).map((u) => [u.id, u]));
  const missing = unique.find((id) => !byId.has(id));
  if (missing) throw new AppError("invalid_request", `unknown or deactivated user: ${missing}`);
  return unique.map((id) => {
    const u = byId.get(id)!;
    return { userId: u.id, username: u.username, displayName: u.displayName };
  });
}

export const rooms = new Hono<AppEnv>()
  .get("/rooms", async (c) => {
    return c.json({ rooms: await storedUser(c.env, c.get("caller").userId).inboxRooms({ looking: true }) });
  })
  .get("/rooms/public", async (c) => {
    // No member counts: the directory does not know them, and asking each room
    // of a page would cost a round trip per room.
    const q = readQuery(c, PublicRoomsQuery);
    return c.json(await directory(c.env).publicRooms({ q: q.q?.trim(), limit: q.limit, cursor: q.cursor }));
  })
  .post("/rooms", async (c) => {
    const caller = c.get("caller");
    const body = await readJson(c, CreateRoomBody);
    const members = await activeUsers(c.env, (body.members ?? []).filter((id) => id !== caller.userId));
    const id = newId("r", c.env.NODE_NAME);
    // Directory first: a room that exists is always in the directory; the room quota is checked there.
    await directory(c.env).registerRoom({ id, name: body.name, kind: "group", visibility: body.visibility, createdBy: caller.userId }, { quotaExempt: caller.isAdmin });
    const room = await storedRoom(c.env, id).create({ id, name: body.name, kind: "group", visibility: body.visibility, creator: asMember(caller), members, residency: body.residency });
    return c.json(room, 201);
  })
  .post("/dms", async (c) => {
    const caller = c.get("caller");
    const body = await readJson(c, CreateDmBody);
    if (body.userId === caller.userId) throw new AppError("invalid_request", "a direct message needs another person");
    const [peer] = await activeUsers(c.env, [body.userId]);
    const { roomId, created } = await directory(c.env).dmRoomFor(caller.userId, peer.userId, newId("r", c.env.NODE_NAME));
    // The pair's DM already lives on the other person's node (this node mirrors it).
    if (homeNode(roomId) !== c.env.NODE_NAME) return c.json((await storedRoom(c.env, roomId).info(caller)).room, 200);
    // create() is idempotent, so a DM whose first creation was interrupted is completed here.
    const room = await storedRoom(c.env, roomId).create({ id: roomId, name: "", kind: "dm", visibility: "private", creator: asMember(caller), members: [peer] });
    return c.json(room, created ? 201 : 200);
  })
  .get("/rooms/:id", async (c) => {
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).info(c.get("caller")));
  })
  .patch("/rooms/:id", async (c) => {
    const body = await readJson(c, UpdateRoomBody);
    const id = c.req.param("id");
    const room = await (await resolveRoom(c.env, id)).rename(c.get("caller"), body.name);
    await directory(c.env).renameRoom(id, body.name);
    return c.json(room);
  })
  .post("/rooms/:id/join", async (c) => {
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).join(asMember(c.get("caller"))));
  })
  .post("/rooms/:id/leave", async (c) => {
    const caller = c.get("caller");
    await (await resolveRoom(c.env, c.req.param("id"))).removeMember(caller, caller.userId);
    return c.json({ ok: true });
  })
  .get("/rooms/:id/members", async (c) => {
    const { members } = await (await resolveRoom(c.env, c.req.param("id"))).info(c.get("caller"));
    return c.json({ members });
  })
  .post("/rooms/:id/members", async (c) => {
    const body = await readJson(c, AddMemberBody);
    const stub = (await resolveRoom(c.env, c.req.param("id")));
    const [user] = await activeUsers(c.env, [body.userId]);
    return c.json(await stub.addMember(c.get("caller"), user), 200);
  })
  .delete("/rooms/:id/members/:userId", async (c) => {
    await (await resolveRoom(c.env, c.req.param("id"))).removeMember(c.get("caller"), c.req.param("userId"));
    return c.json({ ok: true });
  })
  .patch("/rooms/:id/members/:userId", async (c) => {
    const body = await readJson(c, SetRoleBody);
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).setRole(c.get("caller"), c.req.param("userId"), body.role));
  });
