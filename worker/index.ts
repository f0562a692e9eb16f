/**
 * The Outpost Worker: mounts one sub-app per resource. Authentication happens
 * here; every decision about a room is made by the room's own object.
 */
import { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { onError, notFoundHandler } from "./middleware/errors";
import { securityHeaders } from "./middleware/security-headers";
import { serverTiming } from "./middleware/server-timing";
import { requireAuth } from "./middleware/auth";
import { auth } from "./routes/auth";
import { users } from "./routes/users";
import { rooms } from "./routes/rooms";
import { messages } from "./routes/messages";
import { sockets } from "./routes/sockets";
import { inbox } from "./routes/inbox";
import { web } from "./routes/web";
import { files } from "./routes/files";
import { search } from "./routes/search";
import { cluster } from "./routes/cluster";
import { link } from "./routes/link";
import { startLinks } from "./start-links";

const api = new Hono<AppEnv>()
  .route("/", auth) // login, logout, setup: their own auth rules
  .use("*", requireAuth())
  .route("/", users)
  .route("/", rooms)
  .route("/", messages)
  .route("/", sockets)
  .route("/", inbox)
  .route("/", files)
  .route("/", search)
  .route("/", cluster);

const app = new Hono<AppEnv>()
  .use("*", startLinks())
  .use("*", securityHeaders())
  .use("/api/*", serverTiming())
  .get("/healthz", (c) => {
    // Not a secret (it grants nothing): it tells `npm start` that the answer came from the
    // workerd it just started, not from another node already on the port.
    if (c.env.INSTANCE_TOKEN) c.header("X-Outpost-Instance", c.env.INSTANCE_TOKEN);
    return c.json({ ok: true, node: c.env.NODE_NAME, version: c.env.VERSION, publicKey: c.env.NODE_PUBLIC_KEY || null });
  })
  .route("/link/v1", link)
  .route("/api/v1", api)
  .route("/", web); // the web client: GETs of non-/api paths; last, so every API route wins

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
