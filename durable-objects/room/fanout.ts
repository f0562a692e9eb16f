/**
 * Frames from a room to its open sockets: one serialisation per event, and
 * under load fewer, larger frames.
 *
 * Each WebSocket send costs the runtime far more than its bytes (perf: the JS
 * call, the pipe between the Worker and the object, one `writev` per frame:
 * ~15–25 µs per frame here), so sockets that asked for batches (`?batch=1`,
 * which the SDK does) get the events of a short window in one `batch` frame.
 *
 * The window adapts to the room's load: it is derived from the deliveries per
 * second the room made in the last second (events × batched sockets). A quiet
 * room sends each event at once (a frame goes immediately when nothing was
 * flushed within the window); a busy room (50 sockets, 200 msg/s) holds them
 * ~1 ms; a room pushing a hundred thousand deliveries per second holds them
 * up to BATCH_WINDOW_MAX_MS, which is what lets one core carry it (see
 * docs/PERFORMANCE.md, "big room"). Measured on the busy room: 1 ms per 1,000
 * deliveries/s (a 10 ms window there) saved ~15% CPU but cost ~5 ms median
 * and ~10 ms p99; 1 ms per 8,000 keeps the median at the baseline's.
 *
 * Order per socket is kept: a frame for one socket (an ack, an error, a sync)
 * queued while shared frames wait goes out after them, in the same flush.
 *
 * Frames arrive here already serialised (room-socket.ts makes them from the
 * typed `ServerRoomFrame`); the `batch` frame (`ServerBatch` in
 * protocol/frames.ts) is joined from them as text, so no event is serialised
 * twice.
 */
import { safeSend } from "../shared/sockets";

/** socket tags: clients that take `batch` frames, and those that do not */
export const BATCHED = "b:1";
export const PLAIN = "b:0";
/** the shortest window: frames this close together always share one */
export const BATCH_WINDOW_MS = 1;
/** the longest: still far below what a person notices, and below the 100 ms the big-room target allows */
export const BATCH_WINDOW_MAX_MS = 20;
/** one more ms of window per this many deliveries per second */
const DELIVERIES_PER_WINDOW_MS = 8000;

export class Fanout {
  private cache: { plain: WebSocket[]; batched: WebSocket[]; batchedSet: Set<WebSocket> } | null = null;
  private queue: string[] = [];
  /** frames for one socket that must follow the queued shared frames */
  private direct = new Map<WebSocket, string[]>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = 0;
  private bucketStart = 0;
  private bucketEvents = 0;
  private eventsPerSec = 0;

  constructor(private readonly ctx: DurableObjectState) {}

  /** Forget the socket lists (a socket opened or closed); rebuilt on next use, also after a wake. */
  invalidate(): void {
    this.cache = null;
  }

  /**
   * The room's open sockets by kind, asked of the runtime once and kept until
   * one opens or closes (a broadcast would otherwise list every socket again).
   */
  sockets(): { plain: WebSocket[]; batched: WebSocket[]; batchedSet: Set<WebSocket> } {
    if (!this.cache) {
      const batched = this.ctx.getWebSockets(BATCHED);
      this.cache = { plain: this.ctx.getWebSockets(PLAIN), batched, batchedSet: new Set(batched) };
    }
    return this.cache;
  }

  /**
   * One event, serialised once, to every open socket. With `reply`, the event
   * answers one socket's request (a message's ack to its sender): a plain
   * socket gets the reply first, a batched one gets event and reply in one
   * frame (one frame fewer per message; the SDK settles on either).
   */
  broadcast(data: string, reply?: { ws: WebSocket; data: string }): void {
    const { plain, batched, batchedSet } = this.sockets();
    if (reply && !batchedSet.has(reply.ws)) {
      safeSend(reply.ws, reply.data);
      reply = undefined;
    }
    for (const ws of plain) safeSend(ws, data);
    if (batched.length === 0) return;
    this.queue.push(data);
    if (reply) {
      const list = this.direct.get(reply.ws);
      if (list) list.push(reply.data);
      else this.direct.set(reply.ws, [reply.data]);
    }
    this.countEvent();
    if (this.timer !== null) return;
    const wait = this.lastFlush + this.window() - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** A frame for one socket, after anything already queued for it (order is kept). */
  sendTo(ws: WebSocket, data: string): void {
    if (this.queue.length && this.sockets().batchedSet.has(ws)) {
      const list = this.direct.get(ws);
      if (list) list.push(data);
      else this.direct.set(ws, [data]);
      return;
    }
    safeSend(ws, data);
  }

  /** Send what is queued now. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0) return;
    const joined = this.queue.join(",");
    const shared = this.queue.length === 1 ? this.queue[0] : `{"type":"batch","frames":[${joined}]}`;
    const direct = this.direct;
    this.queue = [];
    this.direct = new Map();
    this.lastFlush = Date.now();
    for (const ws of this.sockets().batched) {
      const own = direct.get(ws);
      safeSend(ws, own ? `{"type":"batch","frames":[${joined},${own.join(",")}]}` : shared);
    }
  }

  /** Current window in ms, from the deliveries the room made in the last second. */
  window(): number {
    const deliveries = this.eventsPerSec * this.sockets().batched.length;
    return Math.min(BATCH_WINDOW_MAX_MS, Math.max(BATCH_WINDOW_MS, Math.round(deliveries / DELIVERIES_PER_WINDOW_MS)));
  }

  private countEvent(): void {
    const now = Date.now();
    if (now - this.bucketStart >= 1000) {
      // A gap of more than a second means the last second was quiet.
      this.eventsPerSec = now - this.bucketStart < 2000 ? this.bucketEvents : 0;
      this.bucketStart = now;
      this.bucketEvents = 0;
    }
    this.bucketEvents++;
  }
}
