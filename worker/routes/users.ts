/** Accounts: me, my sessions, the people directory, and what admins do to accounts. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { ChangePasswordBody, CreateUserBody } from "../../protocol/rest";
import { AppError } from "../../durable-objects/shared/app-error";
import { assertPasswordAllowed, hashPassword, verifyPassword } from "../../durable-objects/shared/passwords";
import { directoryStub as directory, isLocalUserId, resolveUser, storedUser } from "../../durable-objects/shared/objects";
import { requireAdmin } from "../middleware/auth";
import { limitsOf } from "../../durable-objects/shared/env";

const noSuchUser = () => new AppError("not_found", "no such user");

export const users = new Hono<AppEnv>()
  .get("/me", async (c) => {
    const user = await directory(c.env).getUser(c.get("caller").userId);
    if (!user) throw noSuchUser();
    return c.json(user);
  })
  .get("/me/sessions", async (c) => {
    const caller = c.get("caller");
    const sessions = await storedUser(c.env, caller.userId).listSessions();
    return c.json({ sessions: sessions.map((s) => ({ ...s, current: s.id === caller.sessionId })) });
  })
  .delete("/me/sessions/:sid", async (c) => {
    const caller = c.get("caller");
    if (!(await storedUser(c.env, caller.userId).revokeSession(c.req.param("sid")))) throw new AppError("not_found", "no such session");
    return c.json({ ok: true });
  })
  .post("/me/password", async (c) => {
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
    return c.json({ ok: true });
  })
  .get("/users", async (c) => {
    const q = (c.req.query("q") ?? "").slice(0, 64);
    return c.json({ users: await directory(c.env).searchUsers(q, Number(c.req.query("limit") ?? 20) || 20) });
  })
  .get("/users/:id", async (c) => {
    const id = c.req.param("id");
    const user = isLocalUserId(c.env, id) ? await directory(c.env).getUser(id) : null;
    if (!user) throw noSuchUser();
    return c.json(user);
  })
  .post("/users", requireAdmin(), async (c) => {
    const body = await readJson(c, CreateUserBody);
    assertPasswordAllowed(body.password, body.username);
    const user = await directory(c.env).createUser({
      username: body.username,
      displayName: body.displayName,
      passwordHash: await hashPassword(body.password, limitsOf(c.env).passwordHashIterations),
      isAdmin: body.isAdmin ?? false,
    });
    return c.json(user, 201);
  })
  .post("/users/:id/deactivate", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw noSuchUser();
    if (id === c.get("caller").userId) throw new AppError("invalid_request", "you cannot deactivate yourself");
    return c.json(await directory(c.env).deactivate(id));
  })
  .post("/users/:id/reactivate", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw noSuchUser();
    return c.json(await directory(c.env).reactivate(id));
  })
  .get("/users/:id/sessions", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    const user = await resolveUser(c.env, id);
    if (!user) throw noSuchUser();
    return c.json({ sessions: await user.listSessions() });
  })
  .delete("/users/:id/sessions/:sid", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    const user = await resolveUser(c.env, id);
    if (!user || !(await user.revokeSession(c.req.param("sid")))) throw new AppError("not_found", "no such session");
    return c.json({ ok: true });
  })
  .delete("/users/:id/sessions", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    const user = await resolveUser(c.env, id);
    if (!user) throw noSuchUser();
    return c.json({ revoked: await user.revokeAll("signed out by an administrator") });
  });
