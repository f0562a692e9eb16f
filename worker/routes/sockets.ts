/**
 * WebSocket hand-off. The Worker authenticates, strips any identity header the
 * client sent, sets its own, and forwards the upgrade to the object that owns
 * the socket (the user's inbox for the device socket here, the room for
 * `/rooms/{id}/socket` in rooms.ts), which accepts it with the hibernation API.
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env";
import { reply } from "../reply";
import { SocketTicketSchema } from "../../protocol/responses";
import { AppError } from "../../durable-objects/shared/app-error";
import { IDENTITY_HEADERS, encodeDisplayName, type Caller } from "../../durable-objects/shared/identity";
import { storedUser } from "../../durable-objects/shared/objects";

export function withIdentity(request: Request, caller: Caller): Request {
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) if (name.startsWith("x-outpost-")) headers.delete(name);
  headers.set(IDENTITY_HEADERS.user, caller.userId);
  headers.set(IDENTITY_HEADERS.session, caller.sessionId);
  headers.set(IDENTITY_HEADERS.username, caller.username);
  headers.set(IDENTITY_HEADERS.displayName, encodeDisplayName(caller.displayName));
  return new Request(request.url, { method: "GET", headers });
}

/**
 * Forward a WebSocket upgrade, with the caller's identity, to the object that
 * accepts it. A plain request is refused before the target is looked up.
 */
export async function upgradeWithIdentity(c: Context<AppEnv>, target: () => Promise<{ fetch(request: Request): Promise<Response> }>): Promise<Response> {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError("invalid_request", "this endpoint speaks WebSocket: send an Upgrade request");
  }
  return (await target()).fetch(withIdentity(c.req.raw, c.get("caller")));
}

/** `/socket-tickets`: a single-use ticket for a client that cannot set headers on a socket. */
export const socketTickets = new Hono<AppEnv>().post("/", async (c) => {
  const caller = c.get("caller");
  return reply(c, SocketTicketSchema, await storedUser(c.env, caller.userId).createTicket(caller.sessionId), 201);
});

/** `/socket`: the device socket, one per device, to the user's own inbox object. */
export const deviceSocket = new Hono<AppEnv>().get("/", async (c) => {
  return upgradeWithIdentity(c, async () => storedUser(c.env, c.get("caller").userId));
});
