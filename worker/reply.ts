/**
 * Every JSON answer of a route goes out through `reply`, typed by the schema
 * protocol/ declares for it, so a route cannot answer with a shape the SDK,
 * the web client and docs/API.md do not know.
 *
 * It also checks, on every answer:
 * - that the schema is the one protocol/api.ts lists for this route (the table
 *   docs/API.md is held to), so the docs cannot name the wrong type;
 * - that the body matches it strictly, so a field that should not leave the
 *   node (a password hash, a storage key) is refused instead of sent.
 * A failed check is a bug in this node, not bad input: it is logged and
 * answered 500 `internal`, and the route's tests fail.
 *
 * Cost: the check parses a body that is about to be serialised anyway; zod
 * takes ~2 µs for one message and ~55 µs for a history page of 100 (less than
 * half of JSON.stringify on the same page; measured with zod jitless, as in
 * workerd). Frames are never checked here: the message path's socket frames
 * are built by the room object's typed senders and only the tests parse them.
 *
 * @example
 *   .get("/:id", async (c) => reply(c, RoomInfoSchema, await room.info(caller)))
 *   .post("/", async (c) => reply(c, RoomSchema, room, 201))
 */
import type { Context } from "hono";
import { routePath } from "hono/route";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { describeIssues } from "../protocol/frames";
import { routeKey, ROUTES } from "../protocol/api";

export function reply<S extends z.ZodType, U extends ContentfulStatusCode = 200>(c: Context, schema: S, body: z.output<S>, status?: U) {
  checkReply(c, schema, body);
  return c.json(body, (status ?? 200) as U);
}

/** Throws when `body` is not what this route declares (see above). */
export function checkReply(c: Context, schema: z.ZodType, body: unknown): void {
  const key = routeKey(c.req.method === "HEAD" ? "GET" : c.req.method, routePath(c));
  if (ROUTES[key] !== schema) throw new Error(`reply: ${key} answered with a schema protocol/api.ts does not list for it`);
  const checked = schema.safeParse(body);
  if (!checked.success) throw new Error(`reply: the answer to ${key} does not match its schema: ${describeIssues(checked.error)}`);
}
