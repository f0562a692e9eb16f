/**
 * The node-wide side of the audit trail, kept by the directory:
 *
 * - a read copy of every object's chain (`audit_copy`), fed by each object's
 *   AuditFeed (shared/audit.ts) after its commits, idempotent by (object, seq),
 *   and by the directory's own records in the same transaction as they are
 *   written. The admin listing reads it, so one query sees every object
 *   without waking thousands of rooms. The chains in the objects' own files
 *   stay the record of truth (`npm run audit -- verify` reads those).
 * - the head (seq, hash) of every chain it has received (`audit_heads`), and a
 *   checkpoint of all of them signed with the node's Ed25519 key (the
 *   `audit_checkpoint` setting). The verify tool checks every chain against it,
 *   so a chain whose last records were cut off (which leaves a chain that is
 *   valid by itself) is found.
 */
import { and, desc, eq, gte, lt, or, sql as dsql, type SQL } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import type { AuditRow } from "../shared/audit";
import { checkpointText } from "../shared/audit-chain.mjs";
import { AppError } from "../shared/app-error";
import { b64url, fromB64url } from "../shared/bytes";
import type { AuditPage, AuditQueryInput, AuditRecord } from "../../protocol/audit";
import { reportAuditCheckpoint } from "../shared/node-metrics";

/** The setting that holds the signed checkpoint (JSON: version, at, heads, signature). */
export const CHECKPOINT_SETTING = "audit_checkpoint";

export interface Checkpoint {
  version: number;
  at: number;
  heads: { object: string; seq: number; hash: string }[];
  /** base64url Ed25519 signature over checkpointText(…); null on a node without a key (tests under miniflare) */
  signature: string | null;
}

type Db = DrizzleSqliteDODatabase<typeof schema>;

export class AuditCopy {
  private version = 0;
  private signing: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    /** the node's signing key, or null when it has none */
    private readonly key: () => Promise<CryptoKey> | null,
  ) {}

  headOf(object: string): number {
    return this.db.select({ seq: schema.auditHeads.seq }).from(schema.auditHeads).where(eq(schema.auditHeads.object, object)).get()?.seq ?? 0;
  }

  /**
   * Take records of `object`'s chain, oldest first; returns the head seq now
   * held. Records already held are skipped; a record that does not follow the
   * held head (a gap, or a prevHash that is not the held hash) stops the
   * intake there, so the copy is never a chain with holes. Call inside a
   * transaction.
   */
  ingest(object: string, name: string, rows: AuditRow[]): number {
    const held = this.db.select().from(schema.auditHeads).where(eq(schema.auditHeads.object, object)).get();
    let seq = held?.seq ?? 0;
    let hash = held?.hash ?? null;
    for (const r of rows) {
      if (r.seq <= seq) continue;
      if (r.seq !== seq + 1 || (hash !== null && r.prevHash !== hash)) {
        console.error(`audit: ${object} sent record ${r.seq} that does not follow ${seq}; not taken`);
        break;
      }
      this.db
        .insert(schema.auditCopy)
        .values({ object, seq: r.seq, at: r.at, actor: r.actor, action: r.action, roomId: r.roomId, userId: r.userId, detail: r.detail, hash: r.hash })
        .onConflictDoNothing()
        .run();
      seq = r.seq;
      hash = r.hash;
    }
    if (hash !== null && seq !== (held?.seq ?? 0)) {
      this.db
        .insert(schema.auditHeads)
        .values({ object, name, seq, hash })
        .onConflictDoUpdate({ target: schema.auditHeads.object, set: { seq, hash, name } })
        .run();
    }
    return seq;
  }

  /**
   * Sign the current heads (after a commit). Resolves once a signing that
   * began after this call is stored, so a caller that awaits it knows its
   * heads are covered. Coalesced: one signing at a time and at most one
   * queued behind it, so a burst of records costs a few signatures, not one each.
   */
  sign(): Promise<void> {
    if (!this.signing) {
      this.signing = this.signOnce()
        .catch((err) => console.error("audit: signing the checkpoint failed", err))
        .finally(() => (this.signing = null));
      return this.signing;
    }
    this.queued ??= this.signing.then(() => {
      this.queued = null;
      return this.sign();
    });
    return this.queued;
  }

  private async signOnce(): Promise<void> {
    const heads = this.db.select({ object: schema.auditHeads.object, seq: schema.auditHeads.seq, hash: schema.auditHeads.hash }).from(schema.auditHeads).all();
    const stored = this.checkpoint();
    const version = Math.max(this.version, stored?.version ?? 0) + 1;
    this.version = version;
    const cp: Checkpoint = { version, at: Date.now(), heads, signature: null };
    const key = this.key();
    if (key) {
      const sig = await crypto.subtle.sign({ name: "Ed25519" }, await key, new TextEncoder().encode(checkpointText(cp)));
      cp.signature = b64url(new Uint8Array(sig));
    }
    // Signings run one at a time (sign()), but never let an older one overwrite a newer one.
    const now = this.checkpoint();
    if (now && now.version >= version) return;
    this.db
      .insert(schema.settings)
      .values({ key: CHECKPOINT_SETTING, value: JSON.stringify(cp) })
      .onConflictDoUpdate({ target: schema.settings.key, set: { value: JSON.stringify(cp) } })
      .run();
    reportAuditCheckpoint(cp.at);
  }

  checkpoint(): Checkpoint | null {
    const row = this.db.select().from(schema.settings).where(eq(schema.settings.key, CHECKPOINT_SETTING)).get();
    return row ? (JSON.parse(row.value) as Checkpoint) : null;
  }

  /** One page of the listing, newest first (see protocol/audit.ts AuditQuery). */
  page(q: AuditQueryInput): AuditPage {
    const c = schema.auditCopy;
    const where: SQL[] = [];
    if (q.user) where.push(or(eq(c.actor, q.user), eq(c.userId, q.user))!);
    if (q.room) where.push(eq(c.roomId, q.room));
    if (q.action) where.push(eq(c.action, q.action));
    if (q.from !== undefined) where.push(gte(c.at, q.from));
    if (q.to !== undefined) where.push(lt(c.at, q.to));
    if (q.cursor) {
      const after = decodeCursor(q.cursor);
      // Strictly older than the last row of the previous page, in (at, object, seq) order.
      where.push(dsql`(${c.at}, ${c.object}, ${c.seq}) < (${after.at}, ${after.object}, ${after.seq})`);
    }
    const rows = this.db
      .select()
      .from(c)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(c.at), desc(c.object), desc(c.seq))
      .limit(q.limit + 1)
      .all();
    const more = rows.length > q.limit;
    const records: AuditRecord[] = rows.slice(0, q.limit).map((r) => ({
      object: r.object,
      seq: r.seq,
      at: r.at,
      actor: r.actor,
      action: r.action,
      roomId: r.roomId,
      userId: r.userId,
      detail: r.detail,
      hash: r.hash,
    }));
    const last = records.at(-1);
    return { records, nextCursor: more && last ? encodeCursor(last) : null };
  }
}

function encodeCursor(r: { at: number; object: string; seq: number }): string {
  return b64url(new TextEncoder().encode(JSON.stringify([r.at, r.object, r.seq])));
}

function decodeCursor(cursor: string): { at: number; object: string; seq: number } {
  try {
    const bytes = fromB64url(cursor);
    const v: unknown = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
    if (Array.isArray(v) && v.length === 3 && Number.isInteger(v[0]) && typeof v[1] === "string" && Number.isInteger(v[2])) return { at: v[0], object: v[1], seq: v[2] };
  } catch {
    // falls through to the error below
  }
  throw new AppError("invalid_request", "cursor: not a cursor this node gave out");
}

