/** `/setup`: first run. The first visitor with the node's one-time token creates the administrator and is signed in. */
import { limitsOf } from "../../durable-objects/shared/env";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { reply } from "../reply";
import { SetupBody } from "../../protocol/rest";
import { SetupStatusSchema, SignInSchema } from "../../protocol/responses";
import { assertPasswordAllowed, hashPassword } from "../../durable-objects/shared/passwords";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { startSession } from "./auth";

export const setup = new Hono<AppEnv>()
  .get("/", async (c) => reply(c, SetupStatusSchema, { needed: await directory(c.env).setupNeeded() }))
  .post("/", async (c) => {
    const body = await readJson(c, SetupBody);
    assertPasswordAllowed(body.password, body.username);
    const passwordHash = await hashPassword(body.password, limitsOf(c.env).passwordHashIterations);
    const dir = directory(c.env);
    const user = await dir.setup(body.token, { username: body.username, passwordHash, displayName: body.displayName ?? body.username });
    return reply(c, SignInSchema, await startSession(c, user, await dir.issueDeviceToken(user.id)), 201);
  });
