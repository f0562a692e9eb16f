/**
 * Holds each route to its row in protocol/api.ts: the schema a route reads its
 * body or query with, and answers with, must be the one the table lists for
 * it (the table docs/API.md is checked against). A mismatch is a bug in this
 * node, found by the first test that calls the route: it throws, and the
 * request is answered 500 `internal`. The check is an identity comparison and
 * one map lookup per request.
 */
import type { Context } from "hono";
import { routePath } from "hono/route";
import type { z } from "zod";
import { routeKey, ROUTES, type Route } from "../protocol/api";

/** The route's table key ("GET /api/v1/rooms/:id"); a HEAD is answered by its GET. */
export const routeOf = (c: Context) => routeKey(c.req.method === "HEAD" ? "GET" : c.req.method, routePath(c));

export function assertDeclared(c: Context, part: keyof Route, schema: z.ZodType): void {
  const key = routeOf(c);
  if (ROUTES[key]?.[part] !== schema) throw new Error(`${key}: its ${part} schema is not the one protocol/api.ts lists for it`);
}
