/**
 * Authentication: who is calling. Browsers send the HttpOnly session cookie,
 * API clients `Authorization: Bearer <token>`, WebSocket clients that cannot
 * set headers a single-use `?ticket=`. The session is checked in the user's
 * own object on every request, so a revoked session is refused at once.
 *
 * Cookie-authenticated requests that change state must come from this node's
 * own pages (Origin check), so another site cannot make a signed-in browser
 * post on its user's behalf. SameSite=Strict on the cookie is the first line.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AppEnv } from "../app-env";
import { AppError } from "../../durable-objects/shared/app-error";
import { parseToken } from "../../durable-objects/shared/tokens";
import type { Caller } from "../../durable-objects/shared/identity";
import { isLocalUserId, userObject } from "../stubs";
import type { Env } from "../env";

export const SESSION_COOKIE = "outpost_session";

export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async function requireAuth(c, next) {
    const header = c.req.header("authorization");
    let caller: Caller | null = null;
    let via: AppEnv["Variables"]["authVia"] = "bearer";
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) throw new AppError("unauthorized", "use 'Authorization: Bearer <token>'");
      caller = await checkToken(c.env, m[1]);
    } else if (getCookie(c, SESSION_COOKIE)) {
      via = "cookie";
      caller = await checkToken(c.env, getCookie(c, SESSION_COOKIE)!);
      if (caller && !["GET", "HEAD", "OPTIONS"].includes(c.req.method)) checkSameOrigin(c);
    } else if (c.req.query("ticket") && c.req.header("upgrade")?.toLowerCase() === "websocket") {
      via = "ticket";
      caller = await redeemTicket(c.env, c.req.query("ticket")!);
    }
    if (!caller) throw new AppError("unauthorized", "sign in first (session missing, expired or revoked)");
    c.set("caller", caller);
    c.set("authVia", via);
    await next();
  };
}

export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    if (!c.get("caller").isAdmin) throw new AppError("forbidden", "only administrators can do this");
    await next();
  };
}

export async function checkToken(env: Env, token: string): Promise<Caller | null> {
  const parsed = parseToken("session", token);
  if (!parsed || !isLocalUserId(env, parsed.userId)) return null;
  return userObject(env, parsed.userId).authenticate(parsed.secret);
}

async function redeemTicket(env: Env, ticket: string): Promise<Caller | null> {
  const parsed = parseToken("ticket", ticket);
  if (!parsed || !isLocalUserId(env, parsed.userId)) return null;
  return userObject(env, parsed.userId).redeemTicket(parsed.secret);
}

function checkSameOrigin(c: Context): void {
  const origin = c.req.header("origin");
  const site = c.req.header("sec-fetch-site");
  const self = new URL(c.req.url).origin;
  if (origin ? origin === self : site === undefined || site === "same-origin" || site === "none") return;
  throw new AppError("forbidden", "cross-site request refused");
}
