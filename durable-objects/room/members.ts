/**
 * Who is in the room and what they may do: creating the room with its first
 * members, joining, inviting, leaving and removing, roles, renaming; and a
 * member's own new name.
 *
 * Every change is written in one transaction together with the news for the
 * inboxes it concerns (the outbox), then mirrored in memory, broadcast to the
 * room's sockets, and the outbox delivered.
 */
import type { Member, Role, Room } from "../../protocol/models";
import { AppError, notFound } from "../shared/app-error";
import type { Caller } from "../shared/identity";
import type { InboxActivity } from "./inbox-activity";
import type { Outbox } from "./outbox";
import type { RoomSockets } from "./room-socket";
import type { RoomState } from "./room-state";
import { inboxEntryFor, roomAsSeenBy } from "./room-view";
import type { RoomMeta } from "./store/meta";
import type { RoomStore } from "./store/room-store";

export interface MemberInput {
  userId: string;
  username: string;
  displayName: string;
}

export interface CreateRoomInput {
  id: string;
  name: string;
  kind: "group" | "dm";
  visibility: "public" | "private";
  creator: MemberInput;
  members: MemberInput[];
  /** "home": no message, file, index row or preview of this room is stored on another node */
  residency?: "everywhere" | "home";
}

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };

export class Members {
  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly sockets: RoomSockets,
    private readonly outbox: Outbox,
    private readonly activity: InboxActivity,
    /**
     * Told the member count of a group room after every change of members, for
     * the node's public directory (which lists rooms without waking each one).
     */
    private readonly countChanged: (roomId: string, count: number) => void = () => {},
  ) {}

  private reportCount(): void {
    if (this.state.meta?.kind === "group") this.countChanged(this.state.meta.id, this.state.members.size);
  }

  /** The first rows of a new room (its tables exist, nothing else): settings, members, and their inboxes' news. */
  writeNewRoom(input: CreateRoomInput): void {
    const now = Date.now();
    const meta: RoomMeta = { id: input.id, name: input.name, topic: "", kind: input.kind, visibility: input.visibility, createdAt: now, createdBy: input.creator.userId };
    const people = new Map<string, Member>();
    people.set(input.creator.userId, { ...input.creator, role: input.kind === "dm" ? "member" : "owner", joinedAt: now });
    for (const m of input.members) if (!people.has(m.userId)) people.set(m.userId, { ...m, role: "member", joinedAt: now });
    this.store.transaction(() => {
      this.store.meta.save(meta);
      if (input.residency === "home") this.store.meta.putText("residency", "home");
      for (const m of people.values()) {
        this.store.members.upsert(m);
        this.store.outbox.enqueue(m.userId, { type: "room.added", room: inboxEntryFor(meta, m, people, this.state.lastSeq, null) }, now);
      }
      this.store.audit.record({ actor: input.creator.userId, action: "room.created", roomId: input.id, detail: { kind: input.kind, visibility: input.visibility, name: input.name.slice(0, 200), members: people.size } });
    });
    if (input.kind === "group") this.countChanged(input.id, people.size);
  }

  info(caller: Caller): { room: Room; members: Member[] } {
    this.state.requireMember(caller.userId);
    return { room: roomAsSeenBy(this.state, caller.userId), members: [...this.state.members.values()] };
  }

  /** Join a public room. Private rooms and DMs answer exactly like a room that does not exist. */
  async join(user: MemberInput): Promise<Room> {
    const meta = this.state.meta;
    if (!meta) throw notFound();
    if (this.state.members.has(user.userId)) return roomAsSeenBy(this.state, user.userId);
    if (meta.kind !== "group" || meta.visibility !== "public") throw notFound();
    this.add(user, "member", user.userId);
    await this.outbox.flush();
    return roomAsSeenBy(this.state, user.userId);
  }

  /** Invite someone (any member of a group room may). Idempotent. */
  async invite(caller: Caller, user: MemberInput): Promise<Room> {
    const meta = this.state.requireMember(caller.userId);
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message has exactly two people");
    if (!this.state.members.has(user.userId)) {
      this.add(user, "member", caller.userId);
      await this.outbox.flush();
    }
    return roomAsSeenBy(this.state, caller.userId);
  }

  private add(user: MemberInput, role: Role, actor: string): void {
    const meta = this.state.meta!;
    const now = Date.now();
    const member: Member = { ...user, role, joinedAt: now };
    // Joining is not reading, but history from before you joined is not "unread" either.
    const read = { lastReadSeq: this.state.lastSeq, sendReceipts: true };
    this.store.transaction(() => {
      this.store.members.upsert(member);
      this.store.members.setLastRead(member.userId, read.lastReadSeq, true);
      this.store.outbox.enqueue(user.userId, { type: "room.added", room: inboxEntryFor(meta, member, this.state.members, this.state.lastSeq, this.activity.lastMessage()) }, now);
      this.store.audit.record({ actor, action: "member.added", roomId: meta.id, userId: user.userId, detail: { role, joined: actor === user.userId } });
    });
    this.state.addMember(member, read);
    this.sockets.broadcast({ type: "member.joined", member });
    this.reportCount();
  }

  /**
   * Leave (userId = caller) or remove someone. Admins remove members, the
   * owner removes anyone. An owner who leaves hands the room to the longest-
   * standing admin, else the longest-standing member.
   */
  async remove(caller: Caller, userId: string): Promise<void> {
    const meta = this.state.requireMember(caller.userId);
    const actor = this.state.members.get(caller.userId)!;
    const target = this.state.members.get(userId);
    if (!target) throw notFound("member");
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message cannot be left");
    const self = userId === caller.userId;
    if (!self && (actor.role === "member" || RANK[actor.role] <= RANK[target.role])) {
      throw new AppError("forbidden", "only room admins can remove members, and only those below them");
    }
    const now = Date.now();
    let heir: Member | undefined;
    this.store.transaction(() => {
      this.store.members.delete(userId);
      this.store.outbox.enqueue(userId, { type: "room.removed", roomId: meta.id }, now);
      if (target.role === "owner") {
        const rest = [...this.state.members.values()].filter((m) => m.userId !== userId);
        heir = rest.find((m) => m.role === "admin") ?? rest[0];
        if (heir) {
          this.store.members.setRole(heir.userId, "owner");
          this.store.outbox.enqueue(heir.userId, { type: "room.changed", roomId: meta.id, role: "owner" }, now);
        }
      }
      this.store.audit.record({ actor: caller.userId, action: "member.removed", roomId: meta.id, userId, detail: { left: self, heir: heir?.userId ?? null } });
    });
    this.state.removeMember(target);
    this.activity.memberLeft(userId);
    this.reportCount();
    // Close the removed person's sockets before telling the others, so not one
    // more frame about this room reaches them.
    this.sockets.closeUser(userId, self ? "left the room" : "removed from the room");
    this.sockets.broadcast({ type: "member.left", userId, removedBy: self ? null : caller.userId });
    if (heir) this.sockets.broadcast({ type: "member.updated", member: this.state.withRole(heir.userId, "owner") });
    await this.outbox.flush();
  }

  async setRole(caller: Caller, userId: string, role: "admin" | "member"): Promise<Member> {
    const meta = this.state.requireMember(caller.userId);
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message has no roles");
    if (this.state.members.get(caller.userId)!.role !== "owner") throw new AppError("forbidden", "only the owner can change roles");
    const target = this.state.members.get(userId);
    if (!target) throw notFound("member");
    if (target.role === "owner") throw new AppError("invalid_request", "the owner's role cannot be changed");
    this.store.transaction(() => {
      this.store.members.setRole(userId, role);
      this.store.outbox.enqueue(userId, { type: "room.changed", roomId: meta.id, role }, Date.now());
      this.store.audit.record({ actor: caller.userId, action: "member.role_changed", roomId: meta.id, userId, detail: { from: target.role, to: role } });
    });
    const updated = this.state.withRole(userId, role);
    this.sockets.broadcast({ type: "member.updated", member: updated });
    await this.outbox.flush();
    return updated;
  }

  async rename(caller: Caller, name: string): Promise<Room> {
    return this.update(caller, { name });
  }

  /**
   * Rename (room admins and the owner) and/or set the topic. Any member may set
   * the topic, as in Slack: it says what the room is about now, not who runs it.
   * All or nothing: a refused name leaves the topic unchanged too.
   */
  async update(caller: Caller, set: { name?: string; topic?: string }): Promise<Room> {
    const meta = this.state.requireMember(caller.userId);
    if (meta.kind === "dm") throw new AppError("invalid_request", "a direct message has no name or topic");
    if (set.name !== undefined && set.name !== meta.name && this.state.members.get(caller.userId)!.role === "member") {
      throw new AppError("forbidden", "only room admins can rename the room");
    }
    const name = set.name !== undefined && set.name !== meta.name ? set.name : undefined;
    const topic = set.topic !== undefined && set.topic !== meta.topic ? set.topic : undefined;
    if (name === undefined && topic === undefined) return roomAsSeenBy(this.state, caller.userId);
    const now = Date.now();
    this.store.transaction(() => {
      this.store.meta.save({ name, topic });
      // Inboxes keep the name only; the topic is read with the room.
      if (name !== undefined) for (const m of this.state.members.values()) this.store.outbox.enqueue(m.userId, { type: "room.changed", roomId: meta.id, name }, now);
      // Topic changes are ordinary conversation, not security-relevant: only renames are recorded.
      if (name !== undefined) this.store.audit.record({ actor: caller.userId, action: "room.renamed", roomId: meta.id, detail: { from: meta.name.slice(0, 200), to: name.slice(0, 200) } });
    });
    if (name !== undefined) meta.name = name;
    if (topic !== undefined) meta.topic = topic;
    // Each member's own view: it carries their role.
    this.sockets.sendToEachMember((userId) => ({ type: "room.updated", room: roomAsSeenBy(this.state, userId) }));
    await this.outbox.flush();
    return roomAsSeenBy(this.state, caller.userId);
  }

  /**
   * A member renamed themselves or changed their avatar (the user object tells
   * each of its rooms): the member row follows the new name, and the room's
   * viewers hear `member.updated`, on which clients also fetch the new avatar.
   */
  profileChanged(userId: string, displayName: string): void {
    const member = this.state.members.get(userId);
    if (!member) return;
    const updated = { ...member, displayName };
    if (member.displayName !== displayName) this.store.members.upsert(updated);
    this.state.members.set(userId, updated);
    this.sockets.broadcast({ type: "member.updated", member: updated });
  }
}
