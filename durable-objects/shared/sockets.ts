/**
 * What room sockets and device sockets have in common, once: the keep-alive
 * the runtime answers while the object sleeps, the size check, parsing a
 * client frame (or answering why not), the `error` and `ok` answers, sending
 * and closing where a socket may already be closing, and the answer to a
 * request that is not an upgrade.
 *
 * The frames here are the ones both sockets' unions share (`ServerRoomFrame`
 * in protocol/frames.ts, `ServerDeviceFrame` in protocol/device.ts), so each
 * object's typed `send` takes them as they are.
 *
 * @example
 *   if (closeIfOversized(ws, raw, limits.maxFrameBytes)) return;
 *   const frame = parseOrAnswer(parseClientRoomFrame(raw), (f) => send(ws, f));
 *   if (!frame) return;
 *   … handle …; if (frame.reqId) send(ws, okFrame(frame.reqId));
 */
import { CLOSE } from "../../protocol/errors";
import type { ClientRoomFrame, ParsedFrame, ServerRoomFrame } from "../../protocol/frames";
import type { ClientDeviceFrame, ServerDeviceFrame } from "../../protocol/device";
import { AppError } from "./app-error";

/** any socket → client: the frame named by `replyTo` failed. */
export interface ErrorFrame {
  type: "error";
  code: string;
  message: string;
  replyTo?: string;
}

/** any socket → client: the frame named by `replyTo` succeeded and has no answer of its own. */
export interface OkFrame {
  type: "ok";
  replyTo: string;
}

/** The keep-alive both sockets speak, as bytes: the runtime compares and answers them itself. */
const PING = JSON.stringify({ type: "ping" } satisfies ClientRoomFrame & ClientDeviceFrame);
const PONG = JSON.stringify({ type: "pong" } satisfies ServerRoomFrame & ServerDeviceFrame);

/** Keep-alives are answered by the runtime without waking the object (call in the constructor). */
export function answerPingsWhileAsleep(ctx: DurableObjectState): void {
  ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
}

/** The frame's size in bytes; exact only when it could exceed `limit` (a UTF-16 unit is at most 3 UTF-8 bytes). */
export function frameBytes(raw: string | ArrayBuffer, limit: number): number {
  if (typeof raw !== "string") return raw.byteLength;
  if (raw.length * 3 <= limit) return raw.length;
  return new TextEncoder().encode(raw).length;
}

/** A frame over the node's limit closes its socket (1009): true when it did, and the frame is dropped. */
export function closeIfOversized(ws: WebSocket, raw: string | ArrayBuffer, maxBytes: number): boolean {
  if (frameBytes(raw, maxBytes) <= maxBytes) return false;
  safeClose(ws, CLOSE.too_big, `frames are limited to ${maxBytes} bytes`);
  return true;
}

/** The parsed frame, or null after `answer` got the error frame that says what was wrong with it. */
export function parseOrAnswer<T>(parsed: ParsedFrame<T>, answer: (frame: ErrorFrame) => void): T | null {
  if (parsed.ok) return parsed.frame;
  answer(errorFrame(parsed.code, parsed.message, parsed.replyTo));
  return null;
}

export function errorFrame(code: string, message: string, replyTo?: string): ErrorFrame {
  return { type: "error", code, message, ...(replyTo ? { replyTo } : {}) };
}

/** A handler's failure: an AppError keeps its code and message, anything else is `internal` (the caller logs it). */
export function failureFrame(e: AppError | null, replyTo?: string): ErrorFrame {
  return errorFrame(e?.code ?? "internal", e?.detail ?? "internal error", replyTo);
}

export function okFrame(replyTo: string): OkFrame {
  return { type: "ok", replyTo };
}

/** Send on a hibernatable socket that may already be closing. */
export function safeSend(ws: WebSocket, data: string): void {
  try {
    ws.send(data);
  } catch {
    // The socket is closing; its close handler cleans up.
  }
}

/** Returns 1 if the socket was closed now, 0 if it already was. */
export function safeClose(ws: WebSocket, code: number, reason: string): number {
  try {
    ws.close(code, reason);
    return 1;
  } catch {
    return 0;
  }
}

/** webSocketClose: close our side with the peer's code (1005/1006 are reserved and may not be sent back). */
export function closeBack(ws: WebSocket, code: number): void {
  safeClose(ws, code === 1005 || code === 1006 ? CLOSE.normal : code, "closing");
}

/** webSocketError: close our side as an internal error. */
export function closeOnError(ws: WebSocket): void {
  safeClose(ws, CLOSE.internal, "socket error");
}

/** An object's plain-HTTP answer, shaped like the Worker's (`{error:{code,message}}`). */
export function errorResponse(e: AppError): Response {
  return Response.json({ error: { code: e.code, message: e.detail } }, { status: e.status });
}

/**
 * The Worker forwards only WebSocket upgrades to an object's fetch
 * (worker/routes/sockets.ts refuses anything else first); anything else that
 * arrives is answered as the Worker would, never with a socket.
 */
export function refuseUnlessUpgrade(request: Request): Response | null {
  if (request.headers.get("upgrade")?.toLowerCase() === "websocket") return null;
  return errorResponse(new AppError("invalid_request", "this endpoint speaks WebSocket: send an Upgrade request"));
}
