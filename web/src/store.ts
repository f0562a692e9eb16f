/**
 * The client's state: who is signed in, the inbox (device socket), the send
 * queue, people's names (the open room: room-view.ts; the cluster's links:
 * cluster-status.ts). One
 * mutable object and a change counter: components re-render on `changed()`;
 * the message list stays cheap because it is virtualised.
 */
import { useEffect, useState } from "preact/hooks";
import type { ClusterView } from "../../sdk/index";
import { DeviceSocket, OutpostApiError, OutpostClient, SendQueue, socketOrRestTransport, type Attachment, type InboxRoom, type QueuedMessage, type SessionUser, type User } from "../../sdk/index";
import { closeRoom, type RoomView } from "./room-view";
export type { RoomView } from "./room-view";
import { watchCluster, stopWatchingCluster } from "./cluster-status";
import { onInboxNotification } from "./notify";
import { setLocale } from "./i18n";

export const api = new OutpostClient();


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
  device.onNotification((n) => void onInboxNotification(n));
  state.device = device.start();
  // The language chosen on any device follows the person (kept on the node).
  void api.settings().then((s) => {
    if (s.language) {
      setLocale(s.language === "zh" ? "zh-CN" : "en");
      changed();
    }
  }, () => {});
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
  stopWatchingCluster();
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
