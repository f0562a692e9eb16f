/**
 * Uploads nobody sent: a file is uploaded first and shared when a message
 * names it (files.ts). One that no message named within UNSENT_UPLOAD_MS — a
 * composer closed, a send abandoned, a client that uploads and never sends —
 * would otherwise stay on the node's disk for ever, invisible to everyone but
 * its uploader, outside every retention policy. The room's alarm removes such
 * uploads: the row now, the bytes through the outbox (as a recall does), a
 * bounded batch per alarm.
 *
 * A legal hold keeps them: nothing of a held room, or of a held person, is
 * deleted (docs/OPERATIONS.md "Retention and legal hold"). A message that names
 * a removed upload afterwards is refused like any unknown file (400
 * `invalid_request`); the client uploads it again.
 */
import type { Env } from "../shared/env";
import { errorText, log } from "../shared/log";
import { directoryStub } from "../shared/objects";
import type { Outbox } from "./outbox";
import type { RoomState } from "./room-state";
import type { RoomStore } from "./store/room-store";

/** How long an upload may wait for the message that shares it. */
export const UNSENT_UPLOAD_MS = 24 * 60 * 60 * 1000;
/** Uploads removed per alarm (one transaction); more come back at once. */
const BATCH = 200;
/** When the directory cannot say what is held: try again then. */
const RETRY_MS = 60_000;

export class UploadSweep {
  /**
   * Before this time there is nothing to do (a busy room's alarm fires often: it
   * looks only when an upload may be due, and asks the directory about holds
   * only when one is). 0 after a wake: look once.
   */
  private checkAt = 0;

  constructor(
    private readonly env: Env,
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly outbox: Outbox,
  ) {}

  /** An upload was recorded at `createdAt`: the alarm comes back when it would be due. */
  uploaded(createdAt: number): void {
    this.checkAt = Math.min(this.checkAt, createdAt + UNSENT_UPLOAD_MS);
    this.state.setAlarmBy(createdAt + UNSENT_UPLOAD_MS);
  }

  /** At wake: back when the oldest unsent upload is due (at once if it is). */
  wake(): void {
    this.armFrom(0);
  }

  /** The alarm comes back when the oldest unsent upload made at or after `since` is due. */
  private armFrom(since: number): void {
    const oldest = this.store.files.oldestUnsent(since);
    if (oldest === null) return;
    this.checkAt = Math.min(this.checkAt, oldest + UNSENT_UPLOAD_MS);
    this.state.setAlarmBy(oldest + UNSENT_UPLOAD_MS);
  }

  /** From the room's alarm: remove one batch of unsent uploads past their time. */
  async due(now = Date.now()): Promise<void> {
    const meta = this.state.meta;
    if (!meta || now < this.checkAt) return;
    // Nothing more until an upload is due again (armFrom and uploaded bring it forward).
    this.checkAt = Infinity;
    const cutoff = now - UNSENT_UPLOAD_MS;
    if (this.store.files.unsentBefore(cutoff, [], 1).length === 0) return this.armFrom(cutoff);
    let held: { roomHeld: boolean; heldUsers: string[] };
    try {
      held = await directoryStub(this.env).retentionInputs(meta.id);
    } catch (err) {
      log("warn", "room.uploads_sweep_retry", { room: meta.id, error: errorText(err) });
      this.checkAt = now + RETRY_MS;
      this.state.setAlarmBy(now + RETRY_MS);
      return;
    }
    if (held.roomHeld) {
      this.checkAt = now + UNSENT_UPLOAD_MS;
      return this.state.setAlarmBy(now + UNSENT_UPLOAD_MS);
    }
    const gone = this.store.files.unsentBefore(cutoff, held.heldUsers, BATCH);
    this.store.transaction(() => {
      for (const f of gone) {
        this.store.files.delete(f.id);
        this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
      }
    });
    if (gone.length) log("info", "room.uploads_swept", { room: meta.id, files: gone.length });
    await this.outbox.flush();
    if (gone.length === BATCH) {
      this.checkAt = 0;
      return this.state.setAlarmBy(Date.now());
    }
    // Held uploaders' files wait for their hold to end: look again in a day.
    if (this.store.files.unsentBefore(cutoff, [], 1).length > 0) {
      this.checkAt = now + UNSENT_UPLOAD_MS;
      this.state.setAlarmBy(now + UNSENT_UPLOAD_MS);
    }
    this.armFrom(cutoff);
  }
}
