/**
 * The Outpost Worker: mounts one sub-app per resource, each at its prefix.
 * Authentication happens here; every decision about a room is made by the
 * room's own object. Which route answers with which schema: protocol/api.ts.
 */
import { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { onError, notFoundHandler } from "./middleware/errors";
import { securityHeaders } from "./middleware/security-headers";
import { serverTiming } from "./middleware/server-timing";
import { requireAuth } from "./middleware/auth";
import { reply } from "./reply";
import { HealthSchema } from "../protocol/responses";
import { auth } from "./routes/auth";
import { sso } from "./routes/sso";
import { meMfa } from "./routes/me-mfa";
import { mfaGate } from "./middleware/mfa-gate";
import { setup } from "./routes/setup";
import { me } from "./routes/me";
import { users } from "./routes/users";
import { accounts } from "./routes/accounts";
import { invites } from "./routes/invites";
import { presence } from "./routes/presence";
import { rooms } from "./routes/rooms";
import { dms } from "./routes/dms";
import { files } from "./routes/files";
import { search } from "./routes/search";
import { deviceSocket, socketTickets } from "./routes/sockets";
import { web } from "./routes/web";
import { cluster } from "./routes/cluster";
import { limits } from "./routes/limits";
import { admin } from "./routes/admin";
import { link } from "./routes/link";
import { linkFiles } from "./routes/link-files";
import { startLinks } from "./start-links";
import { requestLog } from "./middleware/request-log";
import { metrics } from "./routes/metrics";
import { adminAudit } from "./routes/admin-audit";
import { adminRooms } from "./routes/admin-rooms";
import { visitorDispatch } from "./visitors/visit";
import { serveVisitorsWith } from "./visitors/home-routes";

const api = new Hono<AppEnv>()
  .route("/auth/sso", sso) // single sign-on: before /auth, whose routes need no session either
  .route("/auth", auth) // login, logout, setup: their own auth rules
  .route("/setup", setup)
  .route("/invites", invites) // an invite link is its own credential
  .use("*", requireAuth())
  .use("*", mfaGate()) // an admin who must enrol a second factor does that first
  // A person of another node signed in here: served here or relayed to their home (visitors/visit.ts).
  .use("*", visitorDispatch())
  .route("/me/mfa", meMfa)
  .route("/me", me)
  .route("/users", users)
  .route("/accounts", accounts)
  .route("/admin/audit", adminAudit)
  .route("/admin/rooms", adminRooms) // GET only: /admin/rooms/{id}/retention is admin.ts's
  .route("/admin", admin) // node administrators: retention, legal holds, erasure, export
  .route("/presence", presence)
  .route("/rooms", rooms) // and below it: members, messages, file uploads, the room socket
  .route("/dms", dms)
  .route("/files", files)
  .route("/search", search)
  .route("/socket-tickets", socketTickets)
  .route("/socket", deviceSocket)
  .route("/cluster", cluster)
  .route("/limits", limits);

const app = new Hono<AppEnv>()
  .use("*", requestLog()) // first: it sees every answer as it leaves, errors included
  .use("*", startLinks())
  .use("*", securityHeaders())
  .use("/api/*", serverTiming())
  .get("/healthz", (c) => {
    // Not a secret (it grants nothing): it tells `npm start` that the answer came from the
    // workerd it just started, not from another node already on the port.
    if (c.env.INSTANCE_TOKEN) c.header("X-Outpost-Instance", c.env.INSTANCE_TOKEN);
    return reply(c, HealthSchema, { ok: true, node: c.env.NODE_NAME, version: c.env.VERSION, publicKey: c.env.NODE_PUBLIC_KEY || null });
  })
  .route("/metrics", metrics) // Prometheus text, for the metrics token or an admin's bearer token
  // Files first: their endpoints verify their own signatures, because an upload's body is
  // streamed, not read whole by the link middleware (routes/link-files.ts).
  .route("/link/v1", linkFiles)
  .route("/link/v1", link)
  .route("/api/v1", api)
  .route("/", web); // the web client: GETs of non-/api paths; last, so every API route wins

// Requests of this node's people relayed by the node they are visiting run through the whole app.
serveVisitorsWith(async (request, env, ctx) => app.fetch(request, env, ctx));

app.onError(onError);
app.notFound(notFoundHandler);
api.onError(onError);
api.notFound(notFoundHandler);

export type AppType = typeof app;
export default app;

export { RoomObject } from "../durable-objects/room/room-object";
export { UserObject } from "../durable-objects/user/user-object";
export { DirectoryObject } from "../durable-objects/directory/directory-object";
export { LinkObject } from "../durable-objects/link/link-object";
export { MirrorObject } from "../durable-objects/mirror/mirror-object";
