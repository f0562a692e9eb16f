/**
 * What an integrator writes first: a tiny REST client over fetch, plus the
 * handful of calls every e2e file needs (make a user, sign in, make a room,
 * open a socket). Kept apart from test/harness.ts because it knows the API,
 * while the harness only knows how to run a node.
 */
import { expect } from "vitest";
import { z } from "zod";
import { loginAs, wsConnect, type WsClient } from "../harness";
import { ServerDeviceFrame } from "../../protocol/device";
import { ServerBatch, ServerRoomFrame } from "../../protocol/frames";
import type { Message, Room } from "../../protocol/models";
import type { FrameOf } from "../frame-types";
import type { UntypedBody } from "../untyped-body";

import { expectFrame } from "../frame-types";
export { expectFrame, isReplyTo } from "../frame-types";

/** What a room socket receives: the room's frames, and `batch` frames when it asked for `?batch=1`. */
export type RoomSocketFrame = ServerRoomFrame | ServerBatch;
export const RoomSocketFrame: z.ZodType<RoomSocketFrame> = z.union([ServerRoomFrame, ServerBatch]);
export type RoomWs = WsClient<RoomSocketFrame>;
export type DeviceWs = WsClient<ServerDeviceFrame>;

export interface ApiResponse<T = UntypedBody> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One REST call. `body` is sent as JSON unless it is a string (then sent as is, with `contentType`). */
export async function api<T = UntypedBody>(
  base: string,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; contentType?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined;
  if (opts.body !== undefined) {
    payload = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] = opts.contentType ?? "application/json";
  }
  const res = await fetch(`${base}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** Like api() but fails the test unless the status is the expected one. */
export async function ok<T = UntypedBody>(expected: number, ...args: Parameters<typeof api>): Promise<T> {
  const res = await api<T>(...args);
  if (res.status !== expected) {
    throw new Error(`${args[1]} ${args[2]}: expected HTTP ${expected}, got ${res.status} ${res.text.slice(0, 400)}`);
  }
  return res.body;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
}

/** Admin creates an account; the person signs in with it. */
export async function makeUser(url: string, adminToken: string, username: string): Promise<TestUser> {
  // Not built from the username: the password policy refuses passwords that contain it.
  const password = "a long enough passphrase";
  const user = await ok(201, url, "POST", "/api/v1/users", { token: adminToken, body: { username, password, displayName: username.toUpperCase() } });
  const token = await loginAs(url, username, password);
  return { id: user.id, username, password, token };
}

export async function makeRoom(url: string, token: string, name: string, members: string[], visibility: "private" | "public" = "private"): Promise<Room> {
  return ok<Room>(201, url, "POST", "/api/v1/rooms", { token, body: { name, visibility, members } });
}

/** Every message of a room, paged through REST history with `after=` and limit=100. */
export async function fullHistory(url: string, token: string, roomId: string): Promise<Message[]> {
  const all: Message[] = [];
  let after = 0;
  for (let page = 0; page < 1000; page++) {
    const body = await ok<{ messages: Message[]; hasMore: boolean }>(200, url, "GET", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages?after=${after}&limit=100`, { token });
    all.push(...body.messages);
    if (!body.hasMore || body.messages.length === 0) return all;
    after = body.messages[body.messages.length - 1].seq;
  }
  throw new Error("history did not end");
}

/** A room socket (`wsConnect` with the protocol's strict room schema: a frame outside it fails the test). */
export function roomWs(url: string, token: string | null, options: { headers?: Record<string, string>; perMessageDeflate?: boolean } = {}): Promise<RoomWs> {
  return wsConnect(url, token, { ...options, schema: RoomSocketFrame });
}

/** A device socket, the same way. */
export function deviceWs(url: string, token: string | null, options: { headers?: Record<string, string>; perMessageDeflate?: boolean } = {}): Promise<DeviceWs> {
  return wsConnect(url, token, { ...options, schema: ServerDeviceFrame });
}

/** Open a room socket and take its hello. Every frame it receives is parsed with the protocol's strict schemas. */
export async function roomSocket(wsUrl: string, token: string, roomId: string, query = ""): Promise<{ ws: RoomWs; hello: FrameOf<ServerRoomFrame, "hello"> }> {
  const ws = await roomWs(`${wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket${query}`, token);
  const hello = await ws.next("hello", 15000);
  return { ws, hello };
}

/** Open a device socket; resolves with the first frame: inbox.hello, or after `?pos=` perhaps inbox.sync. */
export async function deviceSocket(wsUrl: string, token: string): Promise<{ ws: DeviceWs; first: FrameOf<ServerDeviceFrame, "inbox.hello"> }>;
export async function deviceSocket(wsUrl: string, token: string, query: string): Promise<{ ws: DeviceWs; first: FrameOf<ServerDeviceFrame, "inbox.hello" | "inbox.sync"> }>;
export async function deviceSocket(wsUrl: string, token: string, query = "") {
  const ws = await deviceWs(`${wsUrl}/api/v1/socket${query}`, token);
  const first = await ws.next((f) => f.type === "inbox.hello" || f.type === "inbox.sync", 15000);
  if (!query) expectFrame(first, "inbox.hello", "the first frame of a device socket without ?pos=");
  return { ws, first };
}

/**
 * Every frame a socket received so far parses with the protocol's strict server schema (no
 * leaked fields). Sockets opened here parse each frame as it arrives already; this also
 * catches a frame that was not JSON at all.
 */
export function expectValidFrames(ws: WsClient<RoomSocketFrame> | WsClient<ServerDeviceFrame>, kind: "room" | "device"): void {
  const schema: z.ZodType = kind === "room" ? RoomSocketFrame : ServerDeviceFrame;
  for (const f of ws.frames) {
    const r = schema.safeParse(f);
    if (!r.success) expect.fail(`invalid ${kind} frame ${JSON.stringify(f).slice(0, 300)}: ${r.error.message.slice(0, 300)}`);
  }
}

let fences = 0;

/**
 * Wait until the room behind `ws` has handled everything sent to it before now: a
 * `sync` with a reqId, which the room answers in order with what it sends this
 * socket (not for `?batch=1` sockets, whose answer may come inside a batch). Every
 * frame the room sent this socket before it answered is then in `ws.frames`, so a
 * test can check that something did NOT arrive without sleeping.
 */
export async function fence(ws: RoomWs): Promise<void> {
  const reqId = `fence-${++fences}`;
  // afterSeq past the end: the room clamps it to its last seq and sends no messages.
  ws.send({ type: "sync", afterSeq: Number.MAX_SAFE_INTEGER, reqId });
  await ws.next("sync", (f) => f.replyTo === reqId, 15000);
}

/** The same for a device socket: the inbox answers a `sync` from position 0 with `inbox.sync` (a future position would get `inbox.hello`). */
export async function fenceDevice(ws: DeviceWs): Promise<void> {
  const reqId = `fence-${++fences}`;
  ws.send({ type: "sync", pos: 0, reqId });
  await ws.next("inbox.sync", (f) => f.replyTo === reqId, 15000);
}

/** No frame matching `predicate` was received, of those next() has not taken (after a fence, or a socket's close, that is final). */
export function expectNoFrameYet<F extends { type: string }>(ws: WsClient<F>, predicate: (f: F) => boolean): void {
  const got = ws.untaken().find(predicate);
  expect(got, `unexpected frame ${JSON.stringify(got)}`).toBeUndefined();
}

/**
 * No frame matching `predicate` arrives within `ms`: a bounded wait, only for what no
 * fence can order (a frame another object sends, or one a timer sends); each caller
 * says why.
 */
export async function expectNoFrame<F extends { type: string }>(ws: WsClient<F>, predicate: (f: F) => boolean, ms: number): Promise<void> {
  const got = await ws.next(predicate, ms).then(
    (f) => f,
    () => null,
  );
  expect(got, `unexpected frame ${JSON.stringify(got)}`).toBeNull();
  // a socket that closed meanwhile would also have "received nothing": that is not a pass
  expect(ws.ws.readyState, "socket closed during the negative check").toBe(ws.ws.OPEN);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
