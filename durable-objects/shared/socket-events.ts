/**
 * A socket opened or closed in an object: the open-sockets gauge and one log
 * line each (kind, user, close code — never what was said on it). The
 * upgrade's own request line (status 101) carries its request id.
 */
import { log } from "./log";
import { reportSockets, type SocketKind } from "./node-metrics";

export function socketOpened(kind: SocketKind, ctx: DurableObjectState, userId: string): void {
  reportSockets(kind, ctx);
  log("info", "socket.open", { kind, user: userId });
}

/**
 * From webSocketClose (the client's code) or webSocketError (1006: gone without
 * a close frame). The user is the socket's attachment's `userId` (room and
 * mirror sockets), or `userId` when the object knows it (a user object's devices).
 */
export function socketClosed(kind: SocketKind, ctx: DurableObjectState, ws: WebSocket, code: number, userId?: string): void {
  reportSockets(kind, ctx, ws);
  let user: unknown = userId;
  try {
    user ??= (ws.deserializeAttachment() as { userId?: unknown } | null)?.userId;
  } catch {
    user = undefined;
  }
  log("info", "socket.close", { kind, code, ...(typeof user === "string" ? { user } : {}) });
}
