/**
 * `/link/v1/visitors/*`: what a node asks the home node of a person who signs
 * in there (a visitor). The home decides everything about its own people:
 *
 * - `POST /sign-in`: it checks the password with its own throttling — per
 *   username as always, per (visited node + client address) instead of the
 *   bare address, and the person's device token of an earlier sign-in here —
 *   and issues a session of its own (listed with the person's other sessions,
 *   ended by a password change, an admin or deactivation like any other).
 * - `POST /api`: one REST request of that session, served here exactly as if
 *   the person had sent it to this node (their room list, their inbox,
 *   settings, rooms this node serves…). The token is checked as for any request
 *   here, so a node can do with it nothing the person's own browser could not.
 * - `GET /socket`: the person's device socket, passed through by the visited node.
 *
 * The password and the token cross the link inside the signed request: over
 * plain HTTP they are readable on the way, so links between branches should
 * use TLS (docs/FEDERATION.md).
 */
import { Hono, type Context } from "hono";
import type { Env } from "../../durable-objects/shared/env";
import { AppError } from "../../durable-objects/shared/app-error";
import { b64url, fromB64url } from "../../durable-objects/shared/bytes";
import { authOf, limitsOf } from "../../durable-objects/shared/env";
import { dummyHash, verifyPassword } from "../../durable-objects/shared/passwords";
import { directoryStub, storedUser } from "../../durable-objects/shared/objects";
import { VisitorRelay, VisitorSignIn, type VisitorRelayAnswer, type VisitorSession } from "../../protocol/visitors";
import { checkToken } from "../middleware/auth";
import { withKdfBudget } from "../routes/auth";
import { withIdentity } from "../routes/sockets";
import { linkReply, type LinkEnv } from "../routes/link-reply";
import { parseToken } from "../../durable-objects/shared/session-tokens";
import { homeNode } from "../../protocol/ids";

/** Headers of the home's answer that the visited node passes on to the person. */
export const RELAYED_HEADERS = ["content-type", "content-disposition", "content-range", "accept-ranges", "cache-control", "etag", "last-modified", "retry-after", "content-language", "x-content-type-options"];
/** The header a visited node names the visitor's session token with when it opens their device socket here. */
export const VISITOR_TOKEN_HEADER = "x-outpost-visitor-token";

type ApiFetch = (request: Request, env: Env, ctx: Context<LinkEnv>["executionCtx"]) => Promise<Response>;
let api: ApiFetch | null = null;

/** The node's own app, which serves relayed requests (set once by worker/index.ts: it imports this file). */
export function serveVisitorsWith(fetch: ApiFetch): void {
  api = fetch;
}

/** A session token of a person homed on this node (a visited node relays only for a person's home). */
function ownPerson(env: Env, token: string): boolean {
  const parsed = parseToken("session", token);
  return !!parsed && homeNode(parsed.userId) === env.NODE_NAME;
}

function parse<T>(c: { get(k: "linkBody"): string }, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T | null {
  let value: unknown;
  try {
    value = JSON.parse(c.get("linkBody") || "null");
  } catch {
    return null;
  }
  const r = schema.safeParse(value);
  return r.success ? r.data : null;
}

export const linkVisitors = new Hono<LinkEnv>()
  .post("/sign-in", async (c) => {
    const body = parse(c, VisitorSignIn);
    if (!body) return linkReply(c, 400, { error: { code: "invalid_request", message: "not a sign-in" } });
    const dir = directoryStub(c.env);
    // The home's own per-address bucket, keyed by the node the person is at: guessing at one
    // branch cannot lock out people signing in at another. No address known: none, as at home.
    const address = body.address === "unknown" ? "unknown" : `${c.get("linkFrom")}/${body.address}`;
    const found = await dir.loginLookup(body.username, address, body.deviceToken);
    if ("retryAfter" in found) return linkReply(c, 429, { error: { code: "rate_limited", message: "too many failed sign-ins; wait and try again", retryAfterMs: found.retryAfter * 1000 } });
    const limits = limitsOf(c.env);
    const ok = await withKdfBudget(limits, () => verifyPassword(body.password, found.passwordHash ?? dummyHash(limits.passwordHashIterations)));
    if (!ok || !found.user || !found.user.active) {
      await dir.loginFailed(body.username, address, found.deviceId);
      return linkReply(c, 401, { error: { code: "unauthorized", message: "wrong username or password, or the account is deactivated" } });
    }
    // A password is all a visited node can relay: an account with a second factor, or
    // a home that signs in through its identity provider only, must not get a session
    // from the password alone. Such people sign in at their home node (the right
    // password is not counted as a failure; nothing is issued).
    if ((await dir.mfaStatus(found.user.id)).enabled) {
      return linkReply(c, 403, { error: { code: "forbidden", message: "this account uses two-factor sign-in: sign in at your home node" } });
    }
    if (authOf(c.env).oidc?.passwordSignIn === false) {
      return linkReply(c, 403, { error: { code: "forbidden", message: "your home node signs in through single sign-on only: sign in there" } });
    }
    const deviceToken = await dir.loginSucceeded(body.username, found.deviceId);
    const user = found.user;
    const { token, session } = await storedUser(c.env, user.id).createSession(`${body.userAgent.slice(0, 160)} (signed in at ${c.get("linkFrom")})`);
    const answer: VisitorSession = { token, sessionId: session.id, expiresAt: session.expiresAt, user: { id: user.id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin }, deviceToken };
    return linkReply(c, 200, answer);
  })
  .post("/api", async (c) => {
    const body = parse(c, VisitorRelay);
    if (!body || body.path.startsWith("/api/v1/auth/") || body.path.startsWith("/api/v1/socket")) {
      return linkReply(c, 400, { error: { code: "invalid_request", message: "not a relayable request" } });
    }
    if (!api) throw new AppError("internal", "visitor relay not wired");
    if (!ownPerson(c.env, body.token)) return linkReply(c, 403, { error: { code: "forbidden", message: "a node answers only for its own people" } });
    const bytes = body.body === null ? null : fromB64url(body.body);
    if (body.body !== null && !bytes) return linkReply(c, 400, { error: { code: "invalid_request", message: "body: base64url" } });
    const headers = new Headers({ authorization: `Bearer ${body.token}` });
    if (body.contentType) headers.set("content-type", body.contentType);
    // Resolved as the app will see it: "/api/v1/../link/…" must not reach anything but the API.
    const url = new URL(body.path, c.req.url);
    if (!url.pathname.startsWith("/api/v1/") || url.pathname.startsWith("/api/v1/auth/")) return linkReply(c, 400, { error: { code: "invalid_request", message: "not a relayable request" } });
    const res = await api(new Request(url, { method: body.method, headers, body: bytes && body.method !== "GET" && body.method !== "HEAD" ? bytes : null }), c.env, c.executionCtx);
    const out: Record<string, string> = {};
    for (const name of RELAYED_HEADERS) {
      const v = res.headers.get(name);
      if (v !== null) out[name] = v;
    }
    return linkReply(c, 200, { status: res.status, headers: out, body: b64url(new Uint8Array(await res.arrayBuffer())) } satisfies VisitorRelayAnswer);
  })
  .get("/socket", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return linkReply(c, 400, { error: { code: "invalid_request", message: "this endpoint speaks WebSocket" } });
    const token = c.req.header(VISITOR_TOKEN_HEADER) ?? "";
    const caller = ownPerson(c.env, token) ? await checkToken(c.env, token) : null;
    if (!caller) return linkReply(c, 401, { error: { code: "unauthorized", message: "session missing, expired or revoked" } });
    return storedUser(c.env, caller.userId).fetch(withIdentity(c.req.raw, caller));
  });
