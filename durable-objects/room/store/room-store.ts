/**
 * Everything a room reads from and writes to its SQLite file, by table group:
 * `meta` (meta.ts), messages with reactions and mentions (messages.ts),
 * members and read positions (members.ts), the full-text index
 * (search-index.ts), files (files.ts) and the outbox (outbox.ts). No
 * WebSockets here: the room's modules decide, the store remembers. All
 * statements use bound parameters (drizzle or `sql.exec(…, ?)`), never
 * string-built SQL.
 *
 * What spans groups in one transaction (a message with its mentions and
 * files, a recall) is here; everything else is one group's.
 */
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type * as schema from "../schema";
import type { Mentions } from "../../../protocol/models";
import { MetaStore } from "./meta";
import { MessageStore, mentionRows, type MessageRow } from "./messages";
import { MemberStore } from "./members";
import { SearchIndexStore } from "./search-index";
import { FileRowStore } from "./files";
import { OutboxStore } from "./outbox";
import type { AuditFeed } from "../../shared/audit";
import { RetentionStore } from "./retention";

export type RoomDb = DrizzleSqliteDODatabase<typeof schema>;

export class RoomStore {
  readonly meta: MetaStore;
  readonly messages: MessageStore;
  readonly members: MemberStore;
  readonly search: SearchIndexStore;
  readonly files: FileRowStore;
  readonly outbox: OutboxStore;
  /** expired messages, the purge marker and copies kept for legal holds (retention.ts, erasure.ts) */
  readonly held: RetentionStore;

  constructor(
    db: RoomDb,
    private readonly storage: DurableObjectStorage,
    /** the room's audit chain: `audit.record(…)` inside the transaction of the action it records */
    readonly audit: AuditFeed,
  ) {
    this.meta = new MetaStore(db, storage.sql);
    this.messages = new MessageStore(db, storage.sql);
    this.members = new MemberStore(db);
    this.search = new SearchIndexStore(storage.sql, this.meta, this.messages, (fn) => this.transaction(fn));
    this.files = new FileRowStore(db, storage.sql);
    this.outbox = new OutboxStore(db);
    this.held = new RetentionStore(storage.sql);
  }

  /** All-or-nothing: statements before a throw are rolled back. */
  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  /**
   * Insert a message with its mention rows and the files it shares, unless a
   * message with the same client key is stored already: then nothing is
   * written and the answer is false (the caller answers with the stored one).
   * The full-text index is written behind (SearchIndexStore.indexBacklog).
   */
  insertMessage(row: MessageRow, mentions: Mentions, fileIds: string[] = []): boolean {
    const users = mentionRows(mentions);
    // A lone INSERT is atomic by itself; a savepoint is only needed when more follows.
    if (users.length === 0 && fileIds.length === 0) return this.messages.insert(row);
    return this.transaction(() => {
      if (!this.messages.insert(row)) return false;
      this.messages.addMentions(row.seq, users);
      this.files.shareWith(row.seq, fileIds);
      return true;
    });
  }

  /** What a recalled message leaves behind: reactions, mention rows, its index entry. */
  clearDerived(seq: number): void {
    this.messages.clearDerived(seq);
    this.search.forget(seq);
  }
}
