/**
 * The usual send transport for a SendQueue: over the room's socket when one is
 * open (an ack is one frame away), otherwise over REST. Both carry the same
 * clientId, so whichever path delivered first, a retry on the other is a no-op.
 */
import type { OutpostClient } from "./rest";
import type { RoomSocket } from "./room-socket";
import type { SendTransport } from "./send-queue";

export function socketOrRestTransport(api: OutpostClient, socketFor: (roomId: string) => RoomSocket | undefined): SendTransport {
  return async (m) => {
    const socket = socketFor(m.roomId);
    if (socket && socket.state === "open") return socket.sendMessage(m);
    const answer = await api.send(m.roomId, { text: m.text, clientId: m.clientId, ...(m.replyTo ? { replyTo: m.replyTo } : {}), ...(m.attachments?.length ? { attachments: m.attachments } : {}) });
    // 202: the node keeps it for a room homed on a node it cannot reach now.
    if ("queued" in answer) return { queued: true };
    return { id: answer.id, seq: answer.seq };
  };
}
