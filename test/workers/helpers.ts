/** Helpers for tests that run inside workerd: an API client over SELF.fetch. */
import { SELF } from "cloudflare:test";

export const BASE = "http://outpost.test";
export const ADMIN_PASSWORD = "operator passphrase for tests";

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = any>(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers["content-type"] ??= "application/json";
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] = "application/json";
  }
  let res = await SELF.fetch(BASE + path, { method, headers, body });
  // The node's node-wide sign-in budget (a login-storm guard, worker/routes/auth.ts) can
  // refuse a test's login when many run at once: wait as told and retry, as a client would.
  for (let tries = 0; tries < 20 && res.status === 429 && res.headers.get("retry-after") === "1"; tries++) {
    await res.text();
    await new Promise((r) => setTimeout(r, 1000));
    res = await SELF.fetch(BASE + path, { method, headers, body });
  }
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

let adminToken: string | null = null;
export async function admin(): Promise<string> {
  if (adminToken) return adminToken;
  const r = await api("POST", "/api/v1/auth/login", { body: { username: "admin", password: ADMIN_PASSWORD } });
  if (r.status !== 200) throw new Error(`admin login failed: ${r.status} ${JSON.stringify(r.body)}`);
  adminToken = r.body.token as string;
  return adminToken;
}

let counter = 0;
/** A fresh user, signed in (`deviceToken`: the device token that sign-in handed out). Usernames are unique per test run. */
export async function newUser(prefix = "user"): Promise<{ id: string; username: string; token: string; password: string; deviceToken: string }> {
  const username = `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`.toLowerCase().slice(0, 32);
  const password = "correct horse battery";
  const created = await api("POST", "/api/v1/users", { token: await admin(), body: { username, password, displayName: username.toUpperCase() } });
  if (created.status !== 201) throw new Error(`create user failed: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await api("POST", "/api/v1/auth/login", { body: { username, password } });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  return { id: created.body.id, username, token: login.body.token, password, deviceToken: login.body.deviceToken };
}

export async function newRoom(token: string, name = "room", visibility: "public" | "private" = "private", members: string[] = []) {
  const r = await api("POST", "/api/v1/rooms", { token, body: { name, visibility, members } });
  if (r.status !== 201) throw new Error(`create room failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { id: string; name: string };
}

/**
 * A WebSocket to a room through the Worker, with a queue of parsed frames.
 * `token: null` sends no Authorization header (for ticket and 401 tests).
 */
export async function openRoomSocket(roomId: string, token: string | null, query = "", extraHeaders: Record<string, string> = {}) {
  return openSocket(`/api/v1/rooms/${encodeURIComponent(roomId)}/socket${query}`, token, extraHeaders);
}

/**
 * The device socket (`GET /api/v1/socket`, the user's inbox), same shape as
 * `openRoomSocket`. `query` is e.g. `?pos=12` to resume.
 */
export async function openDeviceSocket(token: string | null, query = "", extraHeaders: Record<string, string> = {}) {
  return openSocket(`/api/v1/socket${query}`, token, extraHeaders);
}

async function openSocket(path: string, token: string | null, extraHeaders: Record<string, string>) {
  const headers: Record<string, string> = { upgrade: "websocket", ...extraHeaders };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await SELF.fetch(BASE + path, { headers });
  if (res.status !== 101 || !res.webSocket) return { status: res.status, body: await res.json().catch(() => null), socket: null as null };
  return { status: 101, body: null, socket: wrapSocket(res.webSocket) };
}

/**
 * Accept a client WebSocket and keep its frames: `frames` is a queue that
 * `next` consumes; `log` keeps every frame in arrival order and is never
 * consumed (for tests that replay or audit a whole stream).
 */
function wrapSocket(ws: WebSocket) {
  ws.accept();
  const frames: any[] = [];
  const log: any[] = [];
  const waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  let closed: { code: number; reason: string } | null = null;
  const closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  ws.addEventListener("message", (e) => {
    const f = JSON.parse(e.data as string);
    frames.push(f);
    log.push(f);
    for (const w of [...waiters]) if (w.pred(f)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(f);
      break;
    }
  });
  ws.addEventListener("close", (e) => {
    closed = { code: e.code, reason: e.reason };
    for (const w of closeWaiters) w(closed);
  });
  return {
    ws,
    frames,
    log,
    isClosed: () => closed !== null,
    send: (f: unknown) => ws.send(typeof f === "string" ? f : JSON.stringify(f)),
    next(pred: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
      const seen = frames.find(pred);
      if (seen) {
        frames.splice(frames.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          pred,
          resolve: (f: any) => {
            clearTimeout(t);
            frames.splice(frames.indexOf(f), 1);
            resolve(f);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
      if (closed) return Promise.resolve(closed);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("socket did not close")), timeoutMs);
        closeWaiters.push((c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
    },
    close: () => {
      try {
        ws.close(1000, "bye");
      } catch {
        // already closed
      }
    },
  };
}

export type TestSocket = ReturnType<typeof wrapSocket>;

/** An open room socket (fails the test if the upgrade was refused). */
export async function connect(roomId: string, token: string, query = "") {
  const r = await openRoomSocket(roomId, token, query);
  if (!r.socket) throw new Error(`socket refused: ${r.status} ${JSON.stringify(r.body)}`);
  await r.socket.next((f) => f.type === "hello");
  return r.socket;
}

export type RoomSocket = Awaited<ReturnType<typeof connect>>;

/** An open device socket and its first frame (`inbox.hello`, or `inbox.sync` after `?pos=`). */
export async function connectDevice(token: string, query = "") {
  const r = await openDeviceSocket(token, query);
  if (!r.socket) throw new Error(`device socket refused: ${r.status} ${JSON.stringify(r.body)}`);
  const first = await r.socket.next(() => true);
  return { socket: r.socket, first };
}

/** Poll `check` until it returns a truthy value (returned) or `timeoutMs` passes (then the last value is returned). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 3000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v || Date.now() >= end) return v;
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let ipCounter = 0;
/**
 * A client address of its own. Failed logins are also counted per address
 * (30 per window), and test files share the directory, so every test that
 * fails a login on purpose does it from an address no other test uses.
 */
export function freshIp(): string {
  ipCounter++;
  return `10.${Math.floor(Math.random() * 250)}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/** POST /auth/login; `ip` goes in X-Real-IP; `headers` e.g. a device cookie or X-Outpost-Device. */
export function login(username: string, password: string, ip?: string, headers: Record<string, string> = {}) {
  return api("POST", "/api/v1/auth/login", { body: { username, password }, headers: { ...(ip ? { "x-real-ip": ip } : {}), ...headers } });
}

/** A second (third, …) session of an existing user. */
export async function newSession(user: { username: string; password: string }): Promise<string> {
  const r = await login(user.username, user.password);
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

let clientCounter = 0;
/** Send a message over REST; asserts nothing. */
export function sendMessage(token: string, roomId: string, text: string, clientId = `c${Date.now().toString(36)}-${clientCounter++}`, extra: Record<string, unknown> = {}) {
  return api("POST", `/api/v1/rooms/${roomId}/messages`, { token, body: { text, clientId, ...extra } });
}

/** Send a message over REST and return it (fails unless 201). */
export async function postMessage(token: string, roomId: string, text: string, extra: Record<string, unknown> = {}) {
  const r = await sendMessage(token, roomId, text, undefined, extra);
  if (r.status !== 201) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function history(token: string, roomId: string, query = "") {
  const r = await api("GET", `/api/v1/rooms/${roomId}/messages${query}`, { token });
  if (r.status !== 200) throw new Error(`history failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { messages: any[]; hasMore: boolean; lastSeq: number };
}

/** A well-formed room id on this node that no room has (nothing is created by asking). */
export function unusedRoomId(node = "local"): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let key = "";
  for (let i = 0; i < 16; i++) key += alphabet[Math.floor(Math.random() * 32)];
  return `r_${key}@${node}`;
}
