/**
 * `/rooms`: create, the public directory, one room (info, rename, join,
 * leave, reads, receipts, its socket) and, mounted below it, its members,
 * messages and file uploads. Every decision about a room is its own object's.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { reply } from "../reply";
import { CreateRoomBody, PublicRoomsQuery, UpdateRoomBody } from "../../protocol/rest";
import { ReadBody } from "../../protocol/device";
import { RoomSchema } from "../../protocol/models";
import { OkSchema, PublicRoomsPageSchema, ReadPositionSchema, ReceiptListSchema, RoomInfoSchema } from "../../protocol/responses";
import { newId } from "../../protocol/ids";
import { directoryStub as directory, resolveRoom, storedRoom } from "../../durable-objects/shared/objects";
import { activeUsers, asMember } from "../active-users";
import { upgradeWithIdentity } from "./sockets";
import { roomMembers } from "./room-members";
import { roomMessages } from "./room-messages";
import { roomFiles } from "./room-files";

export const rooms = new Hono<AppEnv>()
  .get("/public", async (c) => {
    // Member counts come from the directory (each room reports its own after a
    // change of members), so a page costs one call, not one per room. A room from
    // before the count existed is asked once here, and its answer kept.
    const q = readQuery(c, PublicRoomsQuery);
    const dir = directory(c.env);
    const page = await dir.publicRooms({ q: q.q?.trim(), limit: q.limit, cursor: q.cursor });
    await Promise.all(
      page.rooms
        .filter((r) => r.memberCount === null)
        .map(async (r) => {
          r.memberCount = await storedRoom(c.env, r.id).memberCount();
          await dir.describeRoom(r.id, { memberCount: r.memberCount });
        }),
    );
    return reply(c, PublicRoomsPageSchema, page);
  })
  .post("/", async (c) => {
    const caller = c.get("caller");
    const body = await readJson(c, CreateRoomBody);
    const members = await activeUsers(c.env, (body.members ?? []).filter((id) => id !== caller.userId));
    const id = newId("r", c.env.NODE_NAME);
    // Directory first: a room that exists is always in the directory; the room quota is checked there.
    await directory(c.env).registerRoom({ id, name: body.name, kind: "group", visibility: body.visibility, createdBy: caller.userId }, { quotaExempt: caller.isAdmin });
    const room = await storedRoom(c.env, id).create({ id, name: body.name, kind: "group", visibility: body.visibility, creator: asMember(caller), members, residency: body.residency });
    return reply(c, RoomSchema, room, 201);
  })
  .get("/:id", async (c) => {
    return reply(c, RoomInfoSchema, await (await resolveRoom(c.env, c.req.param("id"))).info(c.get("caller")));
  })
  .patch("/:id", async (c) => {
    const body = await readJson(c, UpdateRoomBody);
    const id = c.req.param("id");
    const room = await (await resolveRoom(c.env, id)).updateRoom(c.get("caller"), { name: body.name, topic: body.topic });
    if (body.name !== undefined) await directory(c.env).renameRoom(id, room.name);
    // The public directory lists a room's topic beside its name.
    if (body.topic !== undefined) await directory(c.env).describeRoom(id, { topic: room.topic ?? "" });
    return reply(c, RoomSchema, room);
  })
  .post("/:id/join", async (c) => {
    return reply(c, RoomSchema, await (await resolveRoom(c.env, c.req.param("id"))).join(asMember(c.get("caller"))));
  })
  .post("/:id/leave", async (c) => {
    const caller = c.get("caller");
    await (await resolveRoom(c.env, c.req.param("id"))).removeMember(caller, caller.userId);
    return reply(c, OkSchema, { ok: true });
  })
  .post("/:id/read", async (c) => {
    const body = await readJson(c, ReadBody);
    return reply(c, ReadPositionSchema, await (await resolveRoom(c.env, c.req.param("id"))).markRead(c.get("caller"), body.seq));
  })
  .get("/:id/receipts", async (c) => {
    return reply(c, ReceiptListSchema, { receipts: await (await resolveRoom(c.env, c.req.param("id"))).receipts(c.get("caller")) });
  })
  .get("/:id/socket", async (c) => {
    // The room socket: the room object accepts it (hibernation API) and decides who may.
    return upgradeWithIdentity(c, () => resolveRoom(c.env, c.req.param("id")));
  })
  .route("/:id/members", roomMembers)
  .route("/:id/messages", roomMessages)
  .route("/:id/files", roomFiles);
