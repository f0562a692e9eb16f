/**
 * The directory's side of the audit trail, in one place: its own audited
 * writes (an action and its records in one transaction, then the checkpoint
 * signed), and what it does as the keeper of the node-wide copy (audit-copy.ts)
 * for every other object — taking their records in, answering where each
 * chain ends, the admin listing — and what it records at each start: the ops
 * tools' stamps (ops-stamps.ts) and a changed configuration (config-audit.ts).
 *
 * The directory's own records go into its own chain (shared/audit.ts
 * `recordAudit`) and into the copy in the same transaction, so its chain and
 * the copy never disagree about them.
 */
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { auditObjectKey, recordAudit, type AuditEntry, type AuditRow } from "../shared/audit";
import { nodeKey } from "../shared/cluster";
import type { Env } from "../shared/env";
import type { AuditPage, AuditQueryInput } from "../../protocol/audit";
import { AuditCopy, type Checkpoint } from "./audit-copy";
import { configChange } from "./config-audit";
import { newStamps, readStamps, saveTaken } from "./ops-stamps";
import * as schema from "./schema";

export class DirectoryAudit {
  readonly copy: AuditCopy;
  /** This object's own chain's key (its records go to the copy in the same transaction). */
  private readonly key: string;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
  ) {
    this.key = auditObjectKey("DirectoryObject", ctx);
    this.copy = new AuditCopy(db, () => (env.NODE_PRIVATE_KEY ? nodeKey(env) : null));
  }

  /**
   * `fn` and its audit records in one transaction (fail closed): if a record
   * cannot be written, the action is rolled back and the caller gets the error.
   */
  audited<T>(fn: () => T, entries: (result: T) => AuditEntry[]): T {
    let recorded = 0;
    const result = this.ctx.storage.transactionSync(() => {
      const r = fn();
      for (const e of entries(r)) {
        this.recordOwn(e);
        recorded++;
      }
      return r;
    });
    if (recorded) this.ctx.waitUntil(this.copy.sign());
    return result;
  }

  /** Append to the directory's own chain and its copy; call inside a transaction (then `signLater`). */
  recordOwn(entry: AuditEntry): void {
    const row = recordAudit(this.ctx.storage.sql, entry);
    this.copy.ingest(this.key, "directory", [row]);
  }

  /**
   * `recordOwn` for a module that runs its own transaction (erasure.ts): call
   * inside it; the checkpoint is signed once the transaction has committed
   * (a microtask after it: transactionSync is synchronous), never over a head
   * that a rollback would take back.
   */
  recordWithin(entry: AuditEntry): void {
    this.recordOwn(entry);
    this.ctx.waitUntil(Promise.resolve().then(() => this.copy.sign()));
  }

  /** Sign the checkpoint after a transaction that called `recordOwn` has returned. */
  signLater(): void {
    this.ctx.waitUntil(this.copy.sign());
  }

  // ------------------------------------------- the node-wide copy, for the other objects

  /** Where the directory's copy of `object`'s chain ends (AuditFeed resumes after it). */
  headOf(object: string): number {
    return this.copy.headOf(object);
  }

  /** Records an object shipped (shared/audit.ts AuditFeed); the head now held. */
  async ingest(object: string, name: string, rows: AuditRow[]): Promise<number> {
    if (object === this.key) return this.copy.headOf(object);
    const head = this.ctx.storage.transactionSync(() => this.copy.ingest(object, name, rows));
    await this.copy.sign();
    return head;
  }

  /** One page of the node-wide trail; backups stamped since the last look are recorded first. */
  async page(q: AuditQueryInput): Promise<AuditPage> {
    await this.takeOpsStamps();
    return this.copy.page(q);
  }

  /** At the directory's start, after its migrations: what happened to the node while it was down. */
  async recordAtStart(): Promise<void> {
    // Backups and restores the ops tools stamped while the node was down (or before a restore's
    // first start); a failure only delays them to the next read of the trail.
    await this.takeOpsStamps().catch((err) => console.error("audit: reading the ops tools' stamps failed", err));
    // A node started with another configuration than last time: recorded (config-audit.ts).
    // Not fatal when it cannot be written (disk full): the state is saved with the record, so it is
    // recorded at the next start instead.
    try {
      const change = configChange(this.db, this.env);
      if (change) this.audited(change.save, () => [change.entry]);
    } catch (err) {
      console.error("audit: the configuration change could not be recorded now; it will be at the next start", err);
    }
  }

  /** Record the ops tools' new stamps (ops-stamps.ts); returns how many. */
  async takeOpsStamps(): Promise<number> {
    const text = await readStamps(this.env.FILES);
    if (text === null) return 0;
    // Read and recorded in one synchronous transaction: two calls racing cannot take a line twice.
    return this.audited(
      () => newStamps(this.db, text),
      ({ entries, taken }) => {
        saveTaken(this.db, taken);
        return entries;
      },
    ).entries.length;
  }

  /** The signed checkpoint as stored, signed now if it is behind. */
  async checkpoint(): Promise<Checkpoint | null> {
    await this.copy.sign();
    return this.copy.checkpoint();
  }
}
