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
import { parseToken } from "../../durable-objects/shared/session-tokens";
import type { Caller } from "../../durable-objects/shared/identity";
import { resolveUser } from "../../durable-objects/shared/objects";
import type { Env } from "../../durable-objects/shared/env";
import { isVisitorId, visitorCaller } from "../visitors/visit";

export const SESSION_COOKIE = "outpost_session";

export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async function requireAuth(c, next) {
    const header = c.req.header("authorization");
    const ticket = c.req.query("ticket");
    let caller: Caller | null = null;
    let via: AppEnv["Variables"]["authVia"] = "bearer";
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) throw new AppError("unauthorized", "use 'Authorization: Bearer <token>'");
      caller = await checkToken(c.env, m[1]);
    } else if (ticket !== undefined && isSocketUpgrade(c)) {
      // Tickets open sockets and nothing else: on any other request a ticket is
      // ignored, so it cannot post a message or read history.
      // A ticket can only be had through an authenticated POST, which the Origin
      // check below guards, so an upgrade with one needs no Origin check of its own.
      via = "ticket";
      caller = await redeemTicket(c.env, ticket);
    } else if (getCookie(c, SESSION_COOKIE)) {
      via = "cookie";
      // Before the session is looked at. A browser sends the cookie with a WebSocket
      // upgrade from any page of the same *site* (SameSite ignores ports, and the
      // handshake is not subject to CORS), so without this a page on another port of
      // this host could read and send in every room of a signed-in user.
      if (isUpgrade(c)) checkOrigin(c, { required: true });
      else if (!["GET", "HEAD", "OPTIONS"].includes(c.req.method)) checkOrigin(c, { required: false });
      caller = await checkToken(c.env, getCookie(c, SESSION_COOKIE)!);
    }
    if (!caller) throw new AppError("unauthorized", "sign in first (session missing, expired or revoked)");
    c.set("caller", caller);
    c.set("authVia", via);
    await next();
  };
}

const isUpgrade = (c: Context) => c.req.header("upgrade")?.toLowerCase() === "websocket";

/** The two socket endpoints: the device socket and a room's socket. */
const SOCKET_PATH = /^\/api\/v1\/(?:rooms\/[^/]+\/)?socket$/;

function isSocketUpgrade(c: Context): boolean {
  return c.req.method === "GET" && isUpgrade(c) && SOCKET_PATH.test(c.req.path);
}

export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    if (!c.get("caller").isAdmin) throw new AppError("forbidden", "only administrators can do this");
    await next();
  };
}

export async function checkToken(env: Env, token: string): Promise<Caller | null> {
  const parsed = parseToken("session", token);
  // A person of another node who signed in here (worker/visitors/visit.ts): checked against this node's record.
  if (parsed && isVisitorId(env, parsed.userId)) return visitorCaller(env, parsed.userId, parsed.secret);
  const user = parsed && (await resolveUser(env, parsed.userId));
  return user ? user.authenticate(parsed.secret) : null;
}

async function redeemTicket(env: Env, ticket: string): Promise<Caller | null> {
  const parsed = parseToken("ticket", ticket);
  const user = parsed && (await resolveUser(env, parsed.userId));
  return user ? user.redeemTicket(parsed.secret) : null;
}

/**
 * Cookie-authenticated requests that act must come from this node's own pages:
 * the request's own origin, or one the operator lists (`allowedOrigins` in the
 * node config, e.g. the public https origin of a TLS-terminating proxy, whose
 * requests reach the node as plain http). `required`: an upgrade must carry an
 * Origin (every browser sends one); a POST without one passes only when
 * `Sec-Fetch-Site` says it is not cross-site (non-browser clients send neither).
 */
function checkOrigin(c: Context<AppEnv>, { required }: { required: boolean }): void {
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    if (origin === new URL(c.req.url).origin || allowedOrigins(c.env).includes(origin)) return;
  } else if (!required) {
    const site = c.req.header("sec-fetch-site");
    if (site === undefined || site === "same-origin" || site === "none") return;
  }
  throw new AppError("forbidden", "cross-site request refused (this node accepts its session cookie only from its own pages)");
}

function allowedOrigins(env: Env): string[] {
  return Array.isArray(env.ALLOWED_ORIGINS) ? env.ALLOWED_ORIGINS : [];
}
