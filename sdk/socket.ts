/**
 * A WebSocket that comes back: reconnects with exponential backoff and jitter,
 * pings to notice a dead link (a crashed node sends no close frame), and parses
 * every incoming frame with a protocol schema, leniently (protocol/lenient.ts):
 * fields this SDK does not know are dropped, so a newer node can add them.
 * Frames that do not parse (an unknown `type` from a newer node, a malformed
 * one) are dropped, never trusted, and counted in `ignoredFrames`.
 *
 * The device and room sockets build on this; the URL is asked for on every
 * attempt so each reconnect can name the position it resumes from.
 */
import type { z } from "zod";
import { lenient } from "../protocol/lenient";
import { backoffDelay, type BackoffOptions } from "./backoff";

export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

/** The subset of the WebSocket API used here: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocolsOrOptions?: unknown) => WebSocketLike;

export interface SocketOptions {
  /** a WebSocket implementation: the browser's by default; pass `ws` in Node */
  WebSocket?: WebSocketConstructor;
  /** bearer token (Node only: sent as a header, which needs the `ws` package) */
  token?: string | null;
  backoff?: BackoffOptions;
  /** keep-alive interval (default 20 s); two silent intervals count as a dead link */
  pingMs?: number;
}

/**
 * Parse one raw frame with `schema` (as given: pass `lenient(schema)` to
 * accept fields a newer node added, as the sockets here do). Returns null for
 * anything that is not a known, well-formed frame: bad JSON, binary, unknown
 * `type`, wrong fields.
 */
export function parseFrame<T>(schema: z.ZodType<T>, raw: unknown): T | null {
  return parseFrames(schema, raw)[0] ?? null;
}

/**
 * Like parseFrame, but a `batch` frame (room sockets opened with `?batch=1`
 * group events under load) yields each of its frames, in order; frames inside
 * it that do not parse are dropped one by one.
 */
export function parseFrames<T>(schema: z.ZodType<T>, raw: unknown): T[] {
  return readFrames(schema, raw).frames;
}

/** parseFrames, also saying how many frames were dropped (a batch counts each of its frames). */
function readFrames<T>(schema: z.ZodType<T>, raw: unknown): { frames: T[]; ignored: number } {
  if (typeof raw !== "string") return { frames: [], ignored: 1 };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { frames: [], ignored: 1 };
  }
  const inner = (value as { type?: unknown; frames?: unknown } | null)?.type === "batch" ? (value as { frames?: unknown }).frames : null;
  const values = Array.isArray(inner) ? inner : [value];
  const frames: T[] = [];
  for (const v of values) {
    const parsed = schema.safeParse(v);
    if (parsed.success) frames.push(parsed.data);
  }
  return { frames, ignored: values.length - frames.length };
}

/** Close codes after which trying again cannot help: the server said no. */
const FINAL_CLOSE_CODES = new Set([1008]);

export class ReconnectingSocket<In> {
  state: SocketState = "connecting";
  /**
   * Frames received and dropped because they did not parse: an unknown `type`
   * (a newer node's event), a malformed frame, binary data. Worth watching: a
   * number that keeps growing means this client is older than its node.
   */
  ignoredFrames = 0;
  private readonly parser: z.ZodType<In>;
  private ws: WebSocketLike | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private stopped = false;
  private readonly stateListeners = new Set<(s: SocketState, detail?: { code: number; reason: string }) => void>();
  private readonly frameListeners = new Set<(f: In) => void>();

  constructor(
    private readonly url: () => string,
    schema: z.ZodType<In>,
    private readonly options: SocketOptions = {},
  ) {
    this.parser = lenient(schema);
  }

  /** Start connecting (idempotent). */
  start(): this {
    if (!this.ws && !this.timer && !this.stopped) this.connect();
    return this;
  }

  onState(fn: (s: SocketState, detail?: { code: number; reason: string }) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  onFrame(fn: (f: In) => void): () => void {
    this.frameListeners.add(fn);
    return () => this.frameListeners.delete(fn);
  }

  /** Send a frame if the socket is open; returns false (nothing sent) otherwise. */
  send(frame: unknown): boolean {
    if (this.state !== "open" || !this.ws) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Close for good: no more reconnects. */
  close(): void {
    this.stopped = true;
    this.clearTimers();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000, "bye");
      } catch {
        // already closing
      }
    }
    this.setState("closed");
  }

  /** Drop the current connection and reconnect now (e.g. the browser says it is back online). */
  reconnectNow(): void {
    if (this.stopped) return;
    this.attempt = 0;
    this.drop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  private connect(): void {
    this.timer = null;
    const Ctor = this.options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new Error("no WebSocket implementation: pass { WebSocket } (e.g. from the 'ws' package)");
    let ws: WebSocketLike;
    try {
      ws = this.options.token ? new Ctor(this.url(), { headers: { authorization: `Bearer ${this.options.token}` } }) : new Ctor(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.startPing();
      this.setState("open");
    };
    ws.onmessage = (ev) => {
      this.lastHeard = Date.now();
      // Unknown or malformed frames are ignored by design, and counted.
      const { frames, ignored } = readFrames(this.parser, typeof ev.data === "string" ? ev.data : String(ev.data));
      this.ignoredFrames += ignored;
      for (const frame of frames) {
        for (const fn of this.frameListeners) fn(frame);
      }
    };
    ws.onerror = () => {
      // onclose follows and decides.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (FINAL_CLOSE_CODES.has(ev.code)) {
        this.stopped = true;
        this.setState("closed", { code: ev.code, reason: ev.reason });
        return;
      }
      this.scheduleReconnect();
    };
  }

  private drop(): void {
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(4000, "reconnecting");
      } catch {
        // ignore
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setState("reconnecting");
    const delay = backoffDelay(this.attempt++, this.options.backoff);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private startPing(): void {
    const every = this.options.pingMs ?? 20_000;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > every * 2) {
        // Nothing heard for two intervals: the link is dead even if TCP has not said so.
        this.drop();
        this.scheduleReconnect();
        return;
      }
      this.send({ type: "ping" });
    }, every);
  }

  private clearTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private setState(s: SocketState, detail?: { code: number; reason: string }): void {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s, detail);
  }
}
