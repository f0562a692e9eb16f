/**
 * The open room: its socket, the window of messages shown (virtualised), jumps
 * to a message, paging older and newer, sending and reading. The rest of the
 * client's state is in store.ts.
 */
import { RoomSocket, type Attachment, type Member, type Message, type Room, type SocketState } from "../../sdk/index";
import { api, changed, lookupUser, lookupUsers, remember, state } from "./store";
import { go } from "./router";
import { noteQueued } from "./failed-sends";

export interface RoomView {
  roomId: string;
  room: Room | null;
  members: Member[];
  /** loaded messages in seq order */
  messages: Message[];
  byId: Map<string, Message>;
  hasMore: boolean;
  /** what the retention policy removed (history's `retention`): said at the top once the oldest kept message is loaded */
  retention: { beforeSeq: number; before: number } | null;
  /** the retention policy in force (days; null: forever; undefined: a node that does not say) */
  retentionDays: number | null | undefined;
  /** whether retentionDays is the room's own policy (else the node default it follows) */
  retentionOwn: boolean | undefined;
  loadingOlder: boolean;
  /** after an older page failed to load: when it is asked for again (retryLater) */
  olderRetry: PageRetry | null;
  /** a window of older history is shown (after a jump): newer messages are on the node, not here yet */
  hasNewer: boolean;
  loadingNewer: boolean;
  /** after a newer page failed to load: when it is asked for again (retryLater) */
  newerRetry: PageRetry | null;
  /** scroll to this row (n changes on every jump) */
  jump: { key: string; n: number } | null;
  /** the message being pointed at (jump to original, search result) */
  highlight: string | null;
  /** the first unread seq when the room was opened (where the divider goes), or null */
  dividerSeq: number | null;
  typing: Map<string, number>;
  receipts: Map<string, number>;
  socket: RoomSocket;
  state: SocketState;
  /** bumped whenever the message list changes (the list re-measures on it) */
  rev: number;
  /** the list is scrolled to its end: what arrives is seen (and read) */
  atBottom: boolean;
  /** the newest seq seen at the end of the list; later messages from others are "new messages ↓" */
  seenSeq: number;
}

/** Open a room; with `target`, show the history around that message and point at it. */
export function openRoom(roomId: string, target?: { id: string; seq: number }, options: { replace?: boolean } = {}): void {
  // A new history entry: Back returns to the room before (router.ts).
  go({ kind: "room", roomId, ...(target ? { messageId: target.id } : {}) }, options);
  if (state.view?.roomId === roomId) {
    if (target) void focusMessage(state.view, target.id, target.seq);
    return;
  }
  closeRoom();
  const inbox = state.device?.rooms.get(roomId);
  const socket = new RoomSocket(api, roomId, { backoff: { baseMs: 300, maxMs: 4000 } });
  const view: RoomView = {
    roomId,
    room: null,
    members: [],
    messages: [],
    byId: new Map(),
    hasMore: true,
    retention: null,
    retentionDays: undefined,
    retentionOwn: undefined,
    loadingOlder: false,
    olderRetry: null,
    hasNewer: false,
    loadingNewer: false,
    newerRetry: null,
    jump: null,
    highlight: null,
    dividerSeq: inbox && inbox.unread > 0 ? inbox.lastReadSeq + 1 : null,
    typing: new Map(),
    receipts: new Map(),
    socket,
    state: "connecting",
    rev: 0,
    atBottom: true,
    seenSeq: 0,
  };
  state.view = view;
  socket.onState((s) => {
    view.state = s;
    if (s === "open") state.queue?.kick();
    changed();
  });
  // Sends the node had queued for another node (a cut link) are settled or refused here later.
  socket.onOutcome((clientId, outcome) => {
    if (outcome instanceof Error) state.queue?.refuse(clientId, outcome);
    else state.queue?.settle(clientId, outcome);
  });
  socket.onFrame((f) => {
    switch (f.type) {
      case "hello":
        view.room = f.room;
        break;
      case "msg.new":
      case "msg.updated":
        upsert(view, inWindow(view, [f.message]));
        view.typing.delete(f.message.senderId);
        break;
      case "sync":
        if (f.tooFarBehind) void reloadLatest(view);
        else upsert(view, inWindow(view, f.messages));
        break;
      case "typing":
        view.typing.set(f.userId, Date.now() + f.expiresInMs);
        setTimeout(changed, f.expiresInMs + 50);
        break;
      case "receipt":
        view.receipts.set(f.userId, f.seq);
        break;
      case "member.joined":
      case "member.updated":
        view.members = [...view.members.filter((m) => m.userId !== f.member.userId), f.member];
        remember(f.member.userId, f.member.displayName, f.member.username);
        // A renamed person, or one with a new avatar (members carry no avatar): ask the directory.
        if (f.type === "member.updated") lookupUsers([f.member.userId], "force");
        break;
      case "member.left":
        view.members = view.members.filter((m) => m.userId !== f.userId);
        break;
      case "room.updated":
        view.room = f.room;
        break;
    }
    changed();
  });
  socket.start();
  void loadRoom(view, target);
  changed();
}

async function loadRoom(view: RoomView, target?: { id: string; seq: number }): Promise<void> {
  try {
    const [info, page, receipts] = await Promise.all([
      api.room(view.roomId),
      target ? around(view.roomId, target.seq) : api.history(view.roomId, { limit: 50 }),
      api.receipts(view.roomId).catch(() => ({ receipts: [] })),
    ]);
    view.room = info.room;
    view.retentionDays = info.room.retentionDays;
    view.retentionOwn = info.room.retentionOwn;
    view.members = info.members;
    for (const m of info.members) remember(m.userId, m.displayName, m.username);
    // Avatars (and names changed since the room last heard) come from the directory: one
    // request for the first 200 members, each person once per page load.
    lookupUsers(info.members.slice(0, 200).map((m) => m.userId), true);
    for (const r of receipts.receipts) view.receipts.set(r.userId, r.seq);
    if ("hasNewer" in page) setWindow(view, page);
    else {
      view.retention = page.retention ?? null;
      view.hasMore = page.hasMore;
      upsert(view, page.messages);
    }
    if (target && view.byId.has(target.id)) point(view, target.id);
    changed();
  } catch (err) {
    console.warn("outpost: could not load the room", err);
  }
}

/** The history around `seq`: up to 40 messages either side. */
async function around(roomId: string, seq: number): Promise<{ messages: Message[]; hasMore: boolean; hasNewer: boolean }> {
  const [older, newer] = await Promise.all([api.history(roomId, { before: seq + 1, limit: 40 }), api.history(roomId, { after: seq, limit: 40 })]);
  const view = state.view;
  if (view?.roomId === roomId) view.retention = older.retention ?? null;
  return { messages: [...older.messages, ...newer.messages], hasMore: older.hasMore, hasNewer: newer.hasMore };
}

/** Show a window of history instead of what was loaded (messages that arrived live after it are kept when it reaches the end). */
function setWindow(view: RoomView, page: { messages: Message[]; hasMore: boolean; hasNewer: boolean }): void {
  const top = page.messages[page.messages.length - 1]?.seq ?? 0;
  const keep = page.hasNewer ? [] : view.messages.filter((m) => m.seq > top);
  view.messages = [];
  view.byId.clear();
  view.hasMore = page.hasMore;
  view.hasNewer = page.hasNewer;
  upsert(view, [...page.messages, ...keep]);
}

/** While a window of older history is shown, live messages past its end wait on the node (loadNewer fetches them). */
function inWindow(view: RoomView, list: Message[]): Message[] {
  if (!view.hasNewer) return list;
  const top = view.messages[view.messages.length - 1]?.seq ?? 0;
  return list.filter((m) => view.byId.has(m.id) || m.seq <= top);
}

/** Scroll to a message and highlight it (paging back, or loading the history around `seq`, when it is not loaded). */
export async function focusMessage(view: RoomView, id: string, seq?: number): Promise<void> {
  if (!view.byId.has(id)) {
    const oldest = view.messages[0]?.seq;
    if (seq === undefined || (oldest !== undefined && oldest > seq && oldest - seq <= 300)) {
      // Close by (or position unknown, as for a reply's original): page back.
      for (let i = 0; i < 50 && !view.byId.has(id) && view.hasMore && state.view === view; i++) await loadOlder();
    } else {
      try {
        setWindow(view, await around(view.roomId, seq));
      } catch {
        return;
      }
    }
  }
  if (view.byId.has(id)) point(view, id);
  changed();
}

function point(view: RoomView, id: string): void {
  view.highlight = id;
  view.jump = { key: id, n: (view.jump?.n ?? 0) + 1 };
  setTimeout(() => {
    if (view.highlight !== id) return;
    view.highlight = null;
    changed();
  }, 4000);
}

/**
 * A page of history that failed to load is asked for again while the list shows that end (MessageList asks
 * whenever it renders there, even without a scroll: at the very top or bottom nothing scrolls), paced: not
 * before `at`, 1 s after the first failure, doubling to 30 s while it keeps failing. The list is rendered
 * again when the wait is over, so that it does ask.
 */
export interface PageRetry {
  at: number;
  delayMs: number;
}

function retryLater(view: RoomView, last: PageRetry | null): PageRetry {
  const delayMs = Math.min((last?.delayMs ?? 500) * 2, 30_000);
  setTimeout(() => {
    if (state.view === view) changed();
  }, delayMs);
  return { at: Date.now() + delayMs, delayMs };
}

const waiting = (retry: PageRetry | null) => retry !== null && Date.now() < retry.at;

/** Load the page after the newest loaded message (when a window of older history is shown). */
export async function loadNewer(): Promise<void> {
  const view = state.view;
  if (!view || view.loadingNewer || !view.hasNewer || view.messages.length === 0 || waiting(view.newerRetry)) return;
  view.loadingNewer = true;
  changed();
  try {
    const page = await api.history(view.roomId, { after: view.messages[view.messages.length - 1].seq, limit: 100 });
    // A page with nothing in it cannot move the end of what is loaded: asking again would bring the same.
    view.hasNewer = page.hasMore && page.messages.length > 0;
    view.newerRetry = null;
    upsert(view, page.messages);
  } catch {
    view.newerRetry = retryLater(view, view.newerRetry);
  } finally {
    view.loadingNewer = false;
    changed();
  }
}

async function reloadLatest(view: RoomView): Promise<void> {
  const page = await api.history(view.roomId, { limit: 100 });
  view.retention = page.retention ?? null;
  view.messages = [];
  view.byId.clear();
  view.hasMore = page.hasMore;
  view.hasNewer = false;
  upsert(view, page.messages);
  changed();
}

/** Load the page before the oldest loaded message. */
export async function loadOlder(): Promise<void> {
  const view = state.view;
  if (!view || view.loadingOlder || !view.hasMore || view.messages.length === 0 || waiting(view.olderRetry)) return;
  view.loadingOlder = true;
  changed();
  try {
    const page = await api.history(view.roomId, { before: view.messages[0].seq, limit: 100 });
    view.retention = page.retention ?? null;
    // A page with nothing in it cannot move the start of what is loaded: asking again would bring the same.
    view.hasMore = page.hasMore && page.messages.length > 0;
    view.olderRetry = null;
    upsert(view, page.messages);
  } catch {
    view.olderRetry = retryLater(view, view.olderRetry);
  } finally {
    view.loadingOlder = false;
    changed();
  }
}

/** Insert or replace messages, keeping seq order; an older version never replaces a newer one. */
export function upsert(view: RoomView, incoming: Message[]): void {
  let appendOnly = true;
  for (const m of incoming) {
    const old = view.byId.get(m.id);
    if (old) {
      if (old.version > m.version) continue;
      const idx = view.messages.indexOf(old);
      view.messages[idx] = m;
    } else {
      const last = view.messages[view.messages.length - 1];
      if (last && last.seq > m.seq) appendOnly = false;
      view.messages.push(m);
    }
    view.byId.set(m.id, m);
  }
  if (!appendOnly) view.messages.sort((a, b) => a.seq - b.seq);
  view.rev++;
}

export function closeRoom(): void {
  state.view?.socket.close();
  state.view = null;
}

export function sendMessage(text: string, replyTo?: string, attachments: Attachment[] = []): void {
  const view = state.view;
  if (!view || !state.queue) return;
  const { message } = state.queue.enqueue(view.roomId, text, replyTo, attachments.map((a) => a.id));
  noteQueued(message.clientId, view.roomId);
  if (attachments.length) state.pendingFiles.set(message.clientId, attachments);
  // Looking at older history: go back to the newest, where the message will appear.
  if (view.hasNewer) void reloadLatest(view).catch(() => {});
}

/** Mark the open room read up to its newest message (device socket, or REST when it is down). */
export function markRead(): void {
  const view = state.view;
  const last = view?.messages[view.messages.length - 1];
  const inbox = view && state.device?.rooms.get(view.roomId);
  if (!view || !last || !inbox || inbox.lastReadSeq >= last.seq || document.visibilityState !== "visible") return;
  // Scrolled up: what arrives below is not seen yet ("new messages ↓" counts it), so it stays unread.
  if (!view.atBottom && !view.hasNewer) return;
  if (!view.socket.read(last.seq)) void api.markRead(view.roomId, last.seq).catch(() => {});
}
