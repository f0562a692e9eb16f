/**
 * Every request: a request id (in the `X-Request-Id` answer header and the
 * log line), one JSON log line when it is answered, and the HTTP metrics.
 *
 * The request id: a well-formed incoming `X-Request-Id` (`[A-Za-z0-9._-]`,
 * 1–64 characters — what nginx's `$request_id`, Envoy's UUIDs and most
 * tracing proxies send) is kept, so a proxy's log and the node's line up;
 * anything else (absent, too long, a newline or other characters that could
 * forge or break a log line) is replaced by a fresh UUID. It is kept from any
 * client, not only from a trusted proxy: it is a correlation label, never used
 * to authorise or deduplicate anything, and the character rule keeps it from
 * harming the log, so the worst a client can do is label its own requests
 * confusingly — read it as "the id the caller asked for", not as unique.
 *
 * What is logged is the route pattern (`/api/v1/rooms/:id/messages`), never the
 * raw path or the query: paths can carry credentials (an invite code) and
 * queries tokens (`?ticket=`). No header, cookie or body is ever logged.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app-env";
import { log } from "../../durable-objects/shared/log";
import { httpErrors, httpRequests } from "../../durable-objects/shared/node-metrics";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The incoming id if it is well-formed, else a new one. */
export function requestIdFor(incoming: string | undefined): string {
  return incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

export function requestLog(): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const started = performance.now();
    const rid = requestIdFor(c.req.header("x-request-id"));
    c.set("requestId", rid);
    await next();
    const status = c.res.status;
    // A 101 keeps the object's own response (its headers cannot change); the id is in the log.
    if (status !== 101) {
      try {
        c.res.headers.set("X-Request-Id", rid);
      } catch {
        c.res = new Response(c.res.body, c.res);
        c.res.headers.set("X-Request-Id", rid);
      }
    }
    const route = routeOf(c);
    const method = c.req.method;
    const code = status >= 400 ? (c.get("errorCode") ?? (await errorCodeOf(c.res))) : undefined;
    httpRequests.inc({ method, route, status: String(status) });
    if (code !== undefined) httpErrors.inc({ route, code });
    // Node-to-node traffic that went through (a room's pushes, queued sends: up to a few hundred a
    // second per link under load) is counted above, not logged line by line; its failures are logged.
    if (status < 400 && route.startsWith("/link/")) return;
    const caller = c.get("caller");
    log(status >= 500 ? "error" : status >= 400 ? "warn" : "info", "request", {
      rid,
      method,
      route,
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      ...(caller ? { user: caller.userId } : {}),
      ...(code !== undefined ? { code } : {}),
    });
  };
}

/**
 * The pattern of the route that answered: the last matched route that is not
 * a wildcard (middleware), else the last wildcard (`/api/v1/*` for a request
 * refused by authentication before any handler), else "unmatched".
 */
function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  const specific = routes.filter((r) => !r.path.endsWith("*"));
  return (specific.at(-1) ?? routes.at(-1))?.path ?? "unmatched";
}

/** The `error.code` of an error answer that did not pass through onError (e.g. one an object made). */
async function errorCodeOf(res: Response): Promise<string> {
  if (!res.headers.get("content-type")?.includes("application/json")) return "http_" + res.status;
  try {
    const body = (await res.clone().json()) as { error?: { code?: unknown } };
    return typeof body?.error?.code === "string" && /^[a-z_]{1,40}$/.test(body.error.code) ? body.error.code : "http_" + res.status;
  } catch {
    return "http_" + res.status;
  }
}
