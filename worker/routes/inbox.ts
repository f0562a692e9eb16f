/** What a client needs at start-up besides the device socket: rooms with counts, reads, notifications, presence, settings. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { ReadBody, SettingsBody } from "../../protocol/device";
import { AppError } from "../../durable-objects/shared/app-error";
import { existingUsers, resolveRoom, storedUser } from "../../durable-objects/shared/objects";

export const inbox = new Hono<AppEnv>()
  .get("/me/rooms", async (c) => {
    return c.json({ rooms: await storedUser(c.env, c.get("caller").userId).inboxRooms({ looking: true }) });
  })
  .get("/me/notifications", async (c) => {
    const before = c.req.query("before");
    const limit = c.req.query("limit");
    if ((before !== undefined && !/^\d{1,15}$/.test(before)) || (limit !== undefined && !/^\d{1,3}$/.test(limit))) {
      throw new AppError("invalid_request", "before and limit must be non-negative integers");
    }
    return c.json(await storedUser(c.env, c.get("caller").userId).notifications(before === undefined ? undefined : Number(before), limit === undefined ? 50 : Number(limit)));
  })
  .get("/me/settings", async (c) => c.json(await storedUser(c.env, c.get("caller").userId).settings()))
  .patch("/me/settings", async (c) => {
    const body = await readJson(c, SettingsBody);
    return c.json(await storedUser(c.env, c.get("caller").userId).updateSettings(body));
  })
  .post("/rooms/:id/read", async (c) => {
    const body = await readJson(c, ReadBody);
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).markRead(c.get("caller"), body.seq));
  })
  .get("/rooms/:id/receipts", async (c) => {
    return c.json({ receipts: await (await resolveRoom(c.env, c.req.param("id"))).receipts(c.get("caller")) });
  })
  .get("/presence", async (c) => {
    const ids = (c.req.query("ids") ?? "").split(",").filter(Boolean);
    if (ids.length > 200) throw new AppError("invalid_request", "at most 200 ids");
    const caller = c.get("caller");
    const local = await existingUsers(c.env, ids);
    const myRooms = (await storedUser(c.env, caller.userId).inboxRooms()).map((r) => r.roomId);
    const found = await Promise.all(local.map((id) => storedUser(c.env, id).getPresence(id === caller.userId ? null : myRooms)));
    return c.json({ presence: found.filter((p) => p !== null) });
  });
