/**
 * A mirror asking the room's home to do something for one of this node's
 * members: the home room decides, exactly as for its own members (authorization,
 * limits, idempotency). While the link is down such calls fail at once with
 * `room_unreachable`, and the link's state is updated so everyone else knows.
 */
import type { Env } from "../shared/env";
import { AppError, asAppError } from "../shared/app-error";
import { LinkError, linkFetch, type LinkAnswer } from "../shared/cluster";
import { linkStub } from "../shared/objects";
import type { Caller } from "../shared/identity";
import type { LinkCall } from "../../protocol/cluster";
import { ERROR_STATUS, type ErrorCode } from "../../protocol/errors";
import { homeNode } from "../../protocol/ids";

export function unreachable(roomId: string): AppError {
  return new AppError("room_unreachable", `this room lives on the ${homeNode(roomId)} node, which cannot be reached right now; try again when the link is back`);
}

/**
 * A signed POST to the room's home. A link that fails is noted on the link (so
 * everyone else hears it is down) and becomes `room_unreachable`.
 */
export async function postHome<T>(env: Env, roomId: string, path: string, body: unknown): Promise<LinkAnswer<T>> {
  const home = homeNode(roomId)!;
  try {
    return await linkFetch<T>(env, home, "POST", path, body);
  } catch (err) {
    if (!(err instanceof LinkError)) throw err;
    void linkStub(env, home).noteResult(home, false).catch(() => {});
    throw unreachable(roomId);
  }
}

export async function callHome<T>(env: Env, roomId: string, method: LinkCall["method"], caller: Caller, args: unknown[]): Promise<T> {
  const call: LinkCall = { method, caller: { userId: caller.userId, sessionId: caller.sessionId, username: caller.username, displayName: caller.displayName }, args };
  const answer = await postHome<{ value?: T; error?: { code: string; message: string } }>(env, roomId, `/link/v1/rooms/${encodeURIComponent(roomId)}/call`, call);
  if (answer.status === 200) return answer.body?.value as T;
  const code = answer.body?.error?.code;
  if (code && code in ERROR_STATUS) throw new AppError(code as ErrorCode, answer.body!.error!.message);
  throw asAppError(new Error(String(answer.body?.error?.message ?? ""))) ?? new AppError("internal", `the home node answered ${answer.status}`);
}
