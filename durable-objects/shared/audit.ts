/**
 * The audit trail: `recordAudit` appends one record to this object's hash
 * chain (`audit_log`, shared/audit-schema.ts), and `AuditFeed` ships the
 * chain to the directory's node-wide read copy (directory/audit-copy.ts).
 *
 * Fail closed: call `recordAudit` inside the same synchronous transaction as
 * the action it records (`ctx.storage.transactionSync`, or the object's own
 * `transaction(fn)` wrapper). If the record cannot be written (disk full, I/O
 * error) the transaction throws and the action is rolled back with it: an
 * action either happened and is recorded, or did not happen. Nothing is
 * buffered in memory, so nothing can be dropped.
 *
 * One chain per object file: each record carries the hash of the one before
 * (shared/audit-chain.mjs). An object is one writer (its input gate runs one
 * event at a time and the transaction is synchronous), so reading the head and
 * appending cannot interleave with another append.
 *
 * @example
 *   // in a room, beside the write it records:
 *   this.store.transaction(() => {
 *     this.store.members.remove(userId);
 *     this.store.audit.record({ actor: caller.userId, action: "member.removed", roomId, userId });
 *   });
 *   // record() ships to the directory's copy after the commit (it may lag; it never loses).
 *   // Objects without a feed: recordAudit(ctx.storage.sql, entry) inside the transaction.
 */
import type { AuditAction } from "../../protocol/audit";
import { GENESIS, recordHash } from "./audit-chain.mjs";
import { AppError } from "./app-error";
import { isPermanentStorageFault, roomUnavailable } from "./storage-faults";

export interface AuditEntry {
  /** the user who acted, or "system" (the node itself, an ops tool) */
  actor: string;
  action: AuditAction;
  roomId?: string | null;
  /** the user acted on (not the actor), if any */
  userId?: string | null;
  /**
   * Small facts about the action (a new name, a role, a file id, a count).
   * Never message text, passwords, tokens or session secrets: the trail is
   * read by auditors and exported as CSV.
   */
  detail?: Record<string, string | number | boolean | null>;
  /** defaults to now */
  at?: number;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  roomId: string | null;
  userId: string | null;
  detail: string;
  prevHash: string;
  hash: string;
}

/** Bounded so a record stays small; a caller putting more in is a bug, refused loudly. */
const MAX_DETAIL_CHARS = 2000;

function head(sql: SqlStorage): { seq: number; hash: string } {
  const row = sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").toArray()[0];
  return row ?? { seq: 0, hash: GENESIS };
}

/**
 * Append a record to this object's chain. Synchronous; call it inside the
 * transaction of the action it records. Throws (and so rolls the action back)
 * when the record cannot be written.
 */
export function recordAudit(sql: SqlStorage, entry: AuditEntry): AuditRow {
  const detail = JSON.stringify(entry.detail ?? {});
  if (detail.length > MAX_DETAIL_CHARS) throw new Error(`audit detail of ${entry.action} is too large (${detail.length} chars)`);
  try {
    return appendRecord(sql, entry, detail);
  } catch (err) {
    // The caller's transaction rolls back on this throw: the action is refused, and says why.
    console.error(`audit: the record of ${entry.action} could not be written; the action is refused`, err);
    if (isPermanentStorageFault(err)) throw roomUnavailable();
    throw new AppError("storage_error", "the node could not write the audit record of this action (disk full or I/O error), so nothing was done; try again later");
  }
}

function appendRecord(sql: SqlStorage, entry: AuditEntry, detail: string): AuditRow {
  const prev = head(sql);
  const fields = {
    seq: prev.seq + 1,
    at: entry.at ?? Date.now(),
    actor: entry.actor,
    action: entry.action,
    roomId: entry.roomId ?? null,
    userId: entry.userId ?? null,
    detail,
    prevHash: prev.hash,
  };
  const row: AuditRow = { ...fields, hash: recordHash(fields) };
  sql.exec(
    "INSERT INTO audit_log (seq, at, actor, action, room_id, user_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.roomId,
    row.userId,
    row.detail,
    row.prevHash,
    row.hash,
  );
  return row;
}

/** Records after `afterSeq`, oldest first. */
export function auditRowsAfter(sql: SqlStorage, afterSeq: number, limit: number): AuditRow[] {
  return sql
    .exec<{ seq: number; at: number; actor: string; action: string; room_id: string | null; user_id: string | null; detail: string; prev_hash: string; hash: string }>(
      "SELECT seq, at, actor, action, room_id, user_id, detail, prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
      afterSeq,
      limit,
    )
    .toArray()
    .map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, roomId: r.room_id, userId: r.user_id, detail: r.detail, prevHash: r.prev_hash, hash: r.hash }));
}

/** This object's key in the node-wide copy and checkpoint: its class and the id its SQLite file is named by. */
export function auditObjectKey(className: string, ctx: DurableObjectState): string {
  return `${className}:${ctx.id.toString()}`;
}

/** What the directory offers objects for shipping their records (DirectoryObject.auditIngest / auditHeadOf). */
export interface AuditSink {
  auditHeadOf(object: string): Promise<number>;
  auditIngest(object: string, name: string, rows: AuditRow[]): Promise<number>;
}

/**
 * Ships an object's records to the directory's read copy, after they are
 * committed. The chain in the object's own file is the record of truth; the
 * copy is for listing across objects and for the signed checkpoint. Shipping
 * is idempotent by (object, seq) and resumes from the position the directory
 * reports, so a failed or interrupted ship loses nothing: the next action (or
 * the object's next wake) ships everything not yet there.
 */
export class AuditFeed {
  private shipped: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly object: string,
    private readonly name: () => string,
    private readonly sink: () => AuditSink,
  ) {}

  /**
   * `recordAudit` on this object's chain, then ship it once committed. Call
   * inside the action's transaction; the usual way for an object to record.
   */
  record(entry: AuditEntry): AuditRow {
    const row = recordAudit(this.sql, entry);
    void this.ship();
    return row;
  }

  /** Start shipping (returns the promise for `waitUntil`); never throws. */
  ship(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run()
      .catch((err) => {
        // The copy lags until the next ship; the chain itself is safe on disk.
        this.shipped = null;
        console.error(`audit: shipping ${this.object} to the directory failed; will retry on the next record`, err);
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          void this.ship();
        }
      });
    return this.running;
  }

  private async run(): Promise<void> {
    // Never inside the caller's transaction: wait until it has committed (or
    // rolled back: then there is nothing new to ship). transactionSync is
    // synchronous, so one microtask is after it.
    await null;
    if (!this.hasTable()) return;
    const sink = this.sink();
    if (this.shipped === null) this.shipped = await sink.auditHeadOf(this.object);
    for (;;) {
      const rows = auditRowsAfter(this.sql, this.shipped, 200);
      if (rows.length === 0) return;
      const reached = await sink.auditIngest(this.object, this.name(), rows);
      if (reached <= this.shipped) throw new Error(`the directory did not take record ${this.shipped + 1}`);
      this.shipped = reached;
    }
  }

  private hasTable(): boolean {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").toArray().length > 0;
  }
}
