/**
 * Applying what a room's home pushed (room/peer-push.ts) to this node's copy,
 * in one transaction with the positions it reaches, and working out what this
 * node's viewers must be told. Applying a push twice changes nothing the
 * second time (a message is stored only when its version is newer), so a push
 * repeated after a lost answer is harmless.
 *
 * What viewers are told is worked out from the copy's positions alone
 * (`pushedFrames`), before anything is written: the mirror broadcasts first
 * and writes after, so its members' frames do not wait for this copy's commit
 * (the home committed the messages before pushing them; a write that fails
 * here is not acknowledged, and the home pushes the same again). The mirror
 * keeps the positions it told (`stateAfter`) apart from the ones written, and
 * writes the pushes of a short moment together (mirror/link-socket.ts).
 */
import type { RoomPush } from "../../protocol/cluster";
import type { ServerRoomFrame } from "../../protocol/frames";
import type { Member, Message } from "../../protocol/models";
import type { MirrorState, MirrorStore } from "./mirror-store";

export interface Applied {
  /** the member list when it changed, else null */
  members: Member[] | null;
  renamed: boolean;
  /** read positions that moved with this push (a repeat, or a position already held, is not news) */
  reads: { userId: string; seq: number }[];
  /** the mirror's state after the push, as written (the object keeps it instead of reading it back) */
  state: MirrorState;
}

/**
 * Write one push; the caller holds the transaction (MirrorCopy.write: the
 * pushes of a moment in one). `positions`: write the positions reached too
 * (of several pushes written together, the last one does).
 */
export function applyPush(store: MirrorStore, before: MirrorState, push: RoomPush, now: number, positions = true): Applied {
  // What changed is read off the state the push leads to (stateAfter compares the room once).
  const state = stateAfter(before, push, now);
  // A home-only room's messages are passed on to viewers, never stored here.
  const homeOnly = push.room.residency === "home";
  const members = state.members !== before.members ? state.members : null;
  // The room rides in every push; it is written only when it changed.
  if (state.room !== before.room) store.saveRoom(push.room);
  if (members) store.saveMembers(members, push.membersRev);
  if (!homeOnly) for (const m of push.messages as Message[]) store.putMessage(m, true);
  if (homeOnly && before.room?.residency !== "home") store.dropMessages();
  // The home's retention marker (its purge follows the write, in batches: MirrorCopy.write).
  if (push.retention && !homeOnly) store.saveRetention(push.retention);
  const reads = store.setReads(push.reads);
  if (positions) store.savePositions(state.lastSeq, state.version, now);
  return { members, reads, state, renamed: !!before.room && (before.room.name !== push.room.name || (before.room.topic ?? "") !== push.room.topic) };
}

/** The copy's state once `push` is applied to `before`: what applyPush writes, worked out without writing. */
export function stateAfter(before: MirrorState, push: RoomPush, now: number): MirrorState {
  const membersChanged = !!push.members && push.membersRev !== before.membersRev;
  const homeOnly = push.room.residency === "home";
  return {
    room: !before.room || !sameFields(before.room, push.room) ? push.room : before.room,
    members: membersChanged ? (push.members as Member[]) : before.members,
    membersRev: membersChanged ? push.membersRev : before.membersRev,
    lastSeq: Math.max(before.lastSeq, push.lastSeq),
    version: Math.max(before.version, push.version),
    syncedAt: now,
    retention: push.retention && !homeOnly ? push.retention : before.retention,
  };
}

/** The room rides in every push: compared field by field (its values are strings and numbers), not serialised twice per push. */
function sameFields(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  return keys.every((k) => x[k] === y[k]);
}

/**
 * New and changed messages of a push, in its (seq) order, as frames: news is
 * what lies past the copy's positions (everything up to `version` is in the
 * copy, so a repeat is no news).
 */
export function pushedFrames(before: MirrorState, push: RoomPush): ServerRoomFrame[] {
  const frames: ServerRoomFrame[] = [];
  for (const m of push.messages as Message[]) {
    if (m.seq > before.lastSeq) frames.push({ type: "msg.new", message: m });
    else if (m.version > before.version) frames.push({ type: "msg.updated", message: m });
  }
  return frames;
}

/** What changed in the member list, as room frames (removals first). */
export function memberFrames(before: ReadonlyMap<string, Member>, after: Member[]): { removed: string[]; frames: ServerRoomFrame[] } {
  const now = new Map(after.map((m) => [m.userId, m]));
  const removed = [...before.keys()].filter((u) => !now.has(u));
  const frames: ServerRoomFrame[] = removed.map((userId) => ({ type: "member.left", userId, removedBy: null }));
  for (const m of after) {
    const old = before.get(m.userId);
    if (!old) frames.push({ type: "member.joined", member: m });
    else if (old.role !== m.role || old.displayName !== m.displayName) frames.push({ type: "member.updated", member: m });
  }
  return { removed, frames };
}
