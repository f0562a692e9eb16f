/**
 * The client's state: who is signed in, the inbox (device socket), the send
 * queue, people's names (the open room: room-view.ts; the cluster's links:
 * cluster-status.ts). One
 * mutable object and a change counter: components re-render on `changed()`;
 * the message list stays cheap because it is virtualised.
 */
import { useEffect, useState } from "preact/hooks";
import type { ClusterView } from "../../sdk/index";
import { DeviceSocket, OutpostApiError, OutpostClient, SendQueue, socketOrRestTransport, type Attachment, type InboxRoom, type NodeLimits, type SessionUser, type User } from "../../sdk/index";
import { loadFailed, recordFailure, type FailedSend } from "./failed-sends";
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
  /** signed in, but the node requires this administrator to enrol a second factor first */
  mustEnrol: false,
  device: null as DeviceSocket | null,
  queue: null as SendQueue | null,
  view: null as RoomView | null,
  online: typeof navigator === "undefined" ? true : navigator.onLine,
  /** people we have met: names, and the avatar's hash when we learnt it from the directory */
  users: new Map<string, { displayName: string; username: string; avatar?: string | null }>(),
  /** sends the node refused for good, in their rooms' order until retried, edited or discarded (failed-sends.ts) */
  failed: [] as FailedSend[],
  /** the node's limits (GET /limits); the defaults until it answers */
  limits: { maxTextBytes: 16384, maxFileBytes: 100 * 1024 * 1024, recallWindowSeconds: 900 } as NodeLimits,
  /** the organisation's nodes and this node's links to them (GET /api/v1/cluster), refreshed while signed in */
  cluster: null as ClusterView | null,
  /** what the files of a queued message are called, by clientId (for the pending row) */
  pendingFiles: new Map<string, Attachment[]>(),
  /** set when the node ended this session (deactivated, signed out by an admin or elsewhere): the sign-in page says so */
  signedOutByServer: false,
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
  const [, set] = useState(tick);
  useEffect(() => {
    const fn = () => set(tick);
    listeners.add(fn);
    // Effects run after paint (up to 100 ms later in a background tab, which gets no
    // animation frames): a change in between, such as boot()'s answer from a fast node,
    // reached no listener. Catch up now; an unchanged tick re-renders nothing.
    fn();
    return () => void listeners.delete(fn);
  }, []);
  return tick;
}

// ---------------------------------------------------------------- session

/** Set by the node with the session cookie (docs/API.md): without it nobody is signed in here. */
const SIGNED_IN_COOKIE = "outpost_signed_in";
export function maybeSignedIn(): boolean {
  return typeof document === "undefined" || document.cookie.split(/;\s*/).includes(`${SIGNED_IN_COOKIE}=1`);
}

export async function boot(): Promise<void> {
  // Signed out for sure: show the sign-in form without a GET /me that the browser would log as a 401.
  if (!maybeSignedIn()) {
    state.phase = "signedOut";
    changed();
    return;
  }
  try {
    signedIn(await api.me());
  } catch (err) {
    state.phase = "signedOut";
    if (!(err instanceof OutpostApiError && err.status === 401)) console.warn("outpost: could not reach the node", err);
    // The session ended (expired, revoked): forget the hint too, so the next load asks nothing.
    else document.cookie = `${SIGNED_IN_COOKIE}=; path=/; max-age=0; samesite=strict`;
    changed();
  }
}

/**
 * An administrator on a node that requires two-factor sign-in, without it: their
 * session can do nothing but enrol (worker/middleware/mfa-gate.ts), so the app
 * shows the enrolment page (App.tsx) instead of opening sockets that would be refused.
 */
export function signedIn(user: User | SessionUser): void {
  if (!user.isAdmin) return enterApp(user);
  api.mfaStatus().then(
    (s) => {
      if (s.required && !s.enabled) {
        state.me = { active: true, ...user };
        state.mustEnrol = true;
        state.phase = "signedIn";
        changed();
      } else enterApp(user);
    },
    () => enterApp(user),
  );
}

function enterApp(user: User | SessionUser): void {
  state.mustEnrol = false;
  state.me = { active: true, ...user };
  state.phase = "signedIn";
  state.signedOutByServer = false;
  // A sign-in answer does not carry the avatar (GET /me does): then the directory is asked
  // with the room list's first lookup, in the same request.
  let askForSelf = !("avatar" in user);
  if ("avatar" in user) remember(user.id, user.displayName, user.username, user.avatar ?? null);
  else remember(user.id, user.displayName, user.username);
  const device = new DeviceSocket(api, { backoff: { baseMs: 300, maxMs: 4000 } });
  device.onChange(() => {
    // Everyone the room list names (DM peers, last senders): their names in one request.
    const ids: string[] = [];
    for (const r of device.rooms.values()) {
      if (r.peerId) ids.push(r.peerId);
      if (r.lastMessage) ids.push(r.lastMessage.senderId);
    }
    if (askForSelf && device.ready) {
      askForSelf = false;
      lookupUsers([user.id], "force");
    }
    lookupUsers(ids);
    if (device.state === "open") state.queue?.kick();
    watchPeers();
    changed();
  });
  // 1008 on the device socket: the node ended this session (revoked, password
  // changed, account deactivated). Nothing this page does will work any more.
  device.socket.onState((s, detail) => {
    if (s === "closed" && detail?.code === 1008 && state.device === device) void signOut({ byServer: true });
  });
  device.onNotification((n) => void onInboxNotification(n));
  state.device = device.start();
  // The language chosen on any device follows the person (kept on the node).
  void api.settings().then((s) => {
    if (s.language) {
      void setLocale(s.language === "zh" ? "zh-CN" : "en").then(changed);
    }
  }, () => {});
  const queue = new SendQueue({
    storageKey: `outpost.sendQueue.${user.id}`,
    backoff: { baseMs: 300, maxMs: 4000 },
    transport: socketOrRestTransport(api, (roomId) => (state.view?.roomId === roomId ? state.view.socket : undefined)),
  });
  state.failed = loadFailed(user.id);
  void api.limits().then((l) => (state.limits = l), () => {}); // the defaults stand in until it answers
  queue.on((e) => {
    if (e.kind === "failed") recordFailure(e.message, e.error);
    if (e.kind === "sent") state.pendingFiles.delete(e.message.clientId);
    changed();
  });
  state.queue = queue;
  watchCluster();
  changed();
}

export async function signOut(options: { byServer?: boolean } = {}): Promise<void> {
  if (!options.byServer) {
    try {
      await api.logout();
    } catch {
      // the session may already be gone; sign out locally regardless
    }
  }
  state.signedOutByServer = !!options.byServer;
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

/** display name by username, for mentions (`@chen` shows as 陈梅) */
const byUsername = new Map<string, string>();

/**
 * What we know of a person. `avatar`: a hash, null for none, or undefined when
 * the source does not say (a room's member list): the one known stays.
 */
export function remember(id: string, displayName: string, username: string, avatar?: string | null): void {
  state.users.set(id, { displayName, username, avatar: avatar === undefined ? state.users.get(id)?.avatar : avatar });
  byUsername.set(username, displayName);
}

/** The display name of a username we have met (room members, senders), or undefined. */
export function displayNameOf(username: string): string | undefined {
  return byUsername.get(username);
}

const lookups = new Set<string>();
const wanted = new Set<string>();
let flushing: ReturnType<typeof setTimeout> | null = null;

/**
 * Learn the names of these users: every id asked for in the same turn goes in
 * one `GET /users?ids=` (a fresh sign-in with fifty rooms is one request, not fifty).
 */
/** People whose directory entry (avatar, current name) this page has asked for. */
const refreshed = new Set<string>();

/**
 * `fresh`: ask the directory even about people we know from a room's member
 * list (which carries no avatar, and the name they joined with) — once per
 * page load, or again when `force`d (a `member.updated` frame says they changed).
 */
export function lookupUsers(ids: Iterable<string>, fresh: boolean | "force" = false): void {
  for (const id of ids) {
    if (fresh === "force" || (fresh && !refreshed.has(id))) refreshed.add(id);
    else if (state.users.has(id) || lookups.has(id)) continue;
    lookups.add(id);
    wanted.add(id);
  }
  if (wanted.size && !flushing) flushing = setTimeout(() => void flushLookups(), 0);
}

async function flushLookups(): Promise<void> {
  flushing = null;
  const ids = [...wanted].slice(0, 200);
  for (const id of ids) wanted.delete(id);
  if (wanted.size) flushing = setTimeout(() => void flushLookups(), 0);
  try {
    const { users } = await api.usersByIds(ids);
    for (const u of users) remember(u.id, u.displayName, u.username, u.avatar ?? null);
    changed();
  } catch {
    // the node is unreachable: ask again next time these ids show up
    for (const id of ids) lookups.delete(id);
  }
}

export function lookupUser(id: string): void {
  lookupUsers([id]);
}

export function nameOf(id: string): string {
  return state.users.get(id)?.displayName ?? id.replace(/^u_(\w{4}).*$/, "$1…");
}

/** The URL of a person's avatar, or null: draw the first letter. */
export function avatarOf(id: string): string | null {
  const hash = state.users.get(id)?.avatar;
  return hash ? api.avatarUrl(id, hash) : null;
}

export function roomTitle(r: Pick<InboxRoom, "name" | "peerId">): string {
  return r.peerId ? nameOf(r.peerId) : r.name;
}

/**
 * A peer's presence as far as we know it: while we ourselves are offline or our
 * device socket is down, we do not know, and "online" would be a stale claim.
 */
export function peerPresence(peerId: string): "online" | "away" | "offline" {
  if (!state.online || state.device?.state !== "open") return "offline";
  return state.device.presence.get(peerId)?.status ?? "offline";
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
