/**
 * The mirror's sockets: this node's members who have the room open. The same
 * frames a room's own sockets get (protocol/frames.ts), serialised once per
 * broadcast and batched under load (room/fanout.ts).
 */
import { socketOpened } from "../shared/socket-events";
import { CLOSE } from "../../protocol/errors";
import type { ServerRoomFrame } from "../../protocol/frames";
import type { Caller } from "../shared/identity";
import { safeClose } from "../shared/sockets";
import { BATCHED, Fanout, PLAIN } from "../room/fanout";

/** What a socket's attachment holds (it survives hibernation). */
interface Owner {
  userId: string;
  sessionId: string;
  username: string;
  displayName: string;
}

export class MirrorSockets {
  private readonly fanout: Fanout;

  constructor(private readonly ctx: DurableObjectState) {
    this.fanout = new Fanout(ctx);
  }

  /** Accept a member's socket, tagged so removal and revocation find it. */
  accept(caller: Caller, batch: boolean): { client: WebSocket; server: WebSocket } {
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server, [`u:${caller.userId}`, `s:${caller.sessionId}`, batch ? BATCHED : PLAIN]);
    socketOpened("mirror", this.ctx, caller.userId);
    server.serializeAttachment({ userId: caller.userId, sessionId: caller.sessionId, username: caller.username, displayName: caller.displayName } satisfies Owner);
    this.fanout.invalidate();
    return { client: pair[0], server };
  }

  userOf(ws: WebSocket): string | null {
    return (ws.deserializeAttachment() as Owner | null)?.userId ?? null;
  }

  callerOf(ws: WebSocket): Caller | null {
    const owner = ws.deserializeAttachment() as Owner | null;
    return owner ? { ...owner, isAdmin: false } : null;
  }

  broadcast(frame: ServerRoomFrame): void {
    this.fanout.broadcast(JSON.stringify(frame));
  }

  /** Send what the fan-out holds now (before a write: frames sent after it wait for its commit). */
  flush(): void {
    this.fanout.flush();
  }

  send(ws: WebSocket, frame: ServerRoomFrame): void {
    this.fanout.sendTo(ws, JSON.stringify(frame));
  }

  /** A frame made for each member's own sockets (`room.updated` carries their role). */
  sendToEachMember(isMember: (userId: string) => boolean, frameFor: (userId: string) => ServerRoomFrame): void {
    for (const ws of this.ctx.getWebSockets()) {
      const userId = this.userOf(ws);
      if (userId && isMember(userId)) this.send(ws, frameFor(userId));
    }
  }

  /** The sockets of one session of one user (a send's outcome goes back to them). */
  sendToSession(userId: string, sessionId: string, frame: ServerRoomFrame): void {
    for (const ws of this.ctx.getWebSockets(`s:${sessionId}`)) if (this.userOf(ws) === userId) this.send(ws, frame);
  }

  typing(userId: string): void {
    const data = JSON.stringify({ type: "typing", userId, expiresInMs: 6000 } satisfies ServerRoomFrame);
    const { plain, batched } = this.fanout.sockets();
    for (const ws of [...plain, ...batched]) if (this.userOf(ws) !== userId) this.fanout.sendTo(ws, data);
  }

  closeUser(userId: string, reason: string): void {
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) safeClose(ws, CLOSE.policy, reason);
    this.fanout.invalidate();
  }

  closeSessions(sessionIds: string[], reason: string): number {
    let n = 0;
    for (const id of sessionIds) for (const ws of this.ctx.getWebSockets(`s:${id}`)) n += safeClose(ws, CLOSE.policy, reason);
    this.fanout.invalidate();
    return n;
  }

  /** A socket opened or closed: the fan-out lists are rebuilt on next use. */
  changed(): void {
    this.fanout.invalidate();
  }
}
