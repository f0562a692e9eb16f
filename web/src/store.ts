/**
 * The client's state: who is signed in, the inbox (device socket), the open
 * room (room socket + its messages), the send queue, people's names. One
 * mutable object and a change counter: components re-render on `changed()`;
 * the message list stays cheap because it is virtualised.
 */
import { useEffect, useState } from "preact/hooks";
import type { ClusterView } from "../../sdk/index";
import { DeviceSocket, OutpostApiError, OutpostClient, RoomSocket, SendQueue, socketOrRestTransport, type Attachment, type InboxRoom, type Member, type Message, type QueuedMessage, type Room, type SessionUser, type SocketState, type User } from "../../sdk/index";

export const api = new OutpostClient();

export interface RoomView {
  roomId: string;
  room: Room | null;
  members: Member[];
  /** loaded messages in seq order */
  messages: Message[];
  byId: Map<string, Message>;
  hasMore: boolean;
  loadingOlder: boolean;
  /** a window of older history is shown (after a jump): newer messages are on the node, not here yet */
  hasNewer: boolean;
  loadingNewer: boolean;
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
}

export const state = {
  me: null as User | null,
  /** "loading" until we know whether a session exists */
  phase: "loading" as "loading" | "signedOut" | "signedIn",
  device: null as DeviceSocket | null,
  queue: null as SendQueue | null,
  view: null as RoomView | null,
  online: typeof navigator === "undefined" ? true : navigator.onLine,
  users: new Map<string, { displayName: string; username: string }>(),
  failed: [] as QueuedMessage[],
  /** the organisation's nodes and this node's links to them (GET /api/v1/cluster), refreshed while signed in */
  cluster: null as ClusterView | null,
  /** what the files of a queued message are called, by clientId (for the pending row) */
  pendingFiles: new Map<string, Attachment[]>(),
};

let tick = 0;
const listeners = new Set<() => void>();
let scheduled = false;
/** Coalesce bursts of frames into one render per frame. */
export function changed(): void {
  tick++;
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn();
  });
}

export function useStore(): number {
  const [, set] = useState(0);
  useEffect(() => {
    const fn = () => set(tick);
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, []);
  return tick;
}

// ---------------------------------------------------------------- session

export async function boot(): Promise<void> {
  try {
    signedIn(await api.me());
  } catch (err) {
    state.phase = "signedOut";
    if (!(err instanceof OutpostApiError && err.status === 401)) console.warn("outpost: could not reach the node", err);
    changed();
  }
}

export function signedIn(user: User | SessionUser): void {
  state.me = { active: true, ...user };
  state.phase = "signedIn";
  remember(user.id, user.displayName, user.username);
  const device = new DeviceSocket(api, { backoff: { baseMs: 300, maxMs: 4000 } });
  device.onChange(() => {
    for (const r of device.rooms.values()) if (r.peerId && !state.users.has(r.peerId)) void lookupUser(r.peerId);
    if (device.state === "open") state.queue?.kick();
    watchPeers();
    changed();
  });
  state.device = device.start();
  const queue = new SendQueue({
    storageKey: `outpost.sendQueue.${user.id}`,
    backoff: { baseMs: 300, maxMs: 4000 },
    transport: socketOrRestTransport(api, (roomId) => (state.view?.roomId === roomId ? state.view.socket : undefined)),
  });
  queue.on((e) => {
    if (e.kind === "failed") state.failed.push(e.message);
    if (e.kind === "sent") state.pendingFiles.delete(e.message.clientId);
    changed();
  });
  state.queue = queue;
  watchCluster();
  changed();
}

let clusterTimer: ReturnType<typeof setInterval> | null = null;

/**
 * Which branch nodes this node can reach: refreshed every 10 s (a cut is
 * noticed by the node within ~3 s) and at every reconnect, so people see which
 * node is unreachable and that what they see of its rooms is as of the last sync.
 */
function watchCluster(): void {
  const refresh = async () => {
    if (state.phase !== "signedIn") return;
    try {
      const view = await api.cluster();
      if (JSON.stringify(view) !== JSON.stringify(state.cluster)) {
        state.cluster = view;
        changed();
      }
    } catch {
      // this node itself is unreachable: the connection banner says so
    }
  };
  if (clusterTimer) clearInterval(clusterTimer);
  clusterTimer = setInterval(() => void refresh(), 10_000);
  void refresh();
}

/** The cluster's nodes this node cannot reach now (none when it runs alone). */
export function unreachableNodes(): { node: string; since: number; lastContactAt: number | null }[] {
  return (state.cluster?.nodes ?? []).filter((n) => n.state === "down").map((n) => ({ node: n.node, since: n.since, lastContactAt: n.lastContactAt }));
}

/** For a room homed on a node this one cannot reach: that node and when it last heard from it. */
export function roomUnreachable(roomId: string): { node: string; lastContactAt: number | null } | null {
  const home = roomId.slice(roomId.lastIndexOf("@") + 1);
  return unreachableNodes().find((n) => n.node === home) ?? null;
}

export async function signOut(): Promise<void> {
  try {
    await api.logout();
  } catch {
    // the session may already be gone; sign out locally regardless
  }
  closeRoom();
  state.device?.close();
  state.device = null;
  state.queue = null;
  state.cluster = null;
  if (clusterTimer) clearInterval(clusterTimer);
  clusterTimer = null;
  state.me = null;
  state.phase = "signedOut";
  history.replaceState(null, "", "/");
  changed();
}

let watched = "";
function watchPeers(): void {
  const d = state.device;
  if (!d) return;
  const ids = [...d.rooms.values()].map((r) => r.peerId).filter((x): x is string => !!x);
  const key = ids.sort().join(",");
  if (key === watched || d.state !== "open") return;
  watched = key;
  d.watchPresence(ids);
}

export function remember(id: string, displayName: string, username: string): void {
  state.users.set(id, { displayName, username });
}

const lookups = new Set<string>();
export async function lookupUser(id: string): Promise<void> {
  if (lookups.has(id)) return;
  lookups.add(id);
  try {
    const u = await api.user(id);
    remember(u.id, u.displayName, u.username);
    changed();
  } catch {
    // unknown or remote user: shown as such
  }
}

export function nameOf(id: string): string {
  return state.users.get(id)?.displayName ?? id.replace(/^u_(\w{4}).*$/, "$1…");
}

export function roomTitle(r: Pick<InboxRoom, "name" | "peerId">): string {
  return r.peerId ? nameOf(r.peerId) : r.name;
}

// ---------------------------------------------------------------- rooms

/** Open a room; with `target`, show the history around that message and point at it. */
export function openRoom(roomId: string, target?: { id: string; seq: number }): void {
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
    loadingOlder: false,
    hasNewer: false,
    loadingNewer: false,
    jump: null,
    highlight: null,
    dividerSeq: inbox && inbox.unread > 0 ? inbox.lastReadSeq + 1 : null,
    typing: new Map(),
    receipts: new Map(),
    socket,
    state: "connecting",
    rev: 0,
  };
  state.view = view;
  history.replaceState(null, "", `/r/${encodeURIComponent(roomId)}`);
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
    view.members = info.members;
    for (const m of info.members) remember(m.userId, m.displayName, m.username);
    for (const r of receipts.receipts) view.receipts.set(r.userId, r.seq);
    if ("hasNewer" in page) setWindow(view, page);
    else {
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

/** Load the page after the newest loaded message (when a window of older history is shown). */
export async function loadNewer(): Promise<void> {
  const view = state.view;
  if (!view || view.loadingNewer || !view.hasNewer || view.messages.length === 0) return;
  view.loadingNewer = true;
  changed();
  try {
    const page = await api.history(view.roomId, { after: view.messages[view.messages.length - 1].seq, limit: 100 });
    view.hasNewer = page.hasMore;
    upsert(view, page.messages);
  } catch {
    // try again on the next scroll
  } finally {
    view.loadingNewer = false;
    changed();
  }
}

async function reloadLatest(view: RoomView): Promise<void> {
  const page = await api.history(view.roomId, { limit: 100 });
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
  if (!view || view.loadingOlder || !view.hasMore || view.messages.length === 0) return;
  view.loadingOlder = true;
  changed();
  try {
    const page = await api.history(view.roomId, { before: view.messages[0].seq, limit: 100 });
    view.hasMore = page.hasMore;
    upsert(view, page.messages);
  } catch {
    // try again on the next scroll
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
  if (!view.socket.read(last.seq)) void api.markRead(view.roomId, last.seq).catch(() => {});
}

export function connectionState(): "ok" | "reconnecting" | "offline" {
  if (!state.online) return "offline";
  const d = state.device?.state;
  const r = state.view?.state;
  if (d === "reconnecting" || r === "reconnecting") return "reconnecting";
  return "ok";
}

if (typeof window !== "undefined") {
  window.addEventListener("online", () => {
    state.online = true;
    state.device?.socket.reconnectNow();
    state.view?.socket.socket.reconnectNow();
    state.queue?.kick();
    changed();
  });
  window.addEventListener("offline", () => {
    state.online = false;
    changed();
  });
}
