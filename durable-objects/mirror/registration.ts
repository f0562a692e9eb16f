/**
 * A mirror is registered in the node's directory before its first push is
 * applied: from then on local requests for the room's id reach it. A DM's
 * registration carries its two members (the directory answers "the DM of A and
 * B" with it), so it waits for a push that carries the member list.
 * Registration is idempotent; this isolate remembers what it registered.
 */
import type { Env } from "../shared/env";
import { directoryStub } from "../shared/objects";
import type { RoomPush } from "../../protocol/cluster";

const registered = new Set<string>();

export async function registerMirror(env: Env, push: RoomPush): Promise<void> {
  const r = push.room;
  if (registered.has(r.id)) return;
  const dm = r.kind === "dm" && push.members ? { members: push.members.map((m) => m.userId), createdBy: r.createdBy, createdAt: r.createdAt } : null;
  await directoryStub(env).registerMirror(r.id, dm);
  if (r.kind !== "dm" || dm) registered.add(r.id);
}
