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
}

export type InboxUpdate =
  | { type: "room.added"; room: RoomSummary }
  | { type: "room.removed"; roomId: string }
  | { type: "room.changed"; roomId: string; name?: string; role?: RoomSummary["role"] };
