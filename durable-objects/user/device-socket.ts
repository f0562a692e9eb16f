/**
 * The user's device sockets: one per device (tab, app), to the user's own
 * object, carrying every room's summary. Accepting one within the limits,
 * reading a frame off one (size, sender, parse), typed sends to one or all,
 * and closing a session's sockets.
 *
 * A socket's state (its session, online/away, whom it watches) is in its
 * attachment, so it survives hibernation.
 */
import { socketOpened } from "../shared/socket-events";
import { CLOSE } from "../../protocol/errors";
import { ClientDeviceFrame, type ServerDeviceFrame } from "../../protocol/device";
import { parseClientFrame } from "../../protocol/frames";
import { closeIfOversized, parseOrAnswer, safeClose, safeSend } from "../shared/sockets";

const MAX_DEVICE_SOCKETS_PER_SESSION = 4;
const MAX_DEVICE_SOCKETS_PER_USER = 40;

/** A device socket's state, in its attachment so it survives hibernation. */
export interface DeviceState {
  sessionId: string;
  status: "online" | "away";
  /** users whose presence this device wants (`presence.watch`) */
  watching: string[];
}

const sessionTag = (sessionId: string) => `s:${sessionId}`;

export class DeviceSockets {
  constructor(private readonly ctx: DurableObjectState) {}

  /**
   * Accept a device of `sessionId`, within the limits (per session, a device;
   * per user overall): the oldest make way. `first` is its first frame (a
   * snapshot, or what changed since the position it gave). Returns the
   * client's end.
   */
  accept(userId: string, sessionId: string, first: () => ServerDeviceFrame): WebSocket {
    const same = this.ctx.getWebSockets(sessionTag(sessionId));
    for (let i = 0; i <= same.length - MAX_DEVICE_SOCKETS_PER_SESSION; i++) safeClose(same[i], CLOSE.policy, "too many connections: replaced by a newer one");
    const all = this.open();
    for (let i = 0; i <= all.length - MAX_DEVICE_SOCKETS_PER_USER; i++) safeClose(all[i], CLOSE.policy, "too many connections: replaced by a newer one");
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server, [sessionTag(sessionId)]);
    socketOpened("device", this.ctx, userId);
    server.serializeAttachment({ sessionId, status: "online", watching: [] } satisfies DeviceState);
    this.send(server, first());
    return pair[0];
  }

  /**
   * A frame from a device, with the device's state: null when it was handled
   * here — too big (closed, 1009), from a device of an account that is no
   * longer active (closed, 1008), or not a valid frame (answered with `error`).
   */
  receive(ws: WebSocket, raw: string | ArrayBuffer, maxBytes: number, active: boolean): { device: DeviceState; frame: ClientDeviceFrame } | null {
    if (closeIfOversized(ws, raw, maxBytes)) return null;
    const device = this.stateOf(ws);
    if (!device || !active) {
      safeClose(ws, CLOSE.policy, "not signed in");
      return null;
    }
    const frame = parseOrAnswer(parseClientFrame(ClientDeviceFrame, raw), (f) => this.send(ws, f));
    return frame ? { device, frame } : null;
  }

  stateOf(ws: WebSocket): DeviceState | null {
    return ws.deserializeAttachment() as DeviceState | null;
  }

  setState(ws: WebSocket, device: DeviceState): void {
    ws.serializeAttachment(device);
  }

  send(ws: WebSocket, frame: ServerDeviceFrame): void {
    safeSend(ws, frameText(frame));
  }

  /** One frame, serialised once, to every device. */
  broadcast(frame: ServerDeviceFrame): void {
    const data = frameText(frame);
    for (const ws of this.ctx.getWebSockets()) safeSend(ws, data);
  }

  /** One frame, serialised once, to the devices watching `userId`; false when none does. */
  sendToWatchersOf(userId: string, frame: ServerDeviceFrame): boolean {
    let any = false;
    const data = frameText(frame);
    for (const ws of this.ctx.getWebSockets()) {
      if (this.stateOf(ws)?.watching.includes(userId)) {
        any = true;
        safeSend(ws, data);
      }
    }
    return any;
  }

  /** The devices connected now (`closing`: one whose close is being handled). */
  open(closing?: WebSocket): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws !== closing && ws.readyState === WebSocket.OPEN);
  }

  anyOpen(): boolean {
    return this.ctx.getWebSockets().some((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** Close the devices of ended sessions. */
  closeSessions(sessionIds: string[], reason: string): void {
    for (const id of sessionIds) for (const ws of this.ctx.getWebSockets(sessionTag(id))) safeClose(ws, CLOSE.policy, reason);
  }
}

/** The one place a device frame becomes text. */
const frameText = (frame: ServerDeviceFrame): string => JSON.stringify(frame);
