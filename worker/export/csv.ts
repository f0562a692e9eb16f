/**
 * The eDiscovery CSV: one row per message, RFC 4180 (every field quoted when
 * it holds a comma, quote, CR or LF; quotes doubled; rows end in CRLF).
 *
 * The file starts with a UTF-8 byte order mark. RFC 4180 does not need it,
 * but Excel — what reviewers and auditors open a CSV with — reads a CSV
 * without one in the system's legacy code page (GBK on a Chinese Windows,
 * Windows-1252 elsewhere), which turns every Chinese message into mojibake.
 * With the BOM it reads UTF-8. Tools that parse CSV properly skip it.
 *
 * Message text is written exactly as stored, never altered: for evidence the
 * text must be what was sent. That includes text starting with `=`, `+`, `-`
 * or `@`, which a spreadsheet may take for a formula ("CSV injection"); the
 * guidance in docs/OPERATIONS.md is to import the file as text columns in a
 * spreadsheet rather than double-click it. Times are ISO 8601 in UTC.
 */
import type { ExportMessage } from "../../protocol/export";

export const CSV_BOM = "\uFEFF";

export const CSV_COLUMNS = [
  "room_id",
  "room_name",
  "seq",
  "message_id",
  "time_utc",
  "sender_id",
  "sender_name",
  "text",
  "edited_at_utc",
  "recalled_at_utc",
  "recalled_by",
  "reply_to",
  "attachments",
] as const;

/** One field, quoted when it has to be. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export const csvRow = (fields: readonly string[]): string => fields.map(csvField).join(",") + "\r\n";

const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

/** A message as a CSV row (its room's name given, since messages carry only the id). */
export function messageRow(m: ExportMessage, roomName: string): string {
  return csvRow([
    m.roomId,
    roomName,
    String(m.seq),
    m.id,
    iso(m.createdAt),
    m.senderId,
    m.senderName,
    m.text,
    iso(m.editedAt),
    iso(m.recalledAt),
    m.recalled ? (m.recalledBy ?? "unknown") : "",
    m.replyTo ?? "",
    m.attachments.map((a) => `${a.name} (${a.id})`).join("; "),
  ]);
}
