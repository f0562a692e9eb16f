/**
 * Retention: messages older than the room's policy are deleted by the room's
 * alarm, RETENTION_BATCH at a time, each batch one transaction (messages with
 * their reactions, mention rows, search rows and file rows; the files' bytes
 * go through the outbox, retried until the file store has let them go), the
 * alarm re-armed at once while more are due. A purge leaves a marker that
 * history answers carry (`retention`), so clients say "messages before … were
 * removed by the retention policy" instead of pretending the room began there.
 *
 * The policy: the room's own (set by a node administrator: PUT
 * /api/v1/admin/rooms/{id}/retention) or else the node's default (PUT
 * /api/v1/admin/retention, kept by the directory, which tells every room when
 * it changes). Node administrators only, on purpose: retention is a
 * compliance control, and a room owner who could switch it to "forever" (or to
 * one day) would undo the organisation's policy for their room.
 *
 * Legal holds are the directory's (durable-objects/directory/compliance.ts).
 * Every run asks it afresh: a held room is skipped, held people's messages are
 * skipped; nothing is cached here, so a hold placed a moment ago is obeyed by
 * the very next batch. Copies a hold kept of recalled or erased messages are
 * dropped (bytes too) once no hold covers them.
 *
 * Times are the messages' own `created_at` (the home node's clock at commit);
 * a policy of N days removes what was sent more than N × 24 h ago.
 */
import type { Env } from "../shared/env";
import { directoryStub } from "../shared/objects";
import type { InboxActivity } from "./inbox-activity";
import type { Outbox } from "./outbox";
import type { RoomState } from "./room-state";
import type { RoomStore } from "./store/room-store";
import type { RetentionMarker, RetentionStore } from "./store/retention";

/** Messages per transaction: bounded so a purge never holds the room (or the disk) for long. */
export const RETENTION_BATCH = 500;
/** How often a room with a policy looks again when nothing expires sooner (also catches a missed push). */
const RECHECK_MS = 24 * 60 * 60 * 1000;
/** After the directory could not be asked. */
const RETRY_MS = 60_000;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** A policy: keep forever (null) or this many days. */
export type RetentionDays = number | null;

/** What the directory says a room's retention run must obey. */
export interface RetentionInputs {
  defaultDays: RetentionDays;
  roomHeld: boolean;
  /** people under a legal hold (their messages are kept) */
  heldUsers: string[];
}

const parseDays = (raw: string | undefined): RetentionDays | undefined => (raw === undefined ? undefined : raw === "forever" ? null : Number(raw));
const showDays = (days: RetentionDays): string => (days === null ? "forever" : String(days));

export class Retention {
  readonly rows: RetentionStore;

  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly env: Env,
    private readonly activity: InboxActivity,
    private readonly outbox: Outbox,
    /** a purge removed messages: other nodes' copies hear of it (peers.ts: the marker rides every push) */
    private readonly purged: () => void = () => {},
  ) {
    this.rows = store.held;
  }

  /** The policy in force: the room's own, else the node's default as last heard (null: forever). */
  effectiveDays(): RetentionDays {
    const own = parseDays(this.store.meta.getText("retention_days"));
    if (own !== undefined) return own;
    return parseDays(this.store.meta.getText("retention_default_days")) ?? null;
  }

  /** The room's own setting: undefined when it follows the node's default. */
  ownDays(): RetentionDays | undefined {
    return parseDays(this.store.meta.getText("retention_days"));
  }

  marker(): RetentionMarker | null {
    return this.rows.marker(this.store.meta.getText("retention_marker"));
  }

  /** At wake: a run that was due (or a batch left half-way) is armed again. */
  wake(): void {
    const next = this.store.meta.storedNumber("retention_next_at");
    if (next !== undefined) this.state.setAlarmBy(next);
  }

  /** A new room looks at the node's policy soon after it is made (it learns the default then). */
  created(): void {
    this.armAt(Date.now() + RETRY_MS);
  }

  /**
   * A node administrator set the room's own policy (`undefined`: follow the
   * node's default again). The one place a room's retention changes: its
   * audit record (`retention.changed`; "default" when the room follows the
   * node's, null for forever, as in the API's body) is in the same transaction.
   */
  setRoomPolicy(days: RetentionDays | undefined, by: string): void {
    const before = this.ownDays();
    this.store.transaction(() => {
      if (days === undefined) this.store.meta.deleteText("retention_days");
      else this.store.meta.putText("retention_days", showDays(days));
      this.armAt(Date.now());
      this.store.audit.record({
        actor: by,
        action: "retention.changed",
        roomId: this.state.meta?.id ?? null,
        detail: { scope: "room", before: before === undefined ? "default" : before, after: days === undefined ? "default" : days },
      });
    });
  }

  /** The directory's default changed (it tells every room of the node): look now. */
  defaultChanged(days: RetentionDays): void {
    this.store.transaction(() => {
      this.store.meta.putText("retention_default_days", showDays(days));
      this.armAt(Date.now());
    });
  }

  /** From the alarm: one batch when a run is due. */
  async due(): Promise<void> {
    const meta = this.state.meta;
    const next = this.store.meta.storedNumber("retention_next_at");
    if (!meta || next === undefined) return;
    const now = Date.now();
    if (now < next) {
      this.state.setAlarmBy(next);
      return;
    }
    let inputs: RetentionInputs;
    try {
      inputs = await directoryStub(this.env).retentionInputs(meta.id);
    } catch (err) {
      console.error(`room ${meta.id}: retention could not ask the directory for holds`, err);
      this.armAt(now + RETRY_MS);
      return;
    }
    this.store.meta.putText("retention_default_days", showDays(inputs.defaultDays));
    const markerBefore = this.marker()?.beforeSeq;
    let more: boolean;
    try {
      more = this.runBatch(inputs, now);
    } catch (err) {
      // The batch and its record rolled back together (disk full, I/O error): nothing was removed
      // unrecorded. Try again in a minute; the rest of the room's alarm work still runs.
      console.error(`room ${meta.id}: a retention batch could not be written; retrying`, err);
      this.armAt(now + RETRY_MS);
      return;
    }
    if (this.marker()?.beforeSeq !== markerBefore) this.purged();
    if (!more) this.forgetNotifications(inputs.heldUsers, now);
    // Files' bytes and inbox previews follow the batch (outbox; the activity alarm).
    await this.outbox.flush();
    if (more) return this.armAt(Date.now());
    const days = this.effectiveDays();
    if (days === null || inputs.roomHeld) return this.armAt(now + RECHECK_MS);
    // Come back when the oldest message left expires (or tomorrow, whichever is first).
    const oldest = this.rows.oldestUnheld(inputs.heldUsers);
    this.armAt(oldest === null ? now + RECHECK_MS : Math.min(now + RECHECK_MS, Math.max(now + 1000, oldest + days * DAY_MS)));
  }

  /**
   * One bounded transaction: released hold copies first, then expired
   * messages. Returns true when more are due right away.
   *
   * A batch that removed anything writes one `retention.purged` record (actor
   * `system`: the node's policy did it) in its own transaction: how many
   * messages, the cutoff time and the last seq removed, and how many copies a
   * released hold had kept. One per batch, not one per message: the trail
   * says what the policy removed without growing by a row per message. If the
   * record cannot be written the batch rolls back and nothing is removed.
   */
  runBatch(inputs: RetentionInputs, now: number): boolean {
    return this.store.transaction(() => {
      const purge = this.purgeBatch(inputs, now);
      if (purge.count || purge.copies) {
        this.store.audit.record({
          actor: "system",
          action: "retention.purged",
          roomId: this.state.meta?.id ?? null,
          detail: { count: purge.count, before: purge.before, throughSeq: purge.throughSeq, copies: purge.copies },
        });
      }
      return purge.more;
    });
  }

  /** runBatch's writes (inside its transaction): what it removed, and whether more are due. */
  private purgeBatch(inputs: RetentionInputs, now: number): { more: boolean; count: number; copies: number; before: number | null; throughSeq: number | null } {
    const held = inputs.roomHeld ? null : inputs.heldUsers;
    const days = this.effectiveDays();
    const none = { count: 0, before: null, throughSeq: null };
    let budget = RETENTION_BATCH;
    let copies = 0;
    if (held) {
      for (const copy of this.rows.releasedCopies(held, budget)) {
        this.rows.dropCopy(copy.seq);
        for (const f of copy.files) if (!this.fileStillShown(f.id)) this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
        budget--;
        copies++;
      }
    }
    if (budget === 0) return { more: true, copies, ...none };
    if (held === null || days === null) return { more: false, copies, ...none };
    const cutoff = now - days * DAY_MS;
    const rows = this.rows.expired(cutoff, held, budget);
    if (rows.length === 0) return { more: budget < RETENTION_BATCH, copies, ...none };
    for (const row of rows) {
      // A copy a hold kept is the hold's: its files' bytes stay.
      const kept = this.rows.copy(row.seq);
      for (const f of this.rows.filesOf(row.seq)) {
        if (!kept) this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
      }
      this.rows.deleteMessage(row.seq);
    }
    const last = rows[rows.length - 1];
    const before = this.marker();
    const marker: RetentionMarker = { beforeSeq: Math.max(before?.beforeSeq ?? 0, last.seq + 1), before: Math.max(before?.before ?? 0, cutoff), keptSenders: held };
    this.store.meta.putText("retention_marker", JSON.stringify(marker));
    // Previews and unread counts of members' inboxes are sent again (a removed message's text leaves them).
    this.activity.countsChanged();
    this.forceSummaries();
    return { more: rows.length === budget, copies, count: rows.length, before: cutoff, throughSeq: last.seq };
  }

  /**
   * After a purge: every member's inbox drops its notifications (and their
   * previews) of what went, once per purge, through the outbox (retried).
   */
  private forgetNotifications(heldUsers: string[], now: number): void {
    const marker = this.marker();
    if (!marker || marker.beforeSeq <= this.store.meta.number("retention_forgot_below")) return;
    const roomId = this.state.meta!.id;
    this.store.transaction(() => {
      for (const userId of this.state.members.keys()) {
        this.store.outbox.enqueue(userId, { type: "notes.forget", roomId, belowSeq: marker.beforeSeq, exceptSenders: heldUsers }, now);
      }
      this.store.meta.setNumber("retention_forgot_below", marker.beforeSeq);
    });
  }

  /** Is a file row still there (a message that is still shown shares it)? */
  private fileStillShown(id: string): boolean {
    return this.store.files.get(id) !== undefined;
  }

  /**
   * The activity flush sends summaries only when the room's version moved; a
   * purge changes no message, so it moves the notified version back by one
   * and the next flush sends every member a fresh summary (and preview).
   */
  private forceSummaries(): void {
    const notified = this.store.meta.number("notified_version");
    if (notified >= this.state.version && this.state.version > 0) this.store.meta.setNumber("notified_version", this.state.version - 1);
  }

  private armAt(at: number): void {
    this.store.meta.setNumber("retention_next_at", at);
    this.state.setAlarmBy(at);
  }
}
