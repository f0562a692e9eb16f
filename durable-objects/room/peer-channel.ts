/**
 * The home room's end of its channel to one other node (shared/link-channel.ts
 * has the protocol and why): a WebSocket opened by a signed upgrade, pushes
 * sent as numbered, MAC'd frames without waiting for the previous answer, and
 * the mirror's acknowledgements matched to them in order. A mirror that batches
 * its acknowledgements (`batched`: it said so on its 101) answers once for
 * several pushes: an acknowledgement then settles every unanswered push up to
 * the one it names.
 *
 * The channel never decides what to send (peer-push.ts does); it reports each
 * push's answer, or fails every push still unanswered at once when the socket
 * closes, an acknowledgement does not check or does not come within
 * LINK_TIMEOUT_MS — the pusher then goes back to the last confirmed cursor
 * (the mirror skips what it already has). A channel with nothing to send for
 * IDLE_MS closes itself, so the room object can hibernate again.
 *
 * The other way, the mirror sends its node's members' messages (`receive`
 * decides each, in the order they came, and the answer goes back on the
 * channel). A send that does not check closes the channel. One the room could
 * not take for a passing reason (TRANSIENT_SEND_CODES) is answered
 * `{"t": code}`, and so is every later send on this channel, untried (none may
 * be stored before it): the mirror hands them all to the link's queue, in
 * order, which tries again later; the pushes go on.
 */
import type { Env } from "../shared/env";
import { clusterOf, LinkError, LINK_TIMEOUT_MS, nodeKey, peerNamed } from "../shared/cluster";
import { LINK_HEADERS, signRequest, verifyResponse } from "../shared/link-auth";
import { CHANNEL_ACKS_HEADER, CHANNEL_ACKS_PARAM, CHANNEL_KEY_HEADER, CHANNEL_KEY_PARAM, CHANNEL_SENDS_PARAM, SEND_MARK, channelKey, channelOffer, channelSecret, openFrame, sealFrame } from "../shared/link-channel";
import { LinkSendItem, RoomPushAnswer, type LinkSendResult } from "../../protocol/cluster";

/** A channel with no push for this long closes (the next change opens another). */
export const IDLE_MS = 30_000;

/** What the room does with a send that came on the channel: its answer, or `{stopped}` with a passing fault's code. */
export type ChannelSendHandler = (item: LinkSendItem) => Promise<LinkSendResult | { stopped: string }>;

interface Pending {
  n: number;
  at: number;
  resolve(answer: RoomPushAnswer): void;
  reject(err: unknown): void;
}

export class PeerChannel {
  private nextN = 1;
  private readonly pending: Pending[] = [];
  /** frames are sealed and sent one after another, in the order `send` was called */
  private sending: Promise<void> = Promise.resolve();
  /** acknowledgements are checked one after another, in the order they came */
  private reading: Promise<void> = Promise.resolve();
  private closed = false;
  /** the number of the last send taken from the mirror */
  private lastSend = 0;
  /** a send was not taken for a passing reason: this code answers it and every later one */
  private sendsStopped: string | null = null;
  private lastUse = Date.now();
  private timer: ReturnType<typeof setTimeout> | null = null;

  private constructor(
    private readonly node: string,
    private readonly ws: WebSocket,
    private readonly key: CryptoKey,
    /** the mirror answers once for several pushes (CHANNEL_ACKS_HEADER) */
    readonly batched: boolean,
    /** the channel ended: `failed` when pushes were left unanswered (or it broke) */
    private readonly onEnd: (failed: LinkError | null) => void,
    private readonly receive: ChannelSendHandler,
  ) {
    ws.addEventListener("message", (e) => {
      const data = e.data;
      this.reading = this.reading.then(() => this.received(data)).catch((err) => this.end(new LinkError(node, "unreachable", `channel: ${(err as Error).message}`)));
    });
    ws.addEventListener("close", (e) => this.end(new LinkError(node, "unreachable", `channel closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`)));
    ws.addEventListener("error", () => this.end(new LinkError(node, "unreachable", "channel error")));
    this.arm();
  }

  /**
   * Open the channel of `roomId` to `node`. `{legacy: status}` when that node
   * answered without a channel (an older version, channels off, a proxy that
   * drops upgrades: the pusher uses one HTTP request per push there); throws a
   * LinkError when it cannot be reached or its answer is not signed by it.
   */
  static async open(env: Env, roomId: string, node: string, onEnd: (failed: LinkError | null) => void, receive: ChannelSendHandler): Promise<PeerChannel | { legacy: number }> {
    const cluster = clusterOf(env);
    const peer = peerNamed(env, node);
    if (!cluster || !peer || !env.PEERS) throw new LinkError(node, "not_in_cluster", "no such node in the cluster file");
    const offer = await channelOffer();
    const path = `/link/v1/rooms/${encodeURIComponent(roomId)}/stream?${CHANNEL_KEY_PARAM}=${offer.publicKey}&${CHANNEL_ACKS_PARAM}=batch&${CHANNEL_SENDS_PARAM}=1`;
    const headers = await signRequest(await nodeKey(env), { from: cluster.self, to: node, method: "GET", path, body: null });
    headers.upgrade = "websocket";
    // A timer, not an AbortSignal: the signal would stay tied to the socket the upgrade returns.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LinkError(node, "timeout", "channel upgrade")), LINK_TIMEOUT_MS);
    });
    const upgrade = env.PEERS.fetch(`${peer.url}${path}`, { headers });
    let res: Response;
    try {
      res = await Promise.race([upgrade, timeout]);
    } catch (err) {
      // An upgrade that completes after the timeout is closed, not leaked.
      void upgrade.then((r) => r.webSocket && (r.webSocket.accept(), r.webSocket.close(1000, "too late")), () => {});
      throw err instanceof LinkError ? err : new LinkError(node, "unreachable", (err as Error).message);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    const ws = res.webSocket;
    if (!ws) {
      // The node answered, but not with a channel: a version older than channels (404), channels
      // turned off there, or a proxy on the way that does not pass upgrades (400, 502, …). Pushes
      // as requests still work through all of these; a node that is down throws above instead.
      await res.body?.cancel();
      return { legacy: res.status };
    }
    ws.accept();
    const theirs = res.headers.get(CHANNEL_KEY_HEADER) ?? "";
    const nonce = headers[LINK_HEADERS.nonce];
    const signed = await verifyResponse(cluster, { nonce, status: 101, from: node, signature: res.headers.get(LINK_HEADERS.signature), body: theirs });
    const secret = signed ? await channelSecret(offer.privateKey, theirs, nonce) : null;
    if (!secret) {
      ws.close(1008, "not signed by the node");
      throw new LinkError(node, "bad_signature", "channel answer not signed by the node");
    }
    return new PeerChannel(node, ws, await channelKey(secret), res.headers.get(CHANNEL_ACKS_HEADER) === "batch", onEnd, receive);
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Pushes sent and not yet answered. */
  get unanswered(): number {
    return this.pending.length;
  }

  /** Send one push (its JSON text); resolves with the mirror's answer to it. */
  send(text: string): Promise<RoomPushAnswer> {
    if (this.closed) return Promise.reject(new LinkError(this.node, "unreachable", "channel closed"));
    const n = this.nextN++;
    this.lastUse = Date.now();
    const answer = new Promise<RoomPushAnswer>((resolve, reject) => this.pending.push({ n, at: Date.now(), resolve, reject }));
    this.sending = this.sending.then(async () => {
      if (this.closed) return;
      const frame = await sealFrame(this.key, "push", n, text);
      try {
        if (!this.closed) this.ws.send(frame);
      } catch (err) {
        this.end(new LinkError(this.node, "unreachable", (err as Error).message));
      }
    }).catch((err) => this.end(new LinkError(this.node, "unreachable", `channel: ${(err as Error).message}`)));
    return answer;
  }

  /** Close now (the node learnt it has no members left, or the room is going away). */
  close(reason = "done"): void {
    if (this.closed) return;
    try {
      this.ws.close(1000, reason);
    } catch {
      // already closing
    }
    this.end(this.pending.length ? new LinkError(this.node, "unreachable", "channel closed") : null);
  }

  private async received(data: unknown): Promise<void> {
    if (this.closed) return;
    if (typeof data === "string" && data.startsWith(SEND_MARK)) return this.receivedSend(data);
    const frame = typeof data === "string" ? await openFrame(this.key, "ack", data) : null;
    const head = this.pending[0];
    // Batched: the answer names the last push it covers (any unanswered one); otherwise the oldest.
    const covers = frame && head ? (this.batched ? this.pending.findIndex((p) => p.n === frame.n) : frame.n === head.n ? 0 : -1) : -1;
    let answer: RoomPushAnswer | null = null;
    let refusal: string | null = null;
    if (frame && covers >= 0) {
      try {
        const body = JSON.parse(frame.payload) as { a?: unknown; e?: { code?: unknown } };
        const parsed = RoomPushAnswer.safeParse(body.a);
        if (parsed.success) answer = parsed.data;
        else refusal = typeof body.e?.code === "string" ? body.e.code : "bad answer";
      } catch {
        refusal = "bad answer";
      }
    } else refusal = frame ? "answer out of order" : "answer not authentic";
    if (!answer) {
      try {
        this.ws.close(1008, refusal ?? "bad answer");
      } catch {
        // already closing
      }
      this.end(new LinkError(this.node, refusal === "answer not authentic" ? "bad_signature" : "unreachable", `channel: ${refusal}`));
      return;
    }
    this.lastUse = Date.now();
    for (const p of this.pending.splice(0, covers + 1)) p.resolve(answer);
  }

  /**
   * A send from the mirror: checked (MAC, next number, this room), decided by
   * the room, answered. Anything wrong closes the channel: the mirror then
   * hands what it has not heard about to the link's queue.
   */
  private async receivedSend(data: string): Promise<void> {
    const frame = await openFrame(this.key, "send", data.slice(SEND_MARK.length));
    let item: LinkSendItem | null = null;
    if (frame && frame.n === this.lastSend + 1) {
      try {
        const parsed = LinkSendItem.safeParse((JSON.parse(frame.payload) as { s?: unknown }).s);
        if (parsed.success) item = parsed.data;
      } catch {
        // not JSON: refused below
      }
    }
    if (!frame || !item) return this.fail(!frame ? "send not authentic" : frame.n !== this.lastSend + 1 ? "send out of order" : "not a send", !frame);
    this.lastSend = frame.n;
    this.lastUse = Date.now();
    const result: LinkSendResult | { stopped: string } = this.sendsStopped ? { stopped: this.sendsStopped } : await this.receive(item);
    if ("stopped" in result) this.sendsStopped = result.stopped;
    const n = frame.n;
    const reply = JSON.stringify("stopped" in result ? { t: result.stopped } : { r: result });
    this.sending = this.sending
      .then(async () => {
        const sealed = `${SEND_MARK}${await sealFrame(this.key, "sent", n, reply)}`;
        if (!this.closed) this.ws.send(sealed);
      })
      .catch((err) => this.end(new LinkError(this.node, "unreachable", `channel: ${(err as Error).message}`)));
  }

  private fail(why: string, forged: boolean): void {
    try {
      this.ws.close(1008, why);
    } catch {
      // already closing
    }
    this.end(new LinkError(this.node, forged ? "bad_signature" : "unreachable", `channel: ${why}`));
  }

  /** One timer: an unanswered push past LINK_TIMEOUT_MS fails the channel; an idle one closes. */
  private arm(): void {
    if (this.closed) return;
    const now = Date.now();
    const head = this.pending[0];
    const due = head ? head.at + LINK_TIMEOUT_MS : this.lastUse + IDLE_MS;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const t = Date.now();
        const first = this.pending[0];
        if (first && t >= first.at + LINK_TIMEOUT_MS) {
          try {
            this.ws.close(1011, "no answer");
          } catch {
            // already closing
          }
          this.end(new LinkError(this.node, "timeout", "channel: no answer"));
        } else if (!first && t >= this.lastUse + IDLE_MS) this.close("idle");
        else this.arm();
      },
      Math.max(10, Math.min(due - now, LINK_TIMEOUT_MS)),
    );
  }

  private end(failed: LinkError | null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const left = this.pending.splice(0);
    const why = failed ?? new LinkError(this.node, "unreachable", "channel closed");
    for (const p of left) p.reject(why);
    this.onEnd(left.length || failed ? why : null);
  }
}
