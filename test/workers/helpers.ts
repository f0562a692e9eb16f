/** Helpers for tests that run inside workerd: an API client over SELF.fetch, typed sockets, fences. */
import { SELF } from "cloudflare:test";
import { z } from "zod";
import { ServerBatch, ServerRoomFrame } from "../../protocol/frames";
import { ServerDeviceFrame } from "../../protocol/device";
import type { Message, Room } from "../../protocol/models";
import type { UntypedBody } from "../untyped-body";
import { expectFrame, type Frame, type FrameOf } from "../frame-types";

export { expectFrame, isReplyTo } from "../frame-types";

export const BASE = "http://outpost.test";
export const ADMIN_PASSWORD = "operator passphrase for tests";

export interface Res<T = UntypedBody> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = UntypedBody>(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res<T>> {
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
  // No retry on 429: the sign-in budget in vitest.workers.config.ts is one no test reaches.
  const res = await SELF.fetch(BASE + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: parsed as T, headers: res.headers };
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
  const r = await api<Room>("POST", "/api/v1/rooms", { token, body: { name, visibility, members } });
  if (r.status !== 201) throw new Error(`create room failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * A WebSocket to a room through the Worker, with a queue of parsed frames.
 * `token: null` sends no Authorization header (for ticket and 401 tests).
 */
export async function openRoomSocket(roomId: string, token: string | null, query = "", extraHeaders: Record<string, string> = {}) {
  return openSocket(`/api/v1/rooms/${encodeURIComponent(roomId)}/socket${query}`, token, extraHeaders, RoomSocketFrameSchema);
}

/**
 * The device socket (`GET /api/v1/socket`, the user's inbox), same shape as
 * `openRoomSocket`. `query` is e.g. `?pos=12` to resume.
 */
export async function openDeviceSocket(token: string | null, query = "", extraHeaders: Record<string, string> = {}) {
  return openSocket(`/api/v1/socket${query}`, token, extraHeaders, ServerDeviceFrame);
}

async function openSocket<F extends Frame>(path: string, token: string | null, extraHeaders: Record<string, string>, schema: z.ZodType<F>) {
  const headers: Record<string, string> = { upgrade: "websocket", ...extraHeaders };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await SELF.fetch(BASE + path, { headers });
  if (res.status !== 101 || !res.webSocket) return { status: res.status, body: (await res.json().catch(() => null)) as UntypedBody, socket: null };
  return { status: 101, body: null, socket: new TestSocket(res.webSocket, schema) };
}

/** What a room socket receives: the room's frames, and `batch` frames when it asked for `?batch=1`. */
export type RoomSocketFrame = ServerRoomFrame | ServerBatch;
const RoomSocketFrameSchema: z.ZodType<RoomSocketFrame> = z.union([ServerRoomFrame, ServerBatch]);

/**
 * An accepted client WebSocket that keeps its frames: `frames` is a queue that
 * `next` consumes; `log` keeps every frame in arrival order and is never
 * consumed (for tests that replay or audit a whole stream).
 *
 * Every frame is parsed with the protocol's strict server schema as it arrives
 * (`F` is what that schema says), so the frames a test reads are the frames the
 * protocol declares: one that does not parse fails the next `next()` and `fence()`.
 */
export class TestSocket<F extends Frame> {
  readonly frames: F[] = [];
  readonly log: F[] = [];
  /** `consume`: take the frame off the queue (next); otherwise only watch the log for it (until). */
  private readonly waiters: { pred: (f: F) => boolean; consume: boolean; resolve: (f: F) => void; reject: (e: Error) => void }[] = [];
  private closeInfo: { code: number; reason: string } | null = null;
  private readonly closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  private invalid: Error | null = null;
  private fences = 0;

  constructor(
    readonly ws: WebSocket,
    schema: z.ZodType<F>,
  ) {
    ws.accept();
    ws.addEventListener("message", (e) => {
      const raw: unknown = JSON.parse(e.data as string);
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        this.invalid ??= new Error(`a frame outside the protocol: ${JSON.stringify(raw).slice(0, 300)}: ${parsed.error.message.slice(0, 300)}`);
        for (const w of this.waiters.splice(0)) w.reject(this.invalid);
        return;
      }
      const f = parsed.data;
      this.frames.push(f);
      this.log.push(f);
      let taken = false;
      for (const w of [...this.waiters])
        if ((!w.consume || !taken) && w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          taken ||= w.consume;
          w.resolve(f);
        }
    });
    ws.addEventListener("close", (e) => {
      const info = { code: e.code, reason: e.reason };
      this.closeInfo = info;
      for (const w of this.closeWaiters) w(info);
    });
  }

  isClosed(): boolean {
    return this.closeInfo !== null;
  }

  send(f: unknown): void {
    this.ws.send(typeof f === "string" ? f : JSON.stringify(f));
  }

  /**
   * The first queued frame that matches, or the next one to arrive (rejects after `timeoutMs`).
   * By type, optionally with a condition on that frame: `next("msg.ack", (f) => f.clientId === "c1")`;
   * or by predicate: `next((f) => f.type === "hello")`.
   */
  next<K extends F["type"]>(type: K, where?: (f: FrameOf<F, K>) => boolean, timeoutMs?: number): Promise<FrameOf<F, K>>;
  next<G extends F>(pred: (f: F) => f is G, timeoutMs?: number): Promise<G>;
  next(pred: (f: F) => boolean, timeoutMs?: number): Promise<F>;
  next(what: string | ((f: F) => boolean), whereOrTimeout?: ((f: never) => boolean) | number, maybeTimeout?: number): Promise<F> {
    let pred: (f: F) => boolean;
    let timeoutMs: number;
    if (typeof what === "string") {
      // Called only with frames of type `what`, which is what the overload promised `where`.
      const where = typeof whereOrTimeout === "function" ? (whereOrTimeout as (f: F) => boolean) : () => true;
      pred = (f) => f.type === what && where(f);
      timeoutMs = (typeof whereOrTimeout === "number" ? whereOrTimeout : maybeTimeout) ?? 5000;
    } else {
      pred = what;
      timeoutMs = (typeof whereOrTimeout === "number" ? whereOrTimeout : undefined) ?? 5000;
    }
    return this.wait(pred, timeoutMs, true);
  }

  /** Like `next`, but takes nothing off the queue: resolves once a matching frame has arrived (now or before). */
  until(pred: (f: F) => boolean, timeoutMs = 5000): Promise<F> {
    return this.wait(pred, timeoutMs, false);
  }

  private wait(pred: (f: F) => boolean, timeoutMs: number, consume: boolean): Promise<F> {
    if (this.invalid) return Promise.reject(this.invalid);
    const seen = (consume ? this.frames : this.log).find(pred);
    if (seen) {
      if (consume) this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        consume,
        resolve: (f: F) => {
          clearTimeout(t);
          if (consume) this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Resolves with the close code and reason once the socket has closed. Frames
   * arrive before the close, so after this nothing more can reach `frames`.
   */
  closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("socket did not close")), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
  }

  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }

  /** A fresh reqId for a fence frame. */
  fenceId(): string {
    return `fence-${++this.fences}`;
  }
}

/**
 * Wait until the object behind a room socket has handled everything sent to it
 * before now, by a round trip: a `sync` with a reqId, answered by the room in
 * order with what it sends this socket. Every frame the room sent this socket
 * before it answered is in `s.frames` when this resolves, so a test can then
 * check that something did NOT arrive without sleeping. Consumes only the answer.
 */
export async function fence(s: RoomSocket): Promise<void> {
  const reqId = s.fenceId();
  // afterSeq past the end: the room clamps it to its last seq and sends no messages.
  s.send({ type: "sync", afterSeq: Number.MAX_SAFE_INTEGER, reqId });
  const answers = (f: RoomSocketFrame) => f.type === "sync" && f.replyTo === reqId;
  // On a batched socket (`?batch=1`) the answer may come inside a batch with the events
  // queued before it: then nothing is taken off the queue (those events stay to be checked).
  const got = await s.until((f) => answers(f) || (f.type === "batch" && f.frames.some(answers)));
  if (got.type === "sync") s.frames.splice(s.frames.indexOf(got), 1);
}

/**
 * The same for a device socket: a `sync` from position 0 with a reqId, answered
 * by the user's inbox with `inbox.sync` (position 0, not the current one: a
 * position from the future is answered with a fresh `inbox.hello` instead).
 */
export async function fenceDevice(s: DeviceSocket): Promise<void> {
  const reqId = s.fenceId();
  s.send({ type: "sync", pos: 0, reqId });
  await s.next("inbox.sync", (f) => f.replyTo === reqId);
}

/** An open room socket (fails the test if the upgrade was refused). */
export async function connect(roomId: string, token: string, query = "") {
  const r = await openRoomSocket(roomId, token, query);
  if (!r.socket) throw new Error(`socket refused: ${r.status} ${JSON.stringify(r.body)}`);
  await r.socket.next("hello");
  return r.socket;
}

export type RoomSocket = TestSocket<RoomSocketFrame>;
export type DeviceSocket = TestSocket<ServerDeviceFrame>;

/** An open device socket and its first frame: `inbox.hello`, or after `?pos=` perhaps `inbox.sync`. */
export interface ConnectedDevice {
  socket: DeviceSocket;
  first: FrameOf<ServerDeviceFrame, "inbox.hello">;
}
export async function connectDevice(token: string): Promise<ConnectedDevice>;
export async function connectDevice(token: string, query: string): Promise<{ socket: DeviceSocket; first: FrameOf<ServerDeviceFrame, "inbox.hello" | "inbox.sync"> }>;
export async function connectDevice(token: string, query = "") {
  const r = await openDeviceSocket(token, query);
  if (!r.socket) throw new Error(`device socket refused: ${r.status} ${JSON.stringify(r.body)}`);
  const first = await r.socket.next(() => true);
  if (first.type === "inbox.sync" && query) return { socket: r.socket, first };
  expectFrame(first, "inbox.hello", "the first frame of a device socket");
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
export async function postMessage(token: string, roomId: string, text: string, extra: Record<string, unknown> = {}): Promise<Message> {
  const r = await sendMessage(token, roomId, text, undefined, extra);
  if (r.status !== 201) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function history(token: string, roomId: string, query = "") {
  const r = await api("GET", `/api/v1/rooms/${roomId}/messages${query}`, { token });
  if (r.status !== 200) throw new Error(`history failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { messages: Message[]; hasMore: boolean; lastSeq: number };
}

/** A well-formed room id on this node that no room has (nothing is created by asking). */
/** Upload a small text file to a room (never shared by a message); answers the file's id. */
export async function uploadText(token: string, roomId: string, text: string, name = "note.txt"): Promise<string> {
  const res = await api<{ id: string }>("POST", `/api/v1/rooms/${encodeURIComponent(roomId)}/files?name=${encodeURIComponent(name)}`, { token, raw: text, headers: { "content-type": "text/plain" } });
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export function unusedRoomId(node = "local"): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let key = "";
  for (let i = 0; i < 16; i++) key += alphabet[Math.floor(Math.random() * 32)];
  return `r_${key}@${node}`;
}
