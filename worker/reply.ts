/**
 * Every JSON answer of a route goes out through `reply`, typed by the schema
 * protocol/ declares for it, so a route cannot answer with a shape the SDK,
 * the web client and docs/API.md do not know.
 *
 * It also checks, on every answer:
 * - that the schema is the one protocol/api.ts lists for this route (the table
 *   docs/API.md is held to: worker/route-contract.ts);
 * - that the body matches it strictly, so a field that should not leave the
 *   node (a password hash, a storage key) is refused instead of sent.
 * A failed check is a bug in this node, not bad input: it throws, the request
 * is answered 500 `internal` (and logged), and the route's tests fail.
 *
 * Checked always, not only in tests: zod takes ~2 µs for one message and
 * ~55 µs for a history page of 100 (jitless, as in workerd; half of what
 * JSON.stringify takes on the same page), and on a real node the workerd CPU
 * of a request did not move beyond noise with the check on or off (GET of a
 * 100-message page ~1.5 ms, a REST send ~1.2 ms, 1,000 requests each, two
 * rounds). Socket frames, the message path, are never checked here: the
 * objects build them with typed senders and only the tests parse them.
 *
 * @example
 *   .get("/:id", async (c) => reply(c, RoomInfoSchema, await room.info(caller)))
 *   .post("/", async (c) => reply(c, RoomSchema, room, 201))
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { describeIssues } from "../protocol/frames";
import { assertDeclared, routeOf } from "./route-contract";

export function reply<S extends z.ZodType, U extends ContentfulStatusCode = 200>(c: Context, schema: S, body: z.output<S>, status?: U) {
  assertDeclared(c, "answer", schema);
  const checked = schema.safeParse(body);
  if (!checked.success) throw new Error(`reply: the answer to ${routeOf(c)} does not match its schema: ${describeIssues(checked.error)}`);
  return c.json(body, (status ?? 200) as U);
}
