/**
 * Presence across the nodes of a cluster, as the rest of the node sees it.
 *
 * - A person's presence is decided at their home node (their devices connect
 *   there). Each recompute is handed to this node's link object for every peer
 *   (`publishPresence`), which sends changes coalesced (link/presence-out.ts).
 * - People of other nodes: their presence is what their home last reported to
 *   this node's link object for it (link/presence-in.ts), offline while that
 *   link is down. `remotePresence` answers `GET /presence` and
 *   `watchRemotePresence` registers a device's `presence.watch`, with the same
 *   rule as for local people: only for someone who shares a room with them.
 */
import { errorText, log } from "./log";
import type { InboxRoom, Presence } from "../../protocol/device";
import { USER_ID_RE, homeNode } from "../../protocol/ids";
import type { Env } from "./env";
import { peerNamed, peersOf } from "./cluster";
import { directoryStub, linkStub, storedRoom } from "./objects";

/** Tell every peer's link object this person's presence now (it sends only what changed). */
export async function publishPresence(env: Env, presence: Presence): Promise<void> {
  const peers = peersOf(env);
  if (peers.length === 0) return;
  const results = await Promise.allSettled(peers.map((p) => linkStub(env, p.name).notePresence(p.name, presence)));
  for (const r of results) if (r.status === "rejected") log("error", "presence.link_refused_change", { error: errorText(r.reason) });
}

/** The ids among `ids` (from outside) that name known users homed on a peer of this node's cluster, without duplicates. */
export async function remoteUserIds(env: Env, ids: readonly string[]): Promise<string[]> {
  const candidates = [...new Set(ids)].filter((id) => USER_ID_RE.test(id) && homeNode(id) !== env.NODE_NAME && peerNamed(env, homeNode(id)!) !== null);
  if (candidates.length === 0) return [];
  const known = new Set((await directoryStub(env).getUsers(candidates)).map((u) => u.id));
  return candidates.filter((id) => known.has(id));
}

/** Rooms asked at once when looking for shared members. */
const ROOM_SLICE = 16;

/**
 * Which of `ids` (people of other nodes) share a room with `viewerId`, whose
 * inbox rooms are `rooms`. The other person's rooms are on their home node, so
 * this asks the viewer's side: a DM names its other member in the inbox row;
 * for the rest, the viewer's group rooms (home rooms here, or this node's
 * mirrors of rooms homed elsewhere — both hold the member list) are asked, a
 * slice at a time, until every id is found. Clients watch mostly their DM
 * partners (the web client only those), so the common case asks no room.
 */
export async function sharingARoom(env: Env, viewerId: string, rooms: readonly InboxRoom[], ids: readonly string[]): Promise<Set<string>> {
  const wanted = new Set(ids);
  const found = new Set<string>();
  for (const r of rooms) if (r.peerId && wanted.has(r.peerId)) found.add(r.peerId);
  const groups = rooms.filter((r) => r.kind !== "dm");
  const viewer = { userId: viewerId, sessionId: "", username: "", displayName: "", isAdmin: false };
  for (let i = 0; i < groups.length && found.size < wanted.size; i += ROOM_SLICE) {
    const infos = await Promise.allSettled(groups.slice(i, i + ROOM_SLICE).map((r) => storedRoom(env, r.roomId).info(viewer)));
    for (const info of infos) {
      if (info.status !== "fulfilled") continue; // left meanwhile, or the room is unavailable: no proof of sharing
      for (const m of info.value.members) if (wanted.has(m.userId)) found.add(m.userId);
    }
  }
  return found;
}

/** Group `ids` by home node. */
function byHome(ids: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const home = homeNode(id)!;
    out.set(home, [...(out.get(home) ?? []), id]);
  }
  return out;
}

/**
 * The presence of those of `ids` (from outside) who are people of other nodes
 * sharing a room with the viewer; ids of this node, unknown ids and strangers
 * are left out, as `GET /presence` leaves them out for local people.
 */
export async function remotePresence(env: Env, viewerId: string, rooms: readonly InboxRoom[], ids: readonly string[]): Promise<Presence[]> {
  const remote = await remoteUserIds(env, ids);
  if (remote.length === 0) return [];
  const visible = await sharingARoom(env, viewerId, rooms, remote);
  const groups = byHome(remote.filter((id) => visible.has(id)));
  const answers = await Promise.all([...groups].map(([node, list]) => linkStub(env, node).remotePresence(node, list)));
  return answers.flat();
}

/**
 * A device of `viewerId` watches `ids` (from outside): register the viewer for
 * the visible people of other nodes and return their presence now.
 */
export async function watchRemotePresence(env: Env, viewerId: string, rooms: readonly InboxRoom[], ids: readonly string[]): Promise<Presence[]> {
  const remote = await remoteUserIds(env, ids);
  if (remote.length === 0) return [];
  const visible = await sharingARoom(env, viewerId, rooms, remote);
  const groups = byHome(remote.filter((id) => visible.has(id)));
  const answers = await Promise.all([...groups].map(([node, list]) => linkStub(env, node).watchRemotePresence(node, viewerId, list)));
  return answers.flat();
}
