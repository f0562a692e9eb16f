/**
 * `/invites`: the invitee's side of a one-time invite link (no session yet).
 * The token is the credential: 256 random bits, so guessing is hopeless and
 * only the password hash needs the sign-in budget.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { reply } from "../reply";
import { AcceptInviteBody, InviteLookupBody } from "../../protocol/rest";
import { InviteInfoSchema, SignInSchema } from "../../protocol/responses";
import { assertPasswordAllowed, hashPassword } from "../../durable-objects/shared/passwords";
import { directoryStub as directory, storedUser } from "../../durable-objects/shared/objects";
import { limitsOf } from "../../durable-objects/shared/env";
import { startSession, withKdfBudget } from "./auth";

export const invites = new Hono<AppEnv>()
  .post("/lookup", async (c) => {
    const body = await readJson(c, InviteLookupBody);
    const { user, expiresAt } = await directory(c.env).checkInvite(body.token);
    return reply(c, InviteInfoSchema, { username: user.username, displayName: user.displayName, expiresAt });
  })
  .post("/accept", async (c) => {
    const body = await readJson(c, AcceptInviteBody);
    const dir = directory(c.env);
    // Checked first, so a used or expired link says so before the password is judged or hashed.
    const { user } = await dir.checkInvite(body.token);
    assertPasswordAllowed(body.password, user.username);
    const limits = limitsOf(c.env);
    const passwordHash = await withKdfBudget(limits, () => hashPassword(body.password, limits.passwordHashIterations));
    const accepted = await dir.acceptInvite(body.token, passwordHash);
    // A link issued to an account that had a password (a reset by link) signs out its other devices.
    await storedUser(c.env, accepted.id).revokeAll("password set through an invite link");
    return reply(c, SignInSchema, await startSession(c, accepted, await dir.issueDeviceToken(accepted.id)));
  });
