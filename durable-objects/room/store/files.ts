/** The `files` table: uploads to the room, shared once a message names them (bytes are in the file store). */
import { eq } from "drizzle-orm";
import * as schema from "../schema";
import type { RoomDb } from "./room-store";

export type FileRow = typeof schema.files.$inferSelect;

/** A `files` row as `SELECT *` returns it through ctx.storage.sql (retention.ts, export-rows.ts). */
export type RawFile = { id: string; name: string; size: number; content_type: string; sha256: string; uploader_id: string; created_at: number; message_seq: number | null; storage_key: string };
export const fileFromRaw = (f: RawFile): FileRow => ({
  id: f.id,
  name: f.name,
  size: f.size,
  contentType: f.content_type,
  sha256: f.sha256,
  uploaderId: f.uploader_id,
  createdAt: f.created_at,
  messageSeq: f.message_seq,
  storageKey: f.storage_key,
});

export class FileRowStore {
  constructor(
    private readonly db: RoomDb,
    private readonly sql: SqlStorage,
  ) {}

  insert(row: FileRow): void {
    this.db.insert(schema.files).values(row).run();
  }

  get(id: string): FileRow | undefined {
    return this.db.select().from(schema.files).where(eq(schema.files.id, id)).get();
  }

  ofMessage(seq: number): FileRow[] {
    return this.db.select().from(schema.files).where(eq(schema.files.messageSeq, seq)).all();
  }

  /** The files a new message shares (on the send path: fixed SQL). */
  shareWith(seq: number, fileIds: string[]): void {
    for (const id of fileIds) this.sql.exec("UPDATE files SET message_seq = ? WHERE id = ?", seq, id);
  }

  /** The oldest upload no message shares yet, made at or after `since` (its time), or null. */
  oldestUnsent(since: number): number | null {
    const row = this.sql.exec<{ at: number | null }>("SELECT min(created_at) AS at FROM files WHERE message_seq IS NULL AND created_at >= ?", since).one();
    return row.at ?? null;
  }

  /** Uploads no message shares, made before `before` by anyone but `except`, oldest first (at most `limit`). */
  unsentBefore(before: number, except: string[], limit: number): FileRow[] {
    return this.sql
      .exec<RawFile>(
        "SELECT * FROM files WHERE message_seq IS NULL AND created_at < ? AND uploader_id NOT IN (SELECT value FROM json_each(?)) ORDER BY created_at LIMIT ?",
        before,
        JSON.stringify(except),
        limit,
      )
      .toArray()
      .map(fileFromRaw);
  }

  delete(id: string): void {
    this.db.delete(schema.files).where(eq(schema.files.id, id)).run();
  }
}
