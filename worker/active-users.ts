/** People a route is about to put into a room: checked against the directory, and how a room stores them. */
import { AppError } from "../durable-objects/shared/app-error";
import type { Caller } from "../durable-objects/shared/identity";
import type { MemberInput } from "../durable-objects/room/room-object";
import type { Env } from "../durable-objects/shared/env";
import { directoryStub as directory, isLocalUserId } from "../durable-objects/shared/objects";
import { USER_ID_RE, homeNode } from "../protocol/ids";

export const asMember = (c: Caller): MemberInput => ({ userId: c.userId, username: c.username, displayName: c.displayName });

/** A user id of this node or of another node of its cluster (a format check: existence is the directory's to say). */
function isClusterUserId(env: Env, id: string): boolean {
  const home = homeNode(id);
  return isLocalUserId(env, id) || (USER_ID_RE.test(id) && !!env.CLUSTER?.nodes.some((n) => n.name === home));
}

/**
 * Active users by id — of this node or, as the directory has them, of any node
 * of the cluster — or `invalid_request` naming the first unknown one.
 */
export async function activeUsers(env: Env, ids: string[]): Promise<MemberInput[]> {
  const unique = [...new Set(ids)];
  const found = unique.every((id) => isClusterUserId(env, id)) ? await directory(env).getUsers(unique) : [];
  const byId = new Map(found.filter((u) => u.active).map((u) => [u.id, u]));
  const missing = unique.find((id) => !byId.has(id));
  if (missing) throw new AppError("invalid_request", `unknown or deactivated user: ${missing}`);
  return unique.map((id) => {
    const u = byId.get(id)!;
    return { userId: u.id, username: u.username, displayName: u.displayName };
  });
}
