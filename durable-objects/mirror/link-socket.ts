/**
 * The mirror's end of the channel from its room's home (shared/link-channel.ts
 * has the protocol, room/peer-channel.ts the other end). The node's Worker
 * checked the signed upgrade and derived the channel's secret
 * (worker/routes/link.ts); the mirror accepts the socket as a hibernatable one
 * tagged LINK_TAG (never among the members' sockets a broadcast reaches), keeps
 * the secret and the number of the last push it took in the socket's
 * attachment (both survive hibernation), and for each frame: checks its MAC and
 * that its number follows the last one, tells the mirror's viewers at once
 * (`take`), and answers with a MAC'd acknowledgement once the push is written.
 * Frames are handled one after another in the order they came, whatever the
 * awaits inside. Anything wrong closes the channel (the home then goes back to
 * the last position the mirror confirmed); a second channel from the home
 * replaces the first.
 *
 * Writing: a home that asked for batched answers gets its pushes written
 * together — after `mirrorWriteDelayMs` (a node limit, 25 ms by default; 0
 * turns this off), or at once when MIRROR_FLUSH_PUSHES or
 * MIRROR_FLUSH_BYTES of them wait — in one commit, and one answer naming the
 * last of them. Each commit is an fsync and each answer an event at the home:
 * per push, they cost the mirror as much CPU as all its members' frames. What
 * waits is already in the mirror's memory and its viewers' sockets; a read of
 * the copy writes it first (`settle`), and a crash loses only what was never
 * acknowledged (the home pushes it again). An older home, answered push by push,
 * gets each one written and answered at once, as before.
 *
 * Sends: a home that takes its members' sends on the channel (`sends` in the
 * hand-over) gets them here (`send`, numbered on their own), and its answers,
 * each the next in order, go to the sends' record (mirror-sends.ts). An answer
 * `{"t": code}` (a passing fault at the home) stops sends on this channel; the
 * sends not answered, and the ones after, go by the link's queue instead. A
 * channel that closes or is replaced takes its unanswered sends with it the
 * same way (`gone`).
 */
import { b64url, fromB64url } from "../shared/bytes";
import { CHANNEL_MAX_FRAME, LINK_TAG, SEND_MARK, channelKey, openFrame, sealFrame } from "../shared/link-channel";
import { safeClose } from "../shared/sockets";
import { asAppError } from "../shared/app-error";
import { errorText, log } from "../shared/log";
import { CLOSE } from "../../protocol/errors";
import { LinkSendResult, RoomPush, type LinkSendItem, type RoomPushAnswer } from "../../protocol/cluster";
import type { SendChannel } from "./mirror-sends";

/** The internal header the Worker hands the verified channel over with (never from outside: worker/routes/sockets.ts strips x-outpost-*). */
export const LINK_CHANNEL_HEADER = "x-outpost-link-channel";

export interface ChannelHandOver {
  from: string;
  roomId: string;
  /** base64url of the channel's 32-byte secret */
  secret: string;
  /** the home takes one answer for several pushes (absent from channels opened before batching) */
  batch?: boolean;
  /** the home takes this node's sends on the channel (absent from channels opened before) */
  sends?: boolean;
}

/** Written at once when this many pushes wait (fewer than the home's CHANNEL_WINDOW_BATCHED, so it never stalls on the timer). */
export const MIRROR_FLUSH_PUSHES = 16;
/** … or when they hold this many bytes (a node catching up gets pushes of hundreds of messages). */
export const MIRROR_FLUSH_BYTES = 1 << 20;

/** What the mirror object does with a channel's pushes. */
export interface PushHost {
  /** Before the first push: the copy's tables, the node's directory entry. */
  prepare(push: RoomPush): Promise<void>;
  /** Tell the viewers and move the copy's positions, in memory. */
  take(push: RoomPush): void;
  /** Write pushes taken, in order, in one transaction; each one's answer. Throws: nothing was written. */
  write(pushes: RoomPush[]): RoomPushAnswer[];
  /** The home answered a send on the channel. */
  sent(result: LinkSendResult): void;
  /** Sends on a channel will not be answered (it closed, was replaced, stopped taking them): hand them to the queue. */
  sendsLost(why: string): void;
}

interface Taken {
  ws: WebSocket;
  key: CryptoKey;
  n: number;
  push: RoomPush;
}

interface Attachment {
  link: ChannelHandOver;
  /** the number of the last push taken */
  n: number;
  /** the numbers of the last send sent, and of the last one answered */
  s?: number;
  r?: number;
  /** the home stopped taking sends on this channel */
  stopped?: boolean;
}

export class LinkSockets implements SendChannel {
  private readonly keys = new WeakMap<WebSocket, Promise<CryptoKey>>();
  /** each channel's attachment as this isolate last saw it: the number moves with every push taken, the attachment when it is written */
  private readonly attachments = new WeakMap<WebSocket, Attachment>();
  /** each channel's number of the last push written: what its stored attachment says (`persist`) */
  private readonly written = new WeakMap<WebSocket, number>();
  /** one queue for every channel socket: a replaced channel's last frame is applied before the new one's first */
  private queue: Promise<void> = Promise.resolve();
  /** acknowledgements go out in the order their pushes were written */
  private acks: Promise<void> = Promise.resolve();
  private taken: Taken[] = [];
  private takenBytes = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly host: PushHost,
    /** limits.mirrorWriteDelayMs */
    private readonly delayMs: number,
  ) {}

  isLink(ws: WebSocket): boolean {
    return this.ctx.getTags(ws).includes(LINK_TAG);
  }

  /** Accept the channel the Worker verified; the client end goes back in the 101. */
  accept(header: string): Response {
    let handOver: ChannelHandOver;
    try {
      handOver = JSON.parse(header) as ChannelHandOver;
    } catch {
      return new Response("bad hand-over", { status: 400 });
    }
    for (const old of this.ctx.getWebSockets(LINK_TAG)) {
      const a = old.deserializeAttachment() as Attachment | null;
      if (a?.link.from !== handOver.from) continue;
      safeClose(old, CLOSE.normal, "replaced by a new channel");
      this.gone(old);
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server, [LINK_TAG]);
    server.serializeAttachment({ link: handOver, n: 0 } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** The channel to send on: open, from a home that takes sends there and has not stopped. */
  private sendSocket(): WebSocket | null {
    for (const ws of this.ctx.getWebSockets(LINK_TAG)) {
      const a = this.attachment(ws);
      if (a?.link.sends && !a.stopped && ws.readyState === WebSocket.OPEN) return ws;
    }
    return null;
  }

  canSend(): boolean {
    return this.sendSocket() !== null;
  }

  send(item: LinkSendItem): void {
    const ws = this.sendSocket();
    const a = ws && this.attachment(ws);
    if (!ws || !a) return this.host.sendsLost("no channel");
    const n = (a.s ?? 0) + 1;
    a.s = n;
    this.persist(ws, a);
    const text = JSON.stringify({ s: item });
    this.acks = this.acks
      .then(async () => {
        const frame = `${SEND_MARK}${await sealFrame(await this.key(ws, a), "send", n, text)}`;
        if (ws.readyState === WebSocket.OPEN) ws.send(frame);
      })
      .catch((err) => log("error", "link.channel_send_failed", { error: errorText(err) }));
  }

  /** A channel socket closed, failed or was replaced: its sends not answered go by the queue. */
  gone(ws: WebSocket): void {
    const a = this.attachment(ws);
    if (a && (a.s ?? 0) > (a.r ?? 0)) this.host.sendsLost("channel closed");
  }

  /** A frame from the home: handled after the ones before it. */
  message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const next = this.queue
      .then(() => this.handle(ws, raw))
      .catch((err) => {
        // Never leave the queue rejected (every later frame would be skipped): close, the home starts again.
        log("error", "link.channel_failed", { error: errorText(err) });
        safeClose(ws, CLOSE.internal, "channel failed");
      });
    this.queue = next;
    return next;
  }

  private key(ws: WebSocket, a: Attachment): Promise<CryptoKey> {
    let key = this.keys.get(ws);
    if (!key) {
      key = channelKey(fromB64url(a.link.secret) ?? new Uint8Array(32));
      this.keys.set(ws, key);
    }
    return key;
  }

  private attachment(ws: WebSocket): Attachment | null {
    let a = this.attachments.get(ws);
    if (!a) {
      a = (ws.deserializeAttachment() as Attachment | null) ?? undefined;
      if (a) {
        this.attachments.set(ws, a);
        this.written.set(ws, a.n);
      }
    }
    return a ?? null;
  }

  private async handle(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (ws.readyState !== WebSocket.OPEN) return;
    const a = this.attachment(ws);
    if (!a?.link) return void safeClose(ws, CLOSE.policy, "not a channel");
    if (typeof raw !== "string" || raw.length > CHANNEL_MAX_FRAME) return void safeClose(ws, CLOSE.policy, "frame too large");
    const key = await this.key(ws, a);
    if (raw.startsWith(SEND_MARK)) return this.answered(ws, a, key, raw.slice(SEND_MARK.length));
    const frame = await openFrame(key, "push", raw);
    if (!frame || frame.n !== a.n + 1) {
      log("warn", "link.channel_refused", { from: a.link.from, room: a.link.roomId, why: frame ? "out of order" : "not authentic" });
      return void safeClose(ws, CLOSE.policy, frame ? "push out of order" : "push not authentic");
    }
    let push;
    try {
      push = RoomPush.safeParse(JSON.parse(frame.payload));
    } catch {
      push = null;
    }
    if (!push?.success || push.data.room.id !== a.link.roomId) return void safeClose(ws, CLOSE.policy, "not a push of this room");
    await this.host.prepare(push.data);
    // Told now, written with the next ones (or at once, for a home that wants an answer per push).
    this.host.take(push.data);
    a.n = frame.n;
    this.taken.push({ ws, key, n: frame.n, push: push.data });
    this.takenBytes += raw.length;
    if (!a.link.batch || this.delayMs === 0 || this.taken.length >= MIRROR_FLUSH_PUSHES || this.takenBytes >= MIRROR_FLUSH_BYTES) this.settle();
    else this.timer ??= setTimeout(() => this.settle(), this.delayMs);
  }

  /** The home's answer to a send: the next one in order, or the channel closes (and its sends go by the queue). */
  private async answered(ws: WebSocket, a: Attachment, key: CryptoKey, raw: string): Promise<void> {
    const frame = await openFrame(key, "sent", raw);
    const expected = (a.r ?? 0) + 1;
    let body: { r?: unknown; t?: unknown } | null = null;
    try {
      body = frame && frame.n === expected && expected <= (a.s ?? 0) ? (JSON.parse(frame.payload) as { r?: unknown; t?: unknown }) : null;
    } catch {
      body = null;
    }
    const result = body?.r === undefined ? null : LinkSendResult.safeParse(body.r);
    if (!frame || !body || (typeof body.t !== "string" && !result?.success)) {
      log("warn", "link.channel_refused", { from: a.link.from, room: a.link.roomId, why: frame ? "bad answer to a send" : "answer not authentic" });
      safeClose(ws, CLOSE.policy, frame ? "bad answer to a send" : "answer not authentic");
      return this.gone(ws);
    }
    a.r = frame.n;
    if (typeof body.t === "string") {
      // A passing fault at the home: no later send on this channel is taken either.
      if (!a.stopped) {
        a.stopped = true;
        this.persist(ws, a);
        this.host.sendsLost(`home stopped: ${body.t}`);
      }
      return;
    }
    this.persist(ws, a);
    this.host.sent(result!.data!);
  }

  /**
   * Write every push taken and not yet written, now (before the copy is read),
   * and answer them: a batched channel once, for its last push; an older home
   * push by push. A write that fails writes nothing: the home hears why and the
   * channel closes, and it pushes the same again from what it had confirmed.
   */
  settle(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.taken;
    if (batch.length === 0) return;
    this.taken = [];
    this.takenBytes = 0;
    let answers: RoomPushAnswer[];
    try {
      answers = this.host.write(batch.map((t) => t.push));
    } catch (err) {
      const e = asAppError(err);
      if (!e) log("error", "link.channel_apply_failed", { room: batch[0].push.room.id, error: errorText(err) });
      const reply = JSON.stringify({ e: { code: e?.code ?? "internal" } });
      for (const t of batch.filter((t, i) => batch.findIndex((u) => u.ws === t.ws) === i)) {
        this.answer(t, reply);
        this.acks = this.acks.then(() => void safeClose(t.ws, CLOSE.internal, "push not applied"));
      }
      return;
    }
    batch.forEach((t, i) => {
      const a = this.attachment(t.ws);
      const last = batch.findLastIndex((u) => u.ws === t.ws) === i;
      if (last && a) {
        this.written.set(t.ws, t.n);
        this.persist(t.ws, a);
      }
      if (last || !a?.link.batch) this.answer(t, JSON.stringify({ a: answers[i] }));
    });
  }

  /** Store a channel's attachment as far as it is written: a push taken but not written is not counted (the home sends it again after a loss). */
  private persist(ws: WebSocket, a: Attachment): void {
    ws.serializeAttachment({ ...a, n: this.written.get(ws) ?? a.n });
  }

  private answer(t: Taken, reply: string): void {
    this.acks = this.acks
      .then(async () => {
        const frame = await sealFrame(t.key, "ack", t.n, reply);
        if (t.ws.readyState === WebSocket.OPEN) t.ws.send(frame);
      })
      .catch((err) => log("error", "link.channel_answer_failed", { error: errorText(err) }));
  }
}

/** The hand-over header's value for a verified channel. */
export function channelHandOver(from: string, roomId: string, secret: Uint8Array, batch: boolean, sends: boolean): string {
  return JSON.stringify({ from, roomId, secret: b64url(secret), batch, sends } satisfies ChannelHandOver);
}
