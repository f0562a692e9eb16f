/**
 * Rooms: my rooms with their unread counts, the public directory, creating
 * rooms and direct messages, a room's settings and members, roles, muting,
 * joining and leaving. Part of OutpostClient (rest-base.ts says how its files
 * fit together).
 */
import type { z } from "zod";
import { InboxRoomSchema, type InboxRoom } from "../protocol/device";
import { MemberSchema, RoomSchema, type Member, type Room } from "../protocol/models";
import type { CreateRoomBody, PublicRoomsQuery } from "../protocol/rest";
import { InboxRoomListSchema, MemberListSchema, OkSchema, PublicRoomsPageSchema, RoomInfoSchema, type PublicRoomsPage, type RoomInfo } from "../protocol/responses";
import { queryString } from "./rest-base";
import { AdminCalls } from "./rest-admin";

export type PublicRoomsParams = z.input<typeof PublicRoomsQuery>;

export class RoomCalls extends AdminCalls {
  /** The user's rooms with unread/mention counts and last messages. */
  myRooms(): Promise<{ rooms: InboxRoom[] }> {
    return this.request("GET", "/me/rooms", undefined, InboxRoomListSchema);
  }
  /**
   * One page of the public room directory, by name; `q` finds names containing it
   * (any case, any script). Pass `nextCursor` back as `cursor` for the next page.
   *
   * @example
   *   for (let cursor: string | undefined; ; ) {
   *     const page = await api.publicRooms({ q: "上海", cursor });
   *     show(page.rooms);
   *     if (!page.nextCursor) break;
   *     cursor = page.nextCursor;
   *   }
   */
  publicRooms(params: PublicRoomsParams = {}): Promise<PublicRoomsPage> {
    const qs = queryString(params);
    return this.request("GET", `/rooms/public${qs ? "?" + qs : ""}`, undefined, PublicRoomsPageSchema);
  }
  createRoom(body: z.input<typeof CreateRoomBody>): Promise<Room> {
    return this.request("POST", "/rooms", body, RoomSchema);
  }
  /** Open (or find) the direct-message room with another person. */
  openDm(userId: string): Promise<Room> {
    return this.request("POST", "/dms", { userId }, RoomSchema);
  }
  room(id: string): Promise<RoomInfo> {
    return this.request("GET", `/rooms/${encodeURIComponent(id)}`, undefined, RoomInfoSchema);
  }
  renameRoom(id: string, name: string): Promise<Room> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(id)}`, { name }, RoomSchema);
  }
  /** Rename (room admins) and/or set the topic (any member; "" clears it). */
  updateRoom(id: string, set: { name?: string; topic?: string }): Promise<Room> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(id)}`, set, RoomSchema);
  }
  /** The owner makes a member an admin or an admin a member. */
  setRole(roomId: string, userId: string, role: "admin" | "member"): Promise<Member> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`, { role }, MemberSchema);
  }
  /** Mute (no notifications) or unmute one of my rooms. */
  setRoomMuted(roomId: string, muted: boolean): Promise<InboxRoom> {
    return this.request("PATCH", `/me/rooms/${encodeURIComponent(roomId)}`, { muted }, InboxRoomSchema);
  }
  joinRoom(id: string): Promise<Room> {
    return this.request("POST", `/rooms/${encodeURIComponent(id)}/join`, undefined, RoomSchema);
  }
  leaveRoom(id: string): Promise<unknown> {
    return this.request("POST", `/rooms/${encodeURIComponent(id)}/leave`, undefined, OkSchema);
  }
  members(id: string): Promise<{ members: Member[] }> {
    return this.request("GET", `/rooms/${encodeURIComponent(id)}/members`, undefined, MemberListSchema);
  }
  addMember(roomId: string, userId: string): Promise<Room> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/members`, { userId }, RoomSchema);
  }
  removeMember(roomId: string, userId: string): Promise<unknown> {
    return this.request("DELETE", `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`, undefined, OkSchema);
  }
}
