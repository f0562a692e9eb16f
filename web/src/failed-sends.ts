/**
 * Sends the node refused for good (too long, no longer a member, …). Each
 * keeps the reason (an error code, shown translated), its place in the room
 * (after the message that was newest when it was written, so what was sent
 * later is drawn below it), and its text: it is kept in localStorage, per user
 * and room, until it is retried, edited or discarded — a reload loses nothing,
 * as with a draft.
 */
import type { QueuedMessage } from "../../sdk/index";
import { changed, state } from "./store";
import { safeSet } from "./i18n";

export interface FailedSend {
  message: QueuedMessage;
  /** the node's error code (protocol/errors.ts), or "network"/"internal" */
  code: string;
  /** the room's newest seq when it was written: the row goes after that message */
  afterSeq: number;
}

const keyOf = (userId: string, roomId: string) => `outpost.failed.${userId}.${roomId}`;

/** The newest seq the client knew in each room when a message was queued (clientId → seq). */
const writtenAfter = new Map<string, number>();

/** Call when a message is queued: where it belongs should it fail. */
export function noteQueued(clientId: string, roomId: string): void {
  writtenAfter.set(clientId, newestSeq(roomId));
}

function newestSeq(roomId: string): number {
  const view = state.view?.roomId === roomId ? state.view : null;
  const last = view?.messages[view.messages.length - 1]?.seq;
  return last ?? state.device?.rooms.get(roomId)?.lastMessage?.seq ?? 0;
}

export function recordFailure(message: QueuedMessage, error: Error): void {
  const raw = (error as Error & { code?: unknown }).code;
  const code = typeof raw === "string" ? raw : "internal";
  const afterSeq = writtenAfter.get(message.clientId) ?? newestSeq(message.roomId);
  writtenAfter.delete(message.clientId);
  state.failed = [...state.failed.filter((f) => f.message.clientId !== message.clientId), { message, code, afterSeq }];
  save(message.roomId);
  changed();
}

export function failedIn(roomId: string): FailedSend[] {
  return state.failed.filter((f) => f.message.roomId === roomId);
}

/** Forget it (discard, or handed back to the composer or the queue). */
export function dropFailed(clientId: string): void {
  const f = state.failed.find((x) => x.message.clientId === clientId);
  if (!f) return;
  state.failed = state.failed.filter((x) => x !== f);
  save(f.message.roomId);
  changed();
}

/** Send it again, as a new message (a new clientId: the node stored nothing for the old one). */
export function retryFailed(clientId: string): void {
  const f = state.failed.find((x) => x.message.clientId === clientId);
  if (!f || !state.queue) return;
  dropFailed(clientId);
  const { message } = state.queue.enqueue(f.message.roomId, f.message.text, f.message.replyTo, f.message.attachments);
  noteQueued(message.clientId, message.roomId);
}

function save(roomId: string): void {
  const me = state.me?.id;
  if (!me) return;
  const list = failedIn(roomId);
  try {
    if (list.length) safeSet(keyOf(me, roomId), JSON.stringify(list));
    else localStorage.removeItem(keyOf(me, roomId));
  } catch {
    // storage disabled: kept for this page only
  }
}

/** Every room's failed sends of this user, as the last page left them. */
export function loadFailed(userId: string): FailedSend[] {
  const out: FailedSend[] = [];
  try {
    const prefix = `outpost.failed.${userId}.`;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key?.startsWith(prefix)) continue;
      const list: unknown = JSON.parse(localStorage.getItem(key) ?? "[]");
      if (!Array.isArray(list)) continue;
      for (const f of list) {
        const m = f?.message;
        // What storage holds is only as trustworthy as any input: keep well-formed entries only.
        if (m && typeof m.clientId === "string" && typeof m.roomId === "string" && typeof m.text === "string" && typeof f.code === "string" && typeof f.afterSeq === "number") out.push(f as FailedSend);
      }
    }
  } catch {
    // unreadable storage: nothing to restore
  }
  return out;
}
