/**
 * Visitors, on the node they visit. A person homed on another node of the
 * cluster signs in here: their home checks the password over the link and
 * issues a session of its own (home-routes.ts); this node keeps its hash
 * (durable-objects/directory/visitors.ts) and from then on serves the person
 * here, with the least new machinery:
 *
 * - Rooms this node serves for everyone — its own rooms, and its mirrors of
 *   rooms homed on the person's home — are served here exactly as for a local
 *   member: REST, room sockets, sends queued across a cut (202) and delivered
 *   later. The room's home decides as always: a room here knows the person as a
 *   member; the person's home accepts their queued sends and calls from this
 *   node because the session is its own and still live (routes/link.ts).
 * - Everything else — the room list and inbox, settings, rooms of a third node,
 *   people, search, the device socket — lives at the home and is relayed there
 *   with the session's token, as if the person had asked the home directly.
 *   While the link is down those answer 503 `home_unreachable`; what this node
 *   serves keeps working.
 *
 * Sign-in while the home cannot be reached fails with `home_unreachable`;
 * sessions issued earlier keep working here (authenticated from the hash).
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import type { Env } from "../../durable-objects/shared/env";
import type { Caller } from "../../durable-objects/shared/identity";
import type { User } from "../../protocol/models";
import { AppError } from "../../durable-objects/shared/app-error";
import { b64url, fromB64url, sha256hex } from "../../durable-objects/shared/bytes";
import { clusterOf, LinkError, linkFetch, nodeKey, peerNamed } from "../../durable-objects/shared/cluster";
import { signRequest } from "../../durable-objects/shared/link-auth";
import { directoryStub, linkStub } from "../../durable-objects/shared/objects";
import { parseToken } from "../../durable-objects/shared/session-tokens";
import { VISITOR_CHECK_MS } from "../../durable-objects/directory/visitors";
import { ERROR_STATUS, type ErrorCode } from "../../protocol/errors";
import { homeNode, ROOM_ID_RE, USER_ID_RE } from "../../protocol/ids";
import { VisitorRelayAnswer, VisitorSession } from "../../protocol/visitors";
import { VISITOR_TOKEN_HEADER } from "./home-routes";

/** Relayed request bodies are read whole and signed: larger ones (big uploads into rooms served elsewhere) are refused. */
const MAX_RELAYED_BODY = 3 * 1024 * 1024;

/** Is `userId` a well-formed id of a person homed on another node of this cluster? */
export function isVisitorId(env: Env, userId: string): boolean {
  if (!USER_ID_RE.test(userId)) return false;
  const home = homeNode(userId);
  return !!home && home !== env.NODE_NAME && !!peerNamed(env, home);
}

/** The caller behind a visitor's session token, from this node's own record (no link needed); null when none is live. */
export async function visitorCaller(env: Env, userId: string, secret: string): Promise<Caller | null> {
  const row = await directoryStub(env).visitorSession(await sha256hex(secret));
  if (!row || row.userId !== userId) return null;
  return { userId, sessionId: row.sessionId, username: row.username, displayName: row.displayName, isAdmin: false, sendReceipts: true };
}

function unreachable(home: string): AppError {
  return new AppError("home_unreachable", `your home node (${home}) cannot be reached now; try again later (sessions already open keep working)`);
}

function failedLink(env: Env, home: string, err: LinkError): AppError {
  console.error(`visitor request to ${home} failed: ${err.message}`);
  void linkStub(env, home).noteResult(home, false).catch(() => {});
  return unreachable(home);
}

/**
 * Ask `account`'s home to check a sign-in here. Resolves with the home's session
 * (now also recorded here), or throws what the person should be told.
 */
export async function signInAtHome(env: Env, account: User, credentials: { username: string; password: string; address: string; deviceToken: string | null; userAgent: string }): Promise<VisitorSession> {
  const home = homeNode(account.id)!;
  // A link already known to be down answers at once, not after the link's timeout.
  if ((await linkStub(env, home).getStatus(home)).state === "down") throw unreachable(home);
  let answer;
  try {
    answer = await linkFetch(env, home, "POST", "/link/v1/visitors/sign-in", { ...credentials, username: account.username });
  } catch (err) {
    if (err instanceof LinkError) throw failedLink(env, home, err);
    throw err;
  }
  if (answer.status !== 200) throw homeRefusal(home, answer.status, answer.body);
  const parsed = VisitorSession.safeParse(answer.body);
  const token = parsed.success ? parseToken("session", parsed.data.token) : null;
  // The home speaks for its own person only: the session must be the account's.
  if (!parsed.success || !token || token.userId !== account.id || parsed.data.user.id !== account.id) {
    console.error(`the home ${home} answered a visitor sign-in with something else`);
    throw unreachable(home);
  }
  const s = parsed.data;
  await directoryStub(env).addVisitorSession({ secretHash: await sha256hex(token.secret), userId: account.id, sessionId: s.sessionId, username: s.user.username, displayName: s.user.displayName, createdAt: Date.now(), expiresAt: s.expiresAt });
  return s;
}

/** The home's refusal as the person's error (wrong password, throttled); anything else is the link's trouble. */
function homeRefusal(home: string, status: number, body: unknown): AppError {
  const error = (body as { error?: { code?: unknown; message?: unknown; retryAfterMs?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" ? error.code : "";
  const message = typeof error?.message === "string" ? error.message : `the home node answered ${status}`;
  if (code === "unauthorized") return new AppError("unauthorized", message);
  if (code === "rate_limited") {
    const ms = typeof error?.retryAfterMs === "number" ? error.retryAfterMs : 60_000;
    return new AppError("rate_limited", message, Math.ceil(ms / 1000));
  }
  if (code === "invalid_request") return new AppError("invalid_request", message);
  // Two-factor or SSO-only accounts: the home's sentence says to sign in there.
  if (code === "forbidden") return new AppError("forbidden", message);
  // 404 from an older home without visitor sign-in, a 5xx: the person cannot sign in here now.
  console.error(`the home ${home} refused a visitor sign-in: ${status} ${code} ${message}`);
  return unreachable(home);
}

/** The session token the request came with (bearer or cookie). */
function presentedToken(c: Context<AppEnv>): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
  if (m) return m[1];
  const cookie = c.req.header("cookie") ?? "";
  const found = /(?:^|;\s*)outpost_session=([^;]+)/.exec(cookie);
  return found ? decodeURIComponent(found[1]) : null;
}

/** Paths this node answers for itself whoever asks: its own view of the cluster and its limits. */
const LOCAL_PATHS = new Set(["/api/v1/cluster", "/api/v1/limits"]);
const ROOM_PATH = /^\/api\/v1\/rooms\/([^/]+)(\/.*)?$/;
const FILE_PATH = /^\/api\/v1\/files\/([^/]+)$/;

/**
 * After authentication: a visitor's request is served here when it is about a
 * room this node serves (see the top of this file), else relayed to their home.
 * A session in use is confirmed with the home now and then, so one the home
 * ended (signed out, password changed, revoked) ends here too.
 */
export function visitorDispatch(): MiddlewareHandler<AppEnv> {
  return async function visitorDispatch(c, next) {
    const caller = c.get("caller");
    if (!clusterOf(c.env) || !isVisitorId(c.env, caller.userId)) return next();
    const token = presentedToken(c);
    const parsed = token ? parseToken("session", token) : null;
    if (!token || !parsed) throw new AppError("unauthorized", "sign in first");
    const home = homeNode(caller.userId)!;
    const secretHash = await sha256hex(parsed.secret);
    const dir = directoryStub(c.env);
    const row = await dir.visitorSession(secretHash);
    if (!row) throw new AppError("unauthorized", "sign in first (session missing, expired or revoked)");
    if (Date.now() - row.checkedAt > VISITOR_CHECK_MS) c.executionCtx.waitUntil(confirmWithHome(c.env, home, token, secretHash));

    const path = c.req.path;
    if (LOCAL_PATHS.has(path)) return next();
    const room = ROOM_PATH.exec(path);
    // Files of a room homed elsewhere cross the link with the home's own checks of its person
    // (routes/link-files.ts): they go through the home, which streams them as for anyone there.
    const fileOfMirror = room && room[2]?.startsWith("/files") && homeNode(decodeURIComponent(room[1])) !== c.env.NODE_NAME;
    if (room && !fileOfMirror) {
      const roomId = decodeURIComponent(room[1]);
      if (await servedHere(c.env, roomId, home)) {
        if (room[2] === "/socket") await dir.visitorRoom(secretHash, roomId);
        return next();
      }
    }
    // A download of a file of this node's own rooms: the room here decides, as for a local member.
    const file = FILE_PATH.exec(path);
    if (file && homeNode(decodeURIComponent(file[1])) === c.env.NODE_NAME) return next();
    if (path === "/api/v1/socket") return relaySocket(c, home, token);
    return relay(c, home, token, secretHash);
  };
}

/** A room of this node, or this node's mirror of a room of the person's home (registered here, so no object is made by asking). */
async function servedHere(env: Env, roomId: string, home: string): Promise<boolean> {
  if (!ROOM_ID_RE.test(roomId)) return false;
  const roomHome = homeNode(roomId);
  if (roomHome !== env.NODE_NAME && roomHome !== home) return false;
  return (await directoryStub(env).existingIds([roomId])).includes(roomId);
}

/** Ask the home whether the session still stands (a relayed GET /me); a refusal ends it here. */
async function confirmWithHome(env: Env, home: string, token: string, secretHash: string): Promise<void> {
  try {
    const answer = await linkFetch<VisitorRelayAnswer>(env, home, "POST", "/link/v1/visitors/api", { token, method: "GET", path: "/api/v1/me", contentType: null, body: null });
    if (answer.status !== 200) return;
    if (answer.body.status === 401) await directoryStub(env).endVisitorSessions({ secretHash }, "session ended at the home node");
    else if (answer.body.status === 200) await directoryStub(env).visitorChecked(secretHash);
  } catch {
    // The link is down: the session stands until the home can say otherwise.
  }
}

/** One REST request served by the home as the person; its answer passed on as it came. */
async function relay(c: Context<AppEnv>, home: string, token: string, secretHash: string): Promise<Response> {
  const method = c.req.method;
  let body: string | null = null;
  if (method !== "GET" && method !== "HEAD") {
    if (Number(c.req.header("content-length") ?? "0") > MAX_RELAYED_BODY) throw new AppError("too_large", "too large to pass to your home node from here");
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength > MAX_RELAYED_BODY) throw new AppError("too_large", "too large to pass to your home node from here");
    body = b64url(bytes);
  }
  const url = new URL(c.req.url);
  let answer;
  try {
    answer = await linkFetch<VisitorRelayAnswer>(c.env, home, "POST", "/link/v1/visitors/api", { token, method, path: url.pathname + url.search, contentType: c.req.header("content-type") ?? null, body }, 10_000);
  } catch (err) {
    if (err instanceof LinkError) throw failedLink(c.env, home, err);
    throw err;
  }
  const parsed = VisitorRelayAnswer.safeParse(answer.body);
  if (answer.status !== 200 || !parsed.success) {
    const code = (answer.body as { error?: { code?: string } } | null)?.error?.code;
    console.error(`the home ${home} refused a relayed request: ${answer.status} ${code ?? ""}`);
    throw code && code in ERROR_STATUS && code !== "unauthorized" && code !== "forbidden" ? new AppError(code as ErrorCode, "refused by your home node") : unreachable(home);
  }
  // The home no longer knows the session: it ended there, so it ends here.
  if (parsed.data.status === 401) await directoryStub(c.env).endVisitorSessions({ secretHash }, "session ended at the home node");
  const bytes = fromB64url(parsed.data.body) ?? new Uint8Array(0);
  const headers = new Headers(parsed.data.headers);
  return new Response(method === "HEAD" || parsed.data.status === 204 || parsed.data.status === 304 ? null : bytes, { status: parsed.data.status, headers });
}

/**
 * The device socket lives with the person's inbox at the home: the upgrade is
 * signed like any link request and passed through, and the socket's frames then
 * flow between the client and the home through this node. A cut closes it; the
 * client reconnects when the link is back (until then the upgrade answers 503).
 */
async function relaySocket(c: Context<AppEnv>, home: string, token: string): Promise<Response> {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new AppError("invalid_request", "this endpoint speaks WebSocket: send an Upgrade request");
  const cluster = clusterOf(c.env)!;
  const peer = peerNamed(c.env, home);
  if (!peer || !c.env.PEERS) throw unreachable(home);
  const path = "/link/v1/visitors/socket";
  const headers: Record<string, string> = await signRequest(await nodeKey(c.env), { from: cluster.self, to: home, method: "GET", path, body: null });
  headers.upgrade = "websocket";
  headers[VISITOR_TOKEN_HEADER] = token;
  let res: Response;
  try {
    res = await c.env.PEERS.fetch(`${peer.url}${path}`, { method: "GET", headers, signal: AbortSignal.timeout(4000) });
  } catch (err) {
    throw failedLink(c.env, home, new LinkError(home, "unreachable", (err as Error).message));
  }
  if (res.status === 401) throw new AppError("unauthorized", "sign in first (session missing, expired or revoked)");
  if (res.status !== 101 || !res.webSocket) throw unreachable(home);
  return new Response(null, { status: 101, webSocket: res.webSocket });
}

/** Sign out a visitor: here at once, and at the home when it can be reached. */
export async function endVisit(c: Context<AppEnv>, caller: Caller): Promise<void> {
  const token = presentedToken(c);
  const parsed = token ? parseToken("session", token) : null;
  if (parsed) await directoryStub(c.env).endVisitorSessions({ secretHash: await sha256hex(parsed.secret) }, "signed out");
  const home = homeNode(caller.userId)!;
  c.executionCtx.waitUntil(
    linkFetch(c.env, home, "POST", "/link/v1/visitors/api", { token, method: "DELETE", path: `/api/v1/me/sessions/${encodeURIComponent(caller.sessionId)}`, contentType: null, body: null }).then(
      () => undefined,
      () => undefined,
    ),
  );
}
