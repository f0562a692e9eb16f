/**
 * The rows retention, legal hold and erasure work on: expired messages (with
 * everything derived from them), the marker history carries after a purge,
 * and the copies a hold keeps (`held_messages`). Every statement is bounded
 * (LIMIT) so a caller's transaction never grows with the room's size.
 *
 * Held people are passed as one JSON array bound to one parameter and read
 * with json_each: workerd binds at most 100 parameters per statement, and a
 * node may hold more people than that.
 */
import { fromRaw, type MessageRow, type RawMessageRow } from "./messages";
import { fileFromRaw, type FileRow, type RawFile } from "./files";

/** What history says about a purged range: messages below `beforeSeq` sent before `before` were removed. */
export interface RetentionMarker {
  /** the lowest seq that retention has not removed (everything below it is gone, except what a hold keeps) */
  beforeSeq: number;
  /** the time bound of the last purge (ms since epoch): messages sent before it were removed */
  before: number;
  /** people under a legal hold at the last purge, whose messages stayed (mirrors keep them too; not in history answers) */
  keptSenders?: string[];
}


export class RetentionStore {
  constructor(private readonly sql: SqlStorage) {}

  /** The oldest `limit` messages sent before `cutoff` whose sender is not in `heldUsers`, in seq order. */
  expired(cutoff: number, heldUsers: string[], limit: number): MessageRow[] {
    return this.sql
      .exec<RawMessageRow>(
        "SELECT * FROM messages WHERE created_at < ? AND sender_id NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
        cutoff,
        JSON.stringify(heldUsers),
        limit,
      )
      .toArray()
      .map(fromRaw);
  }

  /** When the oldest message retention could remove next was sent (null: none left). */
  oldestUnheld(heldUsers: string[]): number | null {
    const row = this.sql
      .exec<{ t: number | null }>("SELECT min(created_at) AS t FROM messages WHERE sender_id NOT IN (SELECT value FROM json_each(?))", JSON.stringify(heldUsers))
      .one();
    return row.t ?? null;
  }

  /** `userId`'s messages after `afterSeq` that still carry anything of theirs (idempotent: erased ones no longer match). */
  bySenderWithContent(userId: string, afterSeq: number, limit: number): MessageRow[] {
    return this.sql
      .exec<RawMessageRow>(
        "SELECT * FROM messages WHERE seq > ? AND sender_id = ? AND (deleted_at IS NULL OR text != '' OR attachments IS NOT NULL) ORDER BY seq LIMIT ?",
        afterSeq,
        userId,
        limit,
      )
      .toArray()
      .map(fromRaw);
  }

  filesOf(seq: number): FileRow[] {
    return this.sql.exec<RawFile>("SELECT * FROM files WHERE message_seq = ?", seq).toArray().map(fileFromRaw);
  }

  /** Uploads of `userId` no message shares (a person's files that were never sent). */
  unsharedUploadsOf(userId: string, limit: number): FileRow[] {
    return this.sql.exec<RawFile>("SELECT * FROM files WHERE uploader_id = ? AND message_seq IS NULL LIMIT ?", userId, limit).toArray().map(fileFromRaw);
  }

  /** A message and everything derived from it: reactions, mention rows, its search row, file rows (the caller deletes the bytes). */
  deleteMessage(seq: number): void {
    this.sql.exec("DELETE FROM reactions WHERE seq = ?", seq);
    this.sql.exec("DELETE FROM mention_index WHERE seq = ?", seq);
    this.sql.exec("DELETE FROM message_fts WHERE rowid = ?", seq);
    this.sql.exec("DELETE FROM files WHERE message_seq = ?", seq);
    this.sql.exec("DELETE FROM messages WHERE seq = ?", seq);
  }

  deleteFile(id: string): void {
    this.sql.exec("DELETE FROM files WHERE id = ?", id);
  }

  /** `userId`'s reactions anywhere in the room (erasure), at most `limit`; returns how many went. */
  /** Delete up to `limit` reactions of `userId`; returns the seq of the message each was on. */
  deleteReactionsOf(userId: string, limit: number): number[] {
    return this.sql
      .exec<{ seq: number }>("DELETE FROM reactions WHERE rowid IN (SELECT rowid FROM reactions WHERE user_id = ? LIMIT ?) RETURNING seq", userId, limit)
      .toArray()
      .map((r) => r.seq);
  }

  marker(raw: string | undefined): RetentionMarker | null {
    return raw ? (JSON.parse(raw) as RetentionMarker) : null;
  }

  // ---- copies kept for a legal hold ----

  keepCopy(row: MessageRow, files: FileRow[], reason: "recall" | "erasure", now: number): void {
    // A message recalled and later erased keeps its first copy: that one has the text.
    this.sql.exec(
      "INSERT INTO held_messages (seq, sender_id, message, files, reason, kept_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING",
      row.seq,
      row.senderId,
      JSON.stringify(row),
      JSON.stringify(files),
      reason,
      now,
    );
  }

  /** A kept copy (tests and a later export read it). */
  copy(seq: number): { message: MessageRow; files: FileRow[]; reason: string } | null {
    const r = this.sql.exec<{ message: string; files: string; reason: string }>("SELECT message, files, reason FROM held_messages WHERE seq = ?", seq).toArray()[0];
    return r ? { message: JSON.parse(r.message) as MessageRow, files: JSON.parse(r.files) as FileRow[], reason: r.reason } : null;
  }

  /** Copies no hold covers any more (the room is not held, the sender not in `heldUsers`), at most `limit`. */
  releasedCopies(heldUsers: string[], limit: number): { seq: number; files: FileRow[] }[] {
    return this.sql
      .exec<{ seq: number; files: string }>(
        "SELECT seq, files FROM held_messages WHERE sender_id NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
        JSON.stringify(heldUsers),
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, files: JSON.parse(r.files) as FileRow[] }));
  }

  dropCopy(seq: number): void {
    this.sql.exec("DELETE FROM held_messages WHERE seq = ?", seq);
  }
}
