/**
 * Sends into a room whose messages never leave its home (residency "home"):
 * straight to the home as one signed request, and nothing of them written on
 * this node — no record, no place in the link's queue — so their text is never
 * on this node's disk. While the home cannot be reached a send fails
 * `room_unreachable`, as every other action on such a room does; the client
 * keeps it and tries again (the home keeps a repeat once, by its key).
 *
 * The sender's message budget is this node's to keep (its own people), with the
 * room's rule (room/messages.ts): only a message the home really stored costs
 * one; a repeat of a stored message is answered as usual, even on an empty
 * budget, and costs nothing. The budget is taken before the send leaves, so
 * sends in flight together cannot overdraw it, and given back when the home
 * did not store a new message (a duplicate, a refusal) or could not be reached.
 * Which sends the home stored is remembered in memory only (keys, no text), for
 * the latest REMEMBERED sends of this room; after a restart a repeat is checked
 * against the budget once more and, being a duplicate, given back.
 *
 * @example
 *   const live = new LiveSends(env, () => roomId);
 *   const result = await live.send(caller, { clientId: "c1", text: "hi" }); // LinkSendResult
 */
import { limitsOf, type Env } from "../shared/env";
import { AppError } from "../shared/app-error";
import type { Caller } from "../shared/identity";
import { LinkSendsAnswer, type LinkSendResult } from "../../protocol/cluster";
import { homeNode } from "../../protocol/ids";
import { refundSend, refuseSend, sendWaitMs, spendSend } from "../room/send-budget";
import { sendKey } from "../link/send-queue";
import { checkText, sendItem, type SendInput } from "./mirror-sends";
import { postHome } from "./forward";

/** How many stored sends' keys a room's copy remembers (a key is < 200 bytes). */
export const REMEMBERED = 2_000;

export class LiveSends {
  /** keys of sends the home stored, oldest first */
  private readonly stored = new Set<string>();

  constructor(
    private readonly env: Env,
    private readonly roomId: () => string,
  ) {}

  async send(caller: Caller, input: SendInput): Promise<LinkSendResult> {
    const limits = limitsOf(this.env);
    const key = sendKey({ userId: caller.userId, sessionId: caller.sessionId, clientId: input.clientId });
    const repeat = this.stored.has(key);
    if (!repeat) {
      checkText(limits, input);
      const wait = sendWaitMs(caller.userId, limits, Date.now());
      if (wait > 0) refuseSend(limits, wait);
      spendSend(caller.userId, limits, Date.now());
    }
    let result: LinkSendResult;
    try {
      result = await this.toHome(caller, input);
    } catch (err) {
      if (!repeat) refundSend(caller.userId, limits, Date.now());
      throw err;
    }
    if (result.ok) this.remember(key);
    if (!repeat && !(result.ok && !result.duplicate)) refundSend(caller.userId, limits, Date.now());
    return result;
  }

  private remember(key: string): void {
    this.stored.delete(key);
    this.stored.add(key);
    if (this.stored.size > REMEMBERED) this.stored.delete(this.stored.values().next().value!);
  }

  private async toHome(caller: Caller, input: SendInput): Promise<LinkSendResult> {
    const roomId = this.roomId();
    const home = homeNode(roomId)!;
    const answer = await postHome(this.env, roomId, "/link/v1/sends", { items: [sendItem(roomId, caller, input)] });
    const parsed = LinkSendsAnswer.safeParse(answer.body);
    if (answer.status !== 200 || !parsed.success) throw new AppError("room_unavailable", `the ${home} node did not take the message (${answer.status}); try again`);
    const result = parsed.data.results[0];
    if (!result) throw new AppError("room_unavailable", `the ${home} node could not take the message just now (${parsed.data.stopped ?? "no answer"}); try again`);
    return result;
  }
}
