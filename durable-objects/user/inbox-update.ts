import type { LastMessage, Notification } from "../../protocol/device";

/**
 * What a room tells a member's inbox (UserObject). Delivered through the
 * room's outbox, in order, at least once; applying one twice is harmless.
 */
export interface RoomSummary {
  roomId: string;
  name: string;
  kind: "group" | "dm";
  visibility: "public" | "private";
  role: "owner" | "admin" | "member";
  joinedAt: number;
  /** for DMs: the other person */
  peerId: string | null;
  lastSeq: number;
  lastReadSeq: number;
  lastMessage: LastMessage | null;
}

/**
 * A member nobody is looking for (their inbox has no device socket open and no
 * recent room-list read) gets a room's plain summaries at most this often;
 * notifications (mentions, DMs) still go at once, and their inbox asks the
 * rooms it heard from lately for fresh summaries the moment someone looks
 * (Inbox.refresh in inbox.ts). Measured: summaries to 50 members of 100 busy
 * rooms were a fifth of the node's CPU, and most went to people who were not there.
 */
export const AWAY_SUMMARY_INTERVAL_MS = 30_000;

/** The coalesced "something happened in this room" a room sends each member's inbox (at most ~1/s per room). */
export interface RoomActivity {
  roomId: string;
  lastSeq: number;
  lastReadSeq: number;
  unread: number;
  mentions: number;
  lastMessage: LastMessage | null;
  notifications: Omit<Notification, "id">[];
}

export type InboxUpdate =
  | { type: "room.added"; room: RoomSummary }
  | { type: "room.removed"; roomId: string }
  | { type: "room.changed"; roomId: string; name?: string; role?: RoomSummary["role"] }
  /**
   * Notifications (with their previews) of messages the room no longer has:
   * below `belowSeq` (a retention purge; `exceptSenders` are held people whose
   * messages stayed), or everything `senderId` sent (an erasure). An inbox of
   * an older version ignores the type.
   */
  | { type: "notes.forget"; roomId: string; belowSeq?: number; exceptSenders?: string[]; senderId?: string };
