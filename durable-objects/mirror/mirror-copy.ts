/**
 * A mirror's copy of its room, kept twice: as its viewers were told (`state`
 * and `members`: every push taken moves them at once) and as written
 * (`written`). A push is taken when it arrives — removed members' sockets
 * close, the news goes out, the positions move in memory — and written later
 * with the other pushes of a short moment, in one transaction (link-socket.ts
 * decides when, and writes what waits before the copy is read). The home
 * committed every message before pushing it; a push not written here is not
 * acknowledged, and the home pushes it again (apply-push.ts).
 */
import { ensureSchema, openDb } from "../shared/database";
import * as schema from "./schema";
import migrations from "./migrations/migrations.js";
import { MIRROR_PURGE_BATCH, type MirrorState, type MirrorStore } from "./mirror-store";
import type { MirrorSockets } from "./mirror-sockets";
import { applyPush, memberFrames, pushedFrames, stateAfter, type Applied } from "./apply-push";
import type { RoomPush, RoomPushAnswer } from "../../protocol/cluster";
import type { Member, Room } from "../../protocol/models";

export class MirrorCopy {
  /** the copy as its viewers were told; null before the home's first push */
  state: MirrorState | null = null;
  members = new Map<string, Member>();
  /** the copy as written */
  private written: MirrorState | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: MirrorStore,
    private readonly sockets: MirrorSockets,
  ) {}

  /** What the copy's file holds (at wake, when it has tables). */
  load(): void {
    this.state = this.written = this.store.load();
    this.members = new Map(this.state.members.map((m) => [m.userId, m]));
  }

  /** Before the first push: the tables (a mirror's file is made by its first push, never by a question). */
  async ready(): Promise<void> {
    if (this.state) return;
    await ensureSchema(openDb(this.storage, schema), migrations);
    this.load();
  }

  /** The room as `userId` sees it, from what the viewers were told. */
  view(userId: string): Room {
    const { residency: _r, ...room } = this.state!.room!;
    // A mirror saved before topics existed has none.
    return { ...room, topic: room.topic ?? "", lastSeq: this.state!.lastSeq, memberCount: this.members.size, role: this.members.get(userId)?.role ?? null };
  }

  /**
   * Tell this node's viewers what a push brings and move the positions in
   * memory; written later (`write`). Removed members' sockets close first,
   * then the news goes out.
   */
  take(push: RoomPush): void {
    const before = this.state!;
    if (push.members && push.membersRev !== before.membersRev) {
      const { removed, frames } = memberFrames(this.members, push.members as Member[]);
      for (const userId of removed) this.sockets.closeUser(userId, "removed from the room");
      for (const f of frames) this.sockets.broadcast(f);
      this.members = new Map((push.members as Member[]).map((m) => [m.userId, m]));
    }
    for (const f of pushedFrames(before, push)) this.sockets.broadcast(f);
    this.sockets.flush();
    for (const userId of push.typing ?? []) this.sockets.typing(userId);
    this.state = stateAfter(before, push, Date.now());
  }

  /**
   * Write pushes taken, in order, in one transaction (one commit; the positions
   * once, with the last); what each one answers. When the write fails nothing
   * is written, the told state goes back to the written one, and it throws.
   */
  write(pushes: RoomPush[]): RoomPushAnswer[] {
    const done: Applied[] = [];
    try {
      this.store.transaction(() => {
        let before = this.written!;
        for (const [i, push] of pushes.entries()) {
          done.push(applyPush(this.store, before, push, Date.now(), i === pushes.length - 1));
          before = done.at(-1)!.state;
        }
      });
    } catch (err) {
      this.state = this.written;
      this.members = new Map(this.written!.members.map((m) => [m.userId, m]));
      throw err;
    }
    this.written = done.at(-1)!.state;
    // What the home's retention removed goes here too, a bounded transaction at a time.
    const marker = this.written.retention;
    if (marker && pushes.some((p) => p.retention)) {
      for (;;) if (this.store.purgeBatch(marker) < MIRROR_PURGE_BATCH) break;
    }
    for (const applied of done) {
      if (applied.renamed) this.sockets.sendToEachMember((u) => this.members.has(u), (u) => ({ type: "room.updated", room: this.view(u) }));
      for (const r of applied.reads) if (this.members.has(r.userId)) this.sockets.broadcast({ type: "receipt", userId: r.userId, seq: r.seq });
    }
    return done.map(({ state }) => ({ version: state.version, lastSeq: state.lastSeq, membersRev: state.membersRev }));
  }
}
