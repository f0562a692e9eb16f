/**
 * How the room looks from outside: to one member (`roomAsSeenBy`, and with
 * the retention in force `withRetention`), in a new member's inbox
 * (`inboxEntryFor`), and as a room list's preview (`lastMessageOf`). Plain
 * functions of the room's state.
 */
import type { LastMessage } from "../../protocol/device";
import type { Member, Room } from "../../protocol/models";
import type { RoomSummary } from "../user/inbox-update";
import type { Retention } from "./retention";
import type { RoomState } from "./room-state";
import type { RoomMeta } from "./store/meta";
import type { MessageRow } from "./store/messages";

/** Characters of a message shown in previews and notifications. */
export const PREVIEW_CHARS = 140;

/** The room as `userId` sees it (their role; null for someone who is not a member). The room must exist. */
export function roomAsSeenBy(state: RoomState, userId: string): Room {
  const meta = state.meta!;
  return {
    id: meta.id,
    name: meta.name,
    topic: meta.topic,
    kind: meta.kind,
    visibility: meta.visibility,
    createdAt: meta.createdAt,
    createdBy: meta.createdBy,
    lastSeq: state.lastSeq,
    memberCount: state.members.size,
    role: state.members.get(userId)?.role ?? null,
  };
}

/** `room` with the retention in force and whether it is the room's own (the room settings dialog). */
export function withRetention(room: Room, retention: Pick<Retention, "effectiveDays" | "ownDays">): Room {
  return { ...room, retentionDays: retention.effectiveDays(), retentionOwn: retention.ownDays() !== undefined };
}

/** What `member`'s inbox stores about the room when they are added (everything before counts as read). */
export function inboxEntryFor(meta: RoomMeta, member: Member, people: ReadonlyMap<string, Member>, lastSeq: number, lastMessage: LastMessage | null): RoomSummary {
  const peer = meta.kind === "dm" ? ([...people.keys()].find((id) => id !== member.userId) ?? null) : null;
  return {
    roomId: meta.id,
    name: meta.name,
    kind: meta.kind,
    visibility: meta.visibility,
    role: member.role,
    joinedAt: member.joinedAt,
    peerId: peer,
    lastSeq,
    lastReadSeq: lastSeq,
    lastMessage,
  };
}

/** The room list's preview of a message (none for an empty room; an empty one for a recalled message). */
export function lastMessageOf(row: MessageRow | undefined): LastMessage | null {
  if (!row) return null;
  return { id: row.id, seq: row.seq, senderId: row.senderId, preview: row.deletedAt !== null ? "" : row.text.slice(0, PREVIEW_CHARS), createdAt: row.createdAt, deleted: row.deletedAt !== null };
}
