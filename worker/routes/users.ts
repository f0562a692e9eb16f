/** `/users`: the people directory, and what admins do to accounts. */
import { limitsOf } from "../../durable-objects/shared/env";
import { forgetEnrolled } from "../middleware/mfa-gate";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { reply } from "../reply";
import { CreateUserBody, ResetPasswordBody, UpdateUserBody, UsersQuery } from "../../protocol/rest";
import { UserSchema } from "../../protocol/models";
import { InviteSchema, OkSchema, RevokedSchema, SessionListSchema, UserListSchema } from "../../protocol/responses";
import { AppError } from "../../durable-objects/shared/app-error";
import { assertPasswordAllowed, hashPassword } from "../../durable-objects/shared/passwords";
import { directoryStub as directory, isLocalUserId, resolveUser, storedUser } from "../../durable-objects/shared/objects";
import { requireAdmin } from "../middleware/auth";
import { USER_ID_RE } from "../../protocol/ids";
import { getAvatar } from "../avatars";

const noSuchUser = () => new AppError("not_found", "no such user");

export const users = new Hono<AppEnv>()
  .get("/", async (c) => {
    const q = readQuery(c, UsersQuery);
    // Ids that are not ids at all never reach the directory (they could name nothing).
    if (q.ids.length) return reply(c, UserListSchema, { users: await directory(c.env).getUsers(q.ids.filter((id) => USER_ID_RE.test(id))) });
    return reply(c, UserListSchema, { users: await directory(c.env).searchUsers(q.q, q.limit) });
  })
  .get("/:id", async (c) => {
    const id = c.req.param("id");
    // Accounts of every node of the cluster, as the directory knows them (it touches no user object).
    const user = USER_ID_RE.test(id) ? await directory(c.env).getUser(id) : null;
    if (!user) throw noSuchUser();
    return reply(c, UserSchema, user);
  })
  .get("/:id/avatar", getAvatar)
  .post("/", requireAdmin(), async (c) => {
    const body = await readJson(c, CreateUserBody);
    if (body.password !== undefined) assertPasswordAllowed(body.password, body.username);
    const user = await directory(c.env).createUser({
      username: body.username,
      displayName: body.displayName,
      // No password: "" matches nothing (sign-in checks it against the dummy hash)
      // until the owner chooses one through an invite link.
      passwordHash: body.password === undefined ? "" : await hashPassword(body.password, limitsOf(c.env).passwordHashIterations),
      isAdmin: body.isAdmin ?? false,
    }, c.get("caller").userId);
    return reply(c, UserSchema, user, 201);
  })
  .patch("/:id", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw noSuchUser();
    const body = await readJson(c, UpdateUserBody);
    // Taking your own admin flag is allowed while another active admin remains (the directory checks).
    const user = await directory(c.env).updateUser(id, body, c.get("caller").userId);
    if (body.displayName !== undefined) c.executionCtx.waitUntil(storedUser(c.env, id).announceProfile());
    return reply(c, UserSchema, user);
  })
  .post("/:id/password", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (id === c.get("caller").userId) throw new AppError("invalid_request", "change your own password with POST /api/v1/me/password (it asks for the current one)");
    const user = isLocalUserId(c.env, id) ? await directory(c.env).getUser(id) : null;
    if (!user) throw noSuchUser();
    const body = await readJson(c, ResetPasswordBody);
    assertPasswordAllowed(body.password, user.username);
    await directory(c.env).setPasswordHash(id, await hashPassword(body.password, limitsOf(c.env).passwordHashIterations), c.get("caller").userId);
    // Whoever knew the old password is signed out everywhere.
    await storedUser(c.env, id).revokeAll("password reset by an administrator", undefined, c.get("caller").userId);
    return reply(c, OkSchema, { ok: true });
  })
  .delete("/:id/mfa", requireAdmin(), async (c) => {
    // Someone who lost their phone and their recovery codes: an administrator turns their
    // second factor off, and they enrol again after signing in with their password.
    const id = c.req.param("id");
    if (id === c.get("caller").userId) throw new AppError("invalid_request", "turn off your own two-factor sign-in with POST /api/v1/me/mfa/disable (it asks for your password)");
    const user = isLocalUserId(c.env, id) ? await directory(c.env).getUser(id) : null;
    if (!user) throw noSuchUser();
    await directory(c.env).mfaDisable(id, c.get("caller").userId);
    forgetEnrolled(id);
    return reply(c, OkSchema, { ok: true });
  })
  .post("/:id/invite", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw noSuchUser();
    return reply(c, InviteSchema, await directory(c.env).issueInvite(id, c.get("caller").userId), 201);
  })
  .post("/:id/deactivate", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw noSuchUser();
    if (id === c.get("caller").userId) throw new AppError("invalid_request", "you cannot deactivate yourself");
    return reply(c, UserSchema, await directory(c.env).deactivate(id, c.get("caller").userId));
  })
  .post("/:id/reactivate", requireAdmin(), async (c) => {
    const id = c.req.param("id");
    if (!isLocalUserId(c.env, id)) throw noSuchUser();
    return reply(c, UserSchema, await directory(c.env).reactivate(id, c.get("caller").userId));
  })
  .get("/:id/sessions", requireAdmin(), async (c) => {
    const user = await resolveUser(c.env, c.req.param("id"));
    if (!user) throw noSuchUser();
    return reply(c, SessionListSchema, { sessions: await user.listSessions() });
  })
  .delete("/:id/sessions/:sid", requireAdmin(), async (c) => {
    const user = await resolveUser(c.env, c.req.param("id"));
    if (!user || !(await user.revokeSession(c.req.param("sid"), { actor: c.get("caller").userId, action: "session.revoked" }))) throw new AppError("not_found", "no such session");
    return reply(c, OkSchema, { ok: true });
  })
  .delete("/:id/sessions", requireAdmin(), async (c) => {
    const user = await resolveUser(c.env, c.req.param("id"));
    if (!user) throw noSuchUser();
    return reply(c, RevokedSchema, { revoked: await user.revokeAll("signed out by an administrator", undefined, c.get("caller").userId) });
  });
