/**
 * The mirror's end of the channel from its room's home (shared/link-channel.ts
 * has the protocol, room/peer-channel.ts the other end). The node's Worker
 * checked the signed upgrade and derived the channel's secret
 * (worker/routes/link.ts); the mirror accepts the socket as a hibernatable one
 * tagged LINK_TAG (never among the members' sockets a broadcast reaches), keeps
 * the secret and the number of the last push it took in the socket's
 * attachment (both survive hibernation), and for each frame: checks its MAC and
 * that its number follows the last one, applies the push exactly as a pushed
 * HTTP request would, and answers with a MAC'd acknowledgement naming the push.
 * Frames are handled one after another in the order they came, whatever the
 * awaits inside. Anything wrong closes the channel (the home then goes back to
 * the last position the mirror confirmed); a second channel from the home
 * replaces the first.
 */
import { b64url, fromB64url } from "../shared/bytes";
import { CHANNEL_MAX_FRAME, LINK_TAG, channelKey, openFrame, sealFrame } from "../shared/link-channel";
import { safeClose } from "../shared/sockets";
import { asAppError } from "../shared/app-error";
import { errorText, log } from "../shared/log";
import { CLOSE } from "../../protocol/errors";
import { RoomPush, type RoomPushAnswer } from "../../protocol/cluster";

/** The internal header the Worker hands the verified channel over with (never from outside: worker/routes/sockets.ts strips x-outpost-*). */
export const LINK_CHANNEL_HEADER = "x-outpost-link-channel";

export interface ChannelHandOver {
  from: string;
  roomId: string;
  /** base64url of the channel's 32-byte secret */
  secret: string;
}

interface Attachment {
  link: ChannelHandOver;
  /** the number of the last push taken */
  n: number;
}

export class LinkSockets {
  private readonly keys = new WeakMap<WebSocket, Promise<CryptoKey>>();
  /** one queue for every channel socket: a replaced channel's last frame is applied before the new one's first */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly apply: (push: RoomPush) => Promise<RoomPushAnswer>,
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
      if (a?.link.from === handOver.from) safeClose(old, CLOSE.normal, "replaced by a new channel");
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server, [LINK_TAG]);
    server.serializeAttachment({ link: handOver, n: 0 } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: pair[0] });
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

  private async handle(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (ws.readyState !== WebSocket.OPEN) return;
    const a = ws.deserializeAttachment() as Attachment | null;
    if (!a?.link) return void safeClose(ws, CLOSE.policy, "not a channel");
    if (typeof raw !== "string" || raw.length > CHANNEL_MAX_FRAME) return void safeClose(ws, CLOSE.policy, "frame too large");
    const key = await this.key(ws, a);
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
    let reply: string;
    try {
      reply = JSON.stringify({ a: await this.apply(push.data) });
    } catch (err) {
      // Nothing was taken (the push is one transaction): the home sends it again after its back-off.
      const e = asAppError(err);
      if (!e) log("error", "link.channel_apply_failed", { from: a.link.from, room: a.link.roomId, error: errorText(err) });
      reply = JSON.stringify({ e: { code: e?.code ?? "internal" } });
      ws.send(await sealFrame(key, "ack", frame.n, reply));
      return void safeClose(ws, CLOSE.internal, "push not applied");
    }
    a.n = frame.n;
    ws.serializeAttachment(a);
    ws.send(await sealFrame(key, "ack", frame.n, reply));
  }
}

/** The hand-over header's value for a verified channel. */
export function channelHandOver(from: string, roomId: string, secret: Uint8Array): string {
  return JSON.stringify({ from, roomId, secret: b64url(secret) } satisfies ChannelHandOver);
}
