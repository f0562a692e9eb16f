/**
 * Delivering the room's outbox (store/outbox.ts): membership news to members'
 * inboxes, and recalled messages' files to delete from the file store. Each
 * item was written in the same transaction as the change it announces; here
 * it is delivered in order and deleted once delivered. A failure stops the
 * run (nothing may overtake it) and the alarm tries again.
 */
import { errorText, log } from "../shared/log";
import { reportOutbox } from "../shared/node-metrics";
import type { Env } from "../shared/env";
import { deleteStoredFile } from "../shared/file-store";
import type { InboxUpdate } from "../user/inbox-update";
import type { RoomState } from "./room-state";
import { outboxItem, type OutboxStore } from "./store/outbox";

/** how long a failed delivery waits for the alarm's next try */
const RETRY_MS = 2000;

export class Outbox {
  private flushing: Promise<void> | null = null;
  private flushAgain = false;

  constructor(
    private readonly state: RoomState,
    private readonly rows: OutboxStore,
    private readonly env: Env,
    /** an update to a member's inbox, wherever the member is homed (shared/inbox-delivery.ts) */
    private readonly deliverUpdate: (userId: string, update: InboxUpdate) => Promise<void>,
  ) {}

  /**
   * Deliver pending items in order. One flush at a time (a second caller
   * waits for the running one, which loops once more), so an older "added"
   * can never overtake a newer "removed".
   */
  flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = this.deliverAll().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async deliverAll(): Promise<void> {
    do {
      this.flushAgain = false;
      for (const row of this.rows.pending()) {
        try {
          const item = outboxItem(row);
          if (item.type === "file.delete") {
            await deleteStoredFile(this.env, item.storageKey);
          } else {
            // Members were checked when they were added: a stored id.
            await this.deliverUpdate(row.userId, item);
          }
          this.rows.delete(row.id);
        } catch (err) {
          const roomId = this.state.meta?.id ?? "";
          const waiting = this.rows.count();
          log("warn", "outbox.retry", { room: roomId, waiting, error: errorText(err) });
          reportOutbox(roomId, waiting);
          this.state.setAlarmBy(Date.now() + RETRY_MS);
          return;
        }
      }
    } while (this.flushAgain);
    // Empty now: the room leaves the metrics' outbox gauge (if it was there).
    if (this.state.meta) reportOutbox(this.state.meta.id, 0);
  }
}
