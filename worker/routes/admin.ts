/**
 * `/admin` (node administrators): retention, legal holds, erasure and the
 * compliance export (worker/export/start.ts). One
 * handler per action, each one directory or room call (the action and its
 * audit record happen there, in one transaction: see
 * durable-objects/directory/compliance.ts, erasure.ts and room/retention.ts).
 * docs/OPERATIONS.md "Retention, legal hold and erasure" shows them in use.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { ExportQuery } from "../../protocol/export";
import { startExport } from "../export/start";
import { reply } from "../reply";
import { PlaceHoldBody, SetRetentionDefaultBody, SetRoomRetentionBody } from "../../protocol/rest";
import { ErasureSchema, LegalHoldSchema, RoomSchema } from "../../protocol/models";
import { HoldListSchema, RetentionDefaultSchema } from "../../protocol/responses";
import { AppError } from "../../durable-objects/shared/app-error";
import { directoryStub as directory, homeRoom, isLocalUserId, resolveRoom } from "../../durable-objects/shared/objects";
import { HOLD_ID_RE, ROOM_ID_RE, USER_ID_RE, homeNode } from "../../protocol/ids";
import { requireAdmin } from "../middleware/auth";

export const admin = new Hono<AppEnv>()
  .use("*", requireAdmin())
  .get("/retention", async (c) => reply(c, RetentionDefaultSchema, { defaultDays: await directory(c.env).retentionDefault() }))
  .put("/retention", async (c) => {
    const body = await readJson(c, SetRetentionDefaultBody);
    return reply(c, RetentionDefaultSchema, { defaultDays: await directory(c.env).setRetentionDefault(body.defaultDays, c.get("caller").userId) });
  })
  .put("/rooms/:id/retention", async (c) => {
    const id = c.req.param("id");
    // A room homed on another node follows its home's policy: set it there.
    if (!ROOM_ID_RE.test(id) || homeNode(id) !== c.env.NODE_NAME) throw new AppError("not_found", "no such room on this node");
    await resolveRoom(c.env, id); // 404 for an id the directory does not know, before any object is touched
    const body = await readJson(c, SetRoomRetentionBody);
    return reply(c, RoomSchema, await homeRoom(c.env, id).setRetention(body.days === "default" ? undefined : body.days, c.get("caller").userId));
  })
  .get("/holds", async (c) => reply(c, HoldListSchema, { holds: await directory(c.env).holds() }))
  .post("/holds", async (c) => {
    const body = await readJson(c, PlaceHoldBody);
    if (body.roomId !== undefined && !ROOM_ID_RE.test(body.roomId)) throw new AppError("not_found", "no such room on this node");
    if (body.userId !== undefined && !USER_ID_RE.test(body.userId)) throw new AppError("not_found", "no such user");
    const target = body.roomId !== undefined ? { roomId: body.roomId } : { userId: body.userId! };
    return reply(c, LegalHoldSchema, await directory(c.env).placeHold(target, body.reason, c.get("caller").userId), 201);
  })
  .delete("/holds/:id", async (c) => {
    const id = c.req.param("id");
    if (!HOLD_ID_RE.test(id)) throw new AppError("not_found", "no such legal hold");
    return reply(c, LegalHoldSchema, await directory(c.env).releaseHold(id, c.get("caller").userId));
  })
  .post("/users/:id/erase", async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw new AppError("not_found", "no such user");
    if (id === c.get("caller").userId) throw new AppError("invalid_request", "you cannot erase yourself");
    return reply(c, ErasureSchema, await directory(c.env).eraseUser(id, c.get("caller").userId));
  })
  // How far an erasure got (also the nodes of the cluster still owed), without resuming it.
  .get("/users/:id/erasure", async (c) => {
    const id = c.req.param("id");
    const job = isLocalUserId(c.env, id) ? await directory(c.env).erasureStatus(id) : null;
    if (!job) throw new AppError("not_found", "no erasure of this user");
    return reply(c, ErasureSchema, job);
  })
  .get("/export", async (c) => startExport(c, readQuery(c, ExportQuery)));
