/**
 * `GET /metrics`: the node's metrics in Prometheus text format (0.0.4), for a
 * scraper holding the node's metrics token (node config `metrics.token`) or
 * an administrator's session token — always as `Authorization: Bearer …`.
 * Never by cookie: a scraper has none, and a metrics page a browser opens by
 * itself is one more thing another site could try to make it fetch.
 *
 * Rendering reads module state only (durable-objects/shared/node-metrics.ts):
 * a scrape wakes no object and costs the same with 10 or 10,000 rooms.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { AppError } from "../../durable-objects/shared/app-error";
import { renderMetrics } from "../../durable-objects/shared/metrics";
import "../../durable-objects/shared/node-metrics";
import { checkToken } from "../middleware/auth";
import type { Env } from "../../durable-objects/shared/env";

/** Shorter tokens are ignored (the node's config check refuses them; a hand-written wrangler var is not checked). */
export const MIN_METRICS_TOKEN = 32;

export const metrics = new Hono<AppEnv>().get("/", async (c) => {
  const m = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
  if (!m) throw new AppError("unauthorized", "scrape with 'Authorization: Bearer <the node's metrics token or an administrator's session token>'");
  if (!(await isMetricsToken(c.env, m[1]))) {
    const caller = await checkToken(c.env, m[1]);
    if (!caller) throw new AppError("unauthorized", "not the metrics token, and no valid session");
    c.set("caller", caller);
    if (!caller.isAdmin) throw new AppError("forbidden", "only administrators (or the metrics token) can read metrics");
  }
  return c.body(renderMetrics(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" });
});

/**
 * Compared in constant time: both sides are hashed first (so lengths never
 * show either), then compared with the runtime's timingSafeEqual.
 */
async function isMetricsToken(env: Env, token: string): Promise<boolean> {
  const expected = env.METRICS_TOKEN;
  if (typeof expected !== "string" || expected.length < MIN_METRICS_TOKEN) return false;
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(token)), crypto.subtle.digest("SHA-256", enc.encode(expected))]);
  return crypto.subtle.timingSafeEqual(a, b);
}
