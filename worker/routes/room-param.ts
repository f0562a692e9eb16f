import type { Context } from "hono";

/**
 * The room id of a route mounted under `/rooms/:id` (members, messages, files).
 * Hono hands a sub-app its parent's parameters at run time, but its types only
 * know the sub-app's own path; "" (no such room) if it were ever missing.
 */
export const roomParam = (c: Context): string => c.req.param("id") ?? "";
