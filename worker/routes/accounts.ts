/** `/accounts` (admin): this node's accounts in every state, paged, for the people screen. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { AccountsQuery } from "../../protocol/rest";
import { AccountPageSchema } from "../../protocol/responses";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { requireAdmin } from "../middleware/auth";

export const accounts = new Hono<AppEnv>().get("/", requireAdmin(), async (c) => {
  const q = readQuery(c, AccountsQuery);
  return reply(c, AccountPageSchema, await directory(c.env).accountsPage({ q: q.q, limit: q.limit, cursor: q.cursor }));
});
