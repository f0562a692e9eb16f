/**
 * `GET /api/v1/limits`: what a client must know before it sends (the longest
 * message text, the largest file), so the web client warns while the text is
 * being written instead of showing the node's refusal afterwards.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { limitsOf } from "../../durable-objects/shared/env";
import { NodeLimitsSchema } from "../../protocol/responses";
import { reply } from "../reply";

export const limits = new Hono<AppEnv>().get("/", (c) => {
  const l = limitsOf(c.env);
  return reply(c, NodeLimitsSchema, { maxTextBytes: l.maxTextBytes, maxFileBytes: l.maxFileBytes, recallWindowSeconds: l.recallWindowSeconds });
});
