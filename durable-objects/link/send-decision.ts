/**
 * How a room's home decides one send of a member homed on another node, by
 * whichever way it came (`POST /link/v1/sends`, worker/routes/link.ts; or the
 * room's channel, room/peers.ts): the room's own send decides, as for anyone;
 * a refusal for good comes back as the send's result (the sender hears why);
 * a passing fault (TRANSIENT_SEND_CODES) stops there, and the sender's node
 * keeps this send and the ones after it, in order, and tries again.
 */
import { asAppError } from "../shared/app-error";
import { errorText, log } from "../shared/log";
import type { Caller } from "../shared/identity";
import { TRANSIENT_SEND_CODES, type LinkSendItem, type LinkSendResult } from "../../protocol/cluster";
import type { SendInput, SendResult } from "../room/messages";

/** A send refused for good, with the reason its sender hears. */
export function refusal(item: LinkSendItem, code: string, message: string): LinkSendResult {
  return { roomId: item.roomId, userId: item.userId, sessionId: item.sessionId, clientId: item.clientId, ok: false, code, message };
}

/** A node may act only for its own people: what a send for anyone else is answered. */
export const notYours = (item: LinkSendItem): LinkSendResult => refusal(item, "forbidden", "a node acts only for its own users");

export async function decideSend(send: (caller: Caller, input: SendInput) => Promise<SendResult>, item: LinkSendItem): Promise<LinkSendResult | { stopped: string }> {
  try {
    const caller: Caller = { userId: item.userId, sessionId: item.sessionId, username: "", displayName: "", isAdmin: false, viaLink: true };
    const r = await send(caller, { clientId: item.clientId, text: item.text, replyTo: item.replyTo, attachments: item.attachments });
    return { userId: item.userId, sessionId: item.sessionId, clientId: item.clientId, ok: true, message: r.message, duplicate: r.duplicate };
  } catch (err) {
    const e = asAppError(err);
    if (e && !TRANSIENT_SEND_CODES.has(e.code)) return refusal(item, e.code, e.detail);
    if (!e) log("error", "link.send_failed", { room: item.roomId, error: errorText(err) });
    return { stopped: e?.code ?? "internal" };
  }
}
