/**
 * What the room does with a frame from one of its sockets, once
 * RoomObject.webSocketMessage has read and parsed it (room-socket.ts
 * `receive`): one `case` per client frame type, each handed to the module that
 * does it, then `ok` for a frame that asked for it; and a failure answered on
 * the socket as an error frame naming the frame it answers (its `clientId` for
 * `msg.send`, else its `reqId`), never thrown back at the runtime.
 */
import type { ClientRoomFrame } from "../../protocol/frames";
import { AppError, asAppError } from "../shared/app-error";
import type { Caller } from "../shared/identity";
import { errorText, log } from "../shared/log";
import { timeAck } from "../shared/node-metrics";
import { errorFrame, failureFrame, okFrame } from "../shared/sockets";
import { isPermanentStorageFault, roomFaultLine, roomUnavailable } from "../shared/storage-faults";
import type { Messages } from "./messages";
import type { Reads } from "./reads";
import type { RoomSockets } from "./room-socket";
import type { RoomState } from "./room-state";

export class RoomFrames {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly state: RoomState,
    private readonly sockets: RoomSockets,
    private readonly messages: Messages,
    private readonly reads: Reads,
  ) {}

  /** Handle one parsed frame of `caller`'s socket `ws`; a failure becomes an error frame on it. */
  async handle(ws: WebSocket, caller: Caller, frame: ClientRoomFrame): Promise<void> {
    try {
      await this.handleFrame(ws, caller, frame);
    } catch (err) {
      const e = asAppError(err) ?? (isPermanentStorageFault(err) ? roomUnavailable() : null);
      if (e?.code === "room_unavailable") log("error", "room.damaged", { room: this.state.meta!.id, message: roomFaultLine(this.state.meta!.id, this.ctx.id.toString(), err) });
      else if (!e) log("error", "room.frame_failed", { room: this.state.meta?.id, frame: frame.type, error: errorText(err) });
      this.sockets.send(ws, failureFrame(e, frame.type === "msg.send" ? frame.clientId : frame.reqId));
    }
  }

  private async handleFrame(ws: WebSocket, caller: Caller, frame: ClientRoomFrame): Promise<void> {
    switch (frame.type) {
      case "msg.send":
        try {
          // Date.now() is the frame's arrival (workerd moves the clock at I/O only).
          const arrived = Date.now();
          if (!this.messages.send(caller, frame, ws).duplicate) timeAck(this.ctx.storage, arrived);
        } catch (err) {
          // Refused for speed: the frame also says when to send it again.
          if (!(err instanceof AppError && err.retryAfterMs !== undefined)) throw err;
          this.sockets.send(ws, { ...errorFrame(err.code, err.detail, frame.clientId), retryAfterMs: err.retryAfterMs });
        }
        return; // the msg.ack is the answer
      case "msg.edit":
        this.messages.edit(caller, frame.id, frame.text);
        break;
      case "msg.delete":
        await this.messages.recall(caller, frame.id);
        break;
      case "msg.react":
        this.messages.react(caller, frame.id, frame.emoji);
        break;
      case "sync":
        this.sockets.sync(ws, frame.afterSeq, frame.afterVersion, frame.reqId);
        return;
      case "ping":
        this.sockets.send(ws, { type: "pong" });
        return;
      case "typing":
        this.reads.typing(ws, caller.userId);
        return;
      case "read":
        await this.reads.markRead({ ...caller, sendReceipts: undefined }, frame.seq);
        break;
    }
    if (frame.reqId) this.sockets.send(ws, okFrame(frame.reqId));
  }
}
