/**
 * `/me`: the caller's own account, sessions, password, settings, and what a
 * client needs at start-up besides the device socket (rooms with counts,
 * notifications).
 */
import { limitsOf } from "../../durable-objects/shared/env";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { reply } from "../reply";
import { ChangePasswordBody, NotificationsQuery, RoomIdSchema, UpdateMeBody } from "../../protocol/rest";
import { deleteAvatar, putAvatar } from "../avatars";
import { InboxRoomSchema, RoomPrefsBody, SettingsBody } from "../../protocol/device";
import { UserSchema } from "../../protocol/models";
import { InboxRoomListSchema, MySessionListSchema, NotificationPageSchema, OkSchema, SettingsSchema } from "../../protocol/responses";
import { AppError } from "../../durable-objects/shared/app-error";
import { recordAuthEvent } from "../auth-events";
import { assertPasswordAllowed, hashPassword, verifyPassword } from "../../durable-objects/shared/passwords";
import { directoryStub as directory, storedUser } from "../../durable-objects/shared/objects";

export const me = new Hono<AppEnv>()
  .get("/", async (c) => {
    const user = await directory(c.env).getUser(c.get("caller").userId);
    if (!user) throw new AppError("not_found", "no such user");
    return reply(c, UserSchema, user);
  })
  .patch("/", async (c) => {
    const { userId } = c.get("caller");
    const body = await readJson(c, UpdateMeBody);
    const user = await directory(c.env).updateUser(userId, { displayName: body.displayName });
    // The rooms' member lists follow; the answer does not wait for every room.
    c.executionCtx.waitUntil(storedUser(c.env, userId).announceProfile());
    return reply(c, UserSchema, user);
  })
  .put("/avatar", async (c) => {
    const user = await putAvatar(c);
    c.executionCtx.waitUntil(storedUser(c.env, user.id).announceProfile());
    return reply(c, UserSchema, user);
  })
  .delete("/avatar", async (c) => {
    const user = await deleteAvatar(c);
    c.executionCtx.waitUntil(storedUser(c.env, user.id).announceProfile());
    return reply(c, UserSchema, user);
  })
  .get("/sessions", async (c) => {
    const caller = c.get("caller");
    const sessions = await storedUser(c.env, caller.userId).listSessions();
    return reply(c, MySessionListSchema, { sessions: sessions.map((s) => ({ ...s, current: s.id === caller.sessionId })) });
  })
  .delete("/sessions/:sid", async (c) => {
    const caller = c.get("caller");
    if (!(await storedUser(c.env, caller.userId).revokeSession(c.req.param("sid")))) throw new AppError("not_found", "no such session");
    return reply(c, OkSchema, { ok: true });
  })
  .post("/password", async (c) => {
    const caller = c.get("caller");
    const body = await readJson(c, ChangePasswordBody);
    // Before the current password is checked: a weak new one is not a failed guess.
    assertPasswordAllowed(body.newPassword, caller.username);
    const dir = directory(c.env);
    // Per-username throttling only: one shared address bucket would let anyone lock everyone out.
    const found = await dir.loginLookup(caller.username, "unknown");
    if ("retryAfter" in found) throw new AppError("rate_limited", "too many failed attempts; wait and try again", found.retryAfter);
    if (!found.passwordHash || !(await verifyPassword(body.currentPassword, found.passwordHash))) {
      await dir.loginFailed(caller.username, "unknown");
      throw new AppError("forbidden", "the current password is wrong");
    }
    await dir.setPasswordHash(caller.userId, await hashPassword(body.newPassword, limitsOf(c.env).passwordHashIterations));
    // A password change signs out every other device.
    await storedUser(c.env, caller.userId).revokeAll("password changed", caller.sessionId);
    await recordAuthEvent(c.env, { action: "password.changed", userId: caller.userId });
    return reply(c, OkSchema, { ok: true });
  })
  .get("/rooms", async (c) => {
    // The room list. "looking": the inbox first refreshes rooms that held summaries back
    // while nobody looked (docs/ARCHITECTURE.md), so what is shown is never behind.
    return reply(c, InboxRoomListSchema, { rooms: await storedUser(c.env, c.get("caller").userId).inboxRooms({ looking: true }) });
  })
  .patch("/rooms/:id", async (c) => {
    const body = await readJson(c, RoomPrefsBody);
    const roomId = RoomIdSchema.safeParse(c.req.param("id"));
    if (!roomId.success) throw new AppError("not_found", "no such room");
    return reply(c, InboxRoomSchema, await storedUser(c.env, c.get("caller").userId).setRoomMuted(roomId.data, body.muted));
  })
  .get("/notifications", async (c) => {
    const q = readQuery(c, NotificationsQuery);
    return reply(c, NotificationPageSchema, await storedUser(c.env, c.get("caller").userId).notifications(q.before, q.limit));
  })
  .get("/settings", async (c) => reply(c, SettingsSchema, await storedUser(c.env, c.get("caller").userId).settings()))
  .patch("/settings", async (c) => {
    const body = await readJson(c, SettingsBody);
    return reply(c, SettingsSchema, await storedUser(c.env, c.get("caller").userId).updateSettings(body));
  });
