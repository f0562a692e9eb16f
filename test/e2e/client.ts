/**
 * What an integrator writes first: a tiny REST client over fetch, plus the
 * handful of calls every e2e file needs (make a user, sign in, make a room,
 * open a socket). Kept apart from test/harness.ts because it knows the API,
 * while the harness only knows how to run a node.
 */
import { expect } from "vitest";
import type { z } from "zod";
import { loginAs, wsConnect, type Frame, type WsClient } from "../harness";
import { ServerDeviceFrame } from "../../protocol/device";
import { ServerRoomFrame } from "../../protocol/frames";

export interface ApiResponse<T = Frame> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One REST call. `body` is sent as JSON unless it is a string (then sent as is, with `contentType`). */
export async function api<T = Frame>(
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
export async function ok<T = Frame>(expected: number, ...args: Parameters<typeof api>): Promise<T> {
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

export async function makeRoom(url: string, token: string, name: string, members: string[], visibility: "private" | "public" = "private") {
  return ok(201, url, "POST", "/api/v1/rooms", { token, body: { name, visibility, members } });
}

/** Every message of a room, paged through REST history with `after=` and limit=100. */
export async function fullHistory(url: string, token: string, roomId: string): Promise<Frame[]> {
  const all: Frame[] = [];
  let after = 0;
  for (let page = 0; page < 1000; page++) {
    const body = await ok(200, url, "GET", `/api/v1/rooms/${encodeURIComponent(roomId)}/messages?after=${after}&limit=100`, { token });
    all.push(...body.messages);
    if (!body.hasMore || body.messages.length === 0) return all;
    after = body.messages[body.messages.length - 1].seq;
  }
  throw new Error("history did not end");
}

/** Open a room socket and take its hello. Every frame it receives is checked against the protocol's strict schemas. */
export async function roomSocket(wsUrl: string, token: string, roomId: string, query = ""): Promise<{ ws: WsClient; hello: Frame }> {
  const ws = await wsConnect(`${wsUrl}/api/v1/rooms/${encodeURIComponent(roomId)}/socket${query}`, token);
  const hello = await ws.next("hello", 15000);
  return { ws, hello };
}

/** Open a device socket; resolves with the first frame (inbox.hello, or inbox.sync after `?pos=`). */
export async function deviceSocket(wsUrl: string, token: string, query = ""): Promise<{ ws: WsClient; first: Frame }> {
  const ws = await wsConnect(`${wsUrl}/api/v1/socket${query}`, token);
  const first = await ws.next((f) => f.type === "inbox.hello" || f.type === "inbox.sync", 15000);
  return { ws, first };
}

/** Every frame a socket received so far parses with the protocol's strict server schema (no leaked fields). */
export function expectValidFrames(ws: WsClient, kind: "room" | "device"): void {
  const schema: z.ZodType = kind === "room" ? ServerRoomFrame : ServerDeviceFrame;
  for (const f of ws.frames) {
    const r = schema.safeParse(f);
    if (!r.success) expect.fail(`invalid ${kind} frame ${JSON.stringify(f).slice(0, 300)}: ${r.error.message.slice(0, 300)}`);
  }
}

/** No frame matching `predicate` arrives within `ms` (a bounded negative check; the only kind of sleep these tests use). */
export async function expectNoFrame(ws: WsClient, predicate: (f: Frame) => boolean, ms: number): Promise<void> {
  const got = await ws.next(predicate, ms).then(
    (f) => f,
    () => null,
  );
  expect(got, `unexpected frame ${JSON.stringify(got)}`).toBeNull();
  // a socket that closed meanwhile would also have "received nothing": that is not a pass
  expect(ws.ws.readyState, "socket closed during the negative check").toBe(ws.ws.OPEN);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
