/**
 * A room's messages over REST: history, sending (with attachments uploaded
 * first), one message, editing, recalling, reactions, read positions and
 * receipts, files, and search across rooms. Part of OutpostClient
 * (rest-base.ts says how its files fit together); live messages come over the
 * room socket (room-socket.ts).
 */
import type { z } from "zod";
import { MessageSchema, type Attachment, type Message, type Receipt } from "../protocol/models";
import type { SearchQuery, SendMessageBody } from "../protocol/rest";
import { HistoryPageSchema, ReadPositionSchema, ReceiptListSchema, SearchResultsSchema, SentMessageSchema, type HistoryPage, type QueuedSend, type SearchResults } from "../protocol/responses";
import { queryString } from "./rest-base";
import { RoomCalls } from "./rest-rooms";
import { uploadBlob, type UploadOptions } from "./upload";

export type SearchResult = SearchResults;
export type SearchParams = z.input<typeof SearchQuery>;

export class MessageCalls extends RoomCalls {
  /** One page of history: `before` a seq (older), or `after` one (newer); at most 100. */
  history(roomId: string, q: { before?: number; after?: number; limit?: number } = {}): Promise<HistoryPage> {
    const params = Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join("&");
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/messages${params ? "?" + params : ""}`, undefined, HistoryPageSchema);
  }
  /**
   * Send over REST. Pass the same `clientId` on a retry: the node stores the
   * message once. The stored message (201; 200 for a repeat of its clientId),
   * or `{queued, clientId}` (202) in a room homed on another node that this
   * node cannot reach now: it is delivered once, in order, when the link returns.
   */
  send(roomId: string, body: z.input<typeof SendMessageBody>): Promise<Message | QueuedSend> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, body, SentMessageSchema);
  }
  /** One message by id (members only): its `seq` places it in history (a deep link to it). */
  message(roomId: string, messageId: string): Promise<Message> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/messages/${encodeURIComponent(messageId)}`, undefined, MessageSchema);
  }
  edit(roomId: string, messageId: string, text: string): Promise<Message> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(roomId)}/messages/${messageId}`, { text }, MessageSchema);
  }
  /** Recall: the message becomes a tombstone for everyone. */
  recall(roomId: string, messageId: string): Promise<Message> {
    return this.request("DELETE", `/rooms/${encodeURIComponent(roomId)}/messages/${messageId}`, undefined, MessageSchema);
  }
  /** Toggle the caller's reaction. */
  react(roomId: string, messageId: string, emoji: string): Promise<Message> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/messages/${messageId}/reactions`, { emoji }, MessageSchema);
  }
  markRead(roomId: string, seq: number): Promise<{ lastReadSeq: number }> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/read`, { seq }, ReadPositionSchema);
  }
  receipts(roomId: string): Promise<{ receipts: Receipt[] }> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/receipts`, undefined, ReceiptListSchema);
  }

  // ---- files -----------------------------------------------------------------
  /**
   * Upload a file into a room (raw bytes, streamed by the browser); then send a
   * message with `attachments: [attachment.id]`. Rejects with `too_large` (413)
   * or `unsupported_media_type` (415) when the node refuses it.
   */
  uploadFile(roomId: string, file: Blob & { name?: string }, options: UploadOptions = {}): Promise<Attachment> {
    const name = options.name ?? file.name ?? "file";
    // `size` too: a proxy on the way may re-send the body chunked, without its Content-Length,
    // and then only the declared size lets the node tell a cut-off body from the whole file.
    const path = `/rooms/${encodeURIComponent(roomId)}/files?name=${encodeURIComponent(name)}&size=${file.size}`;
    return uploadBlob({ url: `${this.baseUrl}/api/v1${path}`, what: `POST ${path}`, token: this.token, fetch: this.customFetch ? this.fetchImpl : null }, file, options);
  }
  /** URL to download (or, for images, show) an uploaded file; members only. */
  fileUrl(fileId: string): string {
    return `${this.baseUrl}/api/v1/files/${encodeURIComponent(fileId)}`;
  }

  // ---- search ----------------------------------------------------------------
  /** Full-text search in one room (`room`) or every room the caller is in now; `cursor` pages on. */
  search(params: SearchParams): Promise<SearchResult> {
    const qs = queryString(params);
    return this.request("GET", `/search?${qs}`, undefined, SearchResultsSchema);
  }
}
