/**
 * `Server-Timing: app;dur=<ms>` on API responses: how long the node spent on the
 * request (auth, the object RPCs, serialisation), so a client or a benchmark can
 * tell server time from network time. workerd advances the clock at I/O events
 * only, so the value covers everything up to the last awaited RPC — which is where
 * a request's time goes. WebSocket upgrades (101) are left alone.
 */
import type { MiddlewareHandler } from "hono";
import { mutableHeaders } from "./security-headers";

export function serverTiming(): MiddlewareHandler {
  return async function serverTiming(c, next) {
    const started = performance.now();
    await next();
    if (c.res.status === 101) return;
    mutableHeaders(c).append("Server-Timing", `app;dur=${(performance.now() - started).toFixed(1)}`);
  };
}
