/** Addressing the node's Durable Objects by the ids that name them. */
import type { Env } from "./env";
import { ROOM_ID_RE, USER_ID_RE, homeNode } from "../protocol/ids";
import { notFound } from "../durable-objects/shared/app-error";

export const directory = (env: Env) => env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));

export const userObject = (env: Env, userId: string) => env.USERS.get(env.USERS.idFromName(userId));

/**
 * The room object for an id from a URL. Ids of other nodes' rooms are not
 * served here yet (federation forwards them later); malformed ids are simply
 * unknown rooms. Nothing is created by looking.
 */
export function roomObject(env: Env, roomId: string) {
  if (!ROOM_ID_RE.test(roomId) || homeNode(roomId) !== env.NODE_NAME) throw notFound();
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

export function isLocalUserId(env: Env, id: string): boolean {
  return USER_ID_RE.test(id) && homeNode(id) === env.NODE_NAME;
}
