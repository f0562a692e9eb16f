/**
 * What a room gives the compliance export (worker/export/): its settings,
 * members with roles and read positions, its files, and its messages page by
 * page in seq order — all of them, or one sender's. The Worker streams these
 * into a zip or CSV as it pulls them, so neither the room nor the Worker ever
 * holds more than a page (`EXPORT_PAGE` messages) of a big room.
 *
 * Who may ask is decided here as well as in the Worker: node administrators
 * only (the room has no member check for them — an export is an
 * administrator's view of everything the room stores).
 */
import type { ExportFile, ExportMember, ExportMessage, ExportReaction, ExportRoom } from "../../protocol/export";
import type { Attachment, Mentions } from "../../protocol/models";
import { AppError, notFound } from "../shared/app-error";
import type { Caller } from "../shared/identity";
import type { RoomState } from "./room-state";
import type { RoomStore } from "./store/room-store";
import { fileFromRaw, type RawFile } from "./store/files";
import type { RawMessageRow } from "./store/messages";

/** A file with the key its bytes are stored under (the Worker reads them; the key never goes into the export). */
export type ExportFileRow = Omit<ExportFile, "entry"> & { storageKey: string };

export interface ExportHead {
  room: ExportRoom;
  members: ExportMember[];
  files: ExportFileRow[];
  messageCount: number;
}

/** What one person left in a room besides their messages (a GDPR access request). */
export interface ExportUserPart {
  room: ExportRoom;
  member: ExportMember | null;
  reactions: ExportReaction[];
  files: ExportFileRow[];
}

/** The columns of a `messages` row an export reads (SELECT below): the row as stored, less the client's keys and the version. */
type Raw = Pick<RawMessageRow, "seq" | "id" | "sender_id" | "text" | "reply_to" | "mentions" | "created_at" | "edited_at" | "deleted_at" | "deleted_by" | "attachments">;

/** Characters of message text per page, at most (one message longer than this is a page of its own). */
const PAGE_CHARS = 64 * 1024;

const SELECT = "SELECT seq, id, sender_id, text, reply_to, mentions, created_at, edited_at, deleted_at, deleted_by, attachments FROM messages";
// sql-safe: fixed strings, every value bound
const PAGE = SELECT + " WHERE seq > ? ORDER BY seq LIMIT ?";
// sql-safe: fixed strings, every value bound
const PAGE_OF_SENDER = SELECT + " WHERE seq > ? AND sender_id = ? ORDER BY seq LIMIT ?";
// sql-safe: a fixed string
const ALL_FILES = "SELECT * FROM files ORDER BY created_at, id";
// sql-safe: a fixed string, the value bound
const FILES_OF_UPLOADER = "SELECT * FROM files WHERE uploader_id = ? ORDER BY created_at, id";

export class RoomExport {
  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    private readonly sql: SqlStorage,
  ) {}

  private requireAdmin(caller: Caller) {
    if (!caller.isAdmin) throw new AppError("forbidden", "only administrators can export");
    if (!this.state.meta) throw notFound();
    return this.state.meta;
  }

  head(caller: Caller): ExportHead {
    const meta = this.requireAdmin(caller);
    const messageCount = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages").one().n;
    return {
      room: { ...meta, lastSeq: this.state.lastSeq },
      members: [...this.state.members.values()].map((m) => this.member(m.userId)!),
      files: this.files(meta.id, ALL_FILES),
      messageCount,
    };
  }

  /**
   * Up to `limit` messages with seq > `afterSeq`, in seq order, optionally only
   * `senderId`'s (no index on the sender: each page continues the scan where
   * the last one stopped, so one person's messages cost one pass over the room).
   * `senderName` is left "" for the Worker, which knows names of people who left.
   */
  page(caller: Caller, afterSeq: number, limit: number, senderId?: string): { messages: ExportMessage[]; next: number | null } {
    const meta = this.requireAdmin(caller);
    const cursor =
      senderId === undefined ? this.sql.exec<Raw>(PAGE, afterSeq, limit) : this.sql.exec<Raw>(PAGE_OF_SENDER, afterSeq, senderId, limit);
    // A page also ends after ~64 K characters of text: long messages make fewer per page,
    // so no page's strings land in V8's large-object space, which only a full GC frees
    // (with 2 KB messages and 500 a page, the node's memory grew by the size of the
    // export). The cursor reads rows lazily, so rows past the cut are never read.
    const rows: Raw[] = [];
    let chars = 0;
    let full = false;
    for (const row of cursor) {
      rows.push(row);
      chars += row.text.length;
      if (rows.length === limit || chars > PAGE_CHARS) {
        full = true;
        break;
      }
    }
    const reactions = this.reactions(rows);
    const messages = rows.map(
      (r): ExportMessage => ({
        roomId: meta.id,
        id: r.id,
        seq: r.seq,
        senderId: r.sender_id,
        senderName: "",
        createdAt: r.created_at,
        text: r.text,
        replyTo: r.reply_to,
        mentions: JSON.parse(r.mentions) as Mentions,
        editedAt: r.edited_at,
        recalled: r.deleted_at !== null,
        recalledAt: r.deleted_at,
        recalledBy: r.deleted_by,
        reactions: reactions.get(r.seq) ?? [],
        attachments: r.attachments ? (JSON.parse(r.attachments) as Attachment[]) : [],
      }),
    );
    return { messages, next: full ? rows[rows.length - 1].seq : null };
  }

  /** `userId`'s membership, the reactions they gave and the files they uploaded here. */
  userPart(caller: Caller, userId: string): ExportUserPart {
    const meta = this.requireAdmin(caller);
    const reactions = this.sql
      .exec<{ seq: number; id: string; emoji: string; created_at: number }>(
        "SELECT r.seq, m.id, r.emoji, r.created_at FROM reactions r JOIN messages m ON m.seq = r.seq WHERE r.user_id = ? ORDER BY r.seq, r.created_at",
        userId,
      )
      .toArray()
      .map((r) => ({ roomId: meta.id, messageId: r.id, seq: r.seq, emoji: r.emoji, createdAt: r.created_at }));
    return { room: { ...meta, lastSeq: this.state.lastSeq }, member: this.member(userId), reactions, files: this.files(meta.id, FILES_OF_UPLOADER, userId) };
  }

  private member(userId: string): ExportMember | null {
    const m = this.state.members.get(userId);
    if (!m) return null;
    // Read positions in memory are ahead of the table (written in batches: reads.ts).
    return { userId: m.userId, username: m.username, displayName: m.displayName, role: m.role, joinedAt: m.joinedAt, lastReadSeq: this.state.reads.get(userId)?.lastReadSeq ?? 0 };
  }

  private files(roomId: string, query: typeof ALL_FILES | typeof FILES_OF_UPLOADER, ...params: string[]): ExportFileRow[] {
    return this.sql
      .exec<RawFile>(query, ...params)
      .toArray()
      .map((f) => ({ roomId, ...fileFromRaw(f) }));
  }

  private reactions(rows: Raw[]): Map<number, { emoji: string; users: string[] }[]> {
    const out = new Map<number, { emoji: string; users: string[] }[]>();
    if (rows.length === 0) return out;
    const wanted = new Set(rows.map((r) => r.seq));
    const all = this.sql
      .exec<{ seq: number; emoji: string; user_id: string }>("SELECT seq, emoji, user_id FROM reactions WHERE seq BETWEEN ? AND ? ORDER BY seq, created_at", rows[0].seq, rows[rows.length - 1].seq)
      .toArray();
    for (const r of all) {
      if (!wanted.has(r.seq)) continue;
      let list = out.get(r.seq);
      if (!list) out.set(r.seq, (list = []));
      let entry = list.find((e) => e.emoji === r.emoji);
      if (!entry) list.push((entry = { emoji: r.emoji, users: [] }));
      entry.users.push(r.user_id);
    }
    return out;
  }
}
