/**
 * WebSocket hand-off. The Worker authenticates, strips any identity header the
 * client sent, sets its own, and forwards the upgrade to the room object, which
 * accepts the socket with the hibernation API.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { AppError } from "../../durable-objects/shared/app-error";
import { IDENTITY_HEADERS, encodeDisplayName, type Caller } from "../../durable-objects/shared/identity";
import { resolveRoom, storedUser } from "../../durable-objects/shared/objects";

export function withIdentity(request: Request, caller: Caller): Request {
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) if (name.startsWith("x-outpost-")) headers.delete(name);
  headers.set(IDENTITY_HEADERS.user, caller.userId);
  headers.set(IDENTITY_HEADERS.session, caller.sessionId);
  headers.set(IDENTITY_HEADERS.username, caller.username);
  headers.set(IDENTITY_HEADERS.displayName, encodeDisplayName(caller.displayName));
  return new Request(request.url, { method: "GET", headers });
}

export const sockets = new Hono<AppEnv>()
  .post("/socket-tickets", async (c) => {
    const caller = c.get("caller");
    return c.json(await storedUser(c.env, caller.userId).createTicket(caller.sessionId), 201);
  })
  .get("/socket", async (c) => {
    // The device socket: one per device, to the user's own inbox object.
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("invalid_request", "this endpoint speaks WebSocket: send an Upgrade request");
    }
    const caller = c.get("caller");
    return storedUser(c.env, caller.userId).fetch(withIdentity(c.req.raw, caller));
  })
  .get("/rooms/:id/socket", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("invalid_request", "this endpoint speaks WebSocket: send an Upgrade request");
    }
    return (await resolveRoom(c.env, c.req.param("id"))).fetch(withIdentity(c.req.raw, c.get("caller")));
  });
