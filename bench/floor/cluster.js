/**
 * The runtime floor of a cross-node room: the minimal "home object relays each message
 * to one object per other node over a WebSocket, which broadcasts it to its members",
 * on the same workerd and compatibility settings as Outpost, with nothing else — no
 * signatures or MACs, no acknowledgements, no resume, no directory, no validation.
 * bench/lib/floor-cluster.mjs runs three of these like the cluster scenario runs three
 * Outpost nodes (same pinning, links through the same kind of proxy), so the report can
 * say how much latency a relay between processes costs on this machine at all, apart
 * from anything Outpost does.
 *
 * ROLE "home": a member's msg.send is inserted, acked, broadcast to the home's members
 * and sent on one outgoing WebSocket per peer (opened on the first message, kept open).
 * ROLE "mirror": a link socket's frame is broadcast to the mirror's members, then
 * inserted (as the Outpost mirror does: members need not wait for its commit).
 * A mirror member's msg.send goes to the home on that link socket, the other way
 * (as Outpost's sends on the room's channel do); the home stores and relays it like
 * its own members' and answers the mirror, which passes the ack to the sender.
 */
import { DurableObject } from "cloudflare:workers";

const SCHEMA = "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, client_id TEXT, text TEXT, created_at INTEGER)";

function accept(ctx, tag) {
  const pair = new WebSocketPair();
  ctx.acceptWebSocket(pair[1], [tag]);
  if (tag === "m") pair[1].send('{"type":"hello"}');
  return new Response(null, { status: 101, webSocket: pair[0] });
}

export class FloorHome extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA);
    /** @type {{ ws: WebSocket | null, queue: string[] }[] | null} */
    this.links = null;
  }

  async fetch(request) {
    this.roomId ??= new URL(request.url).pathname.split("/")[4];
    return accept(this.ctx, "m");
  }

  openLinks() {
    this.links = JSON.parse(this.env.PEER_URLS).map((base) => {
      const link = { ws: null, queue: [] };
      this.env.PEERS.fetch(`${base}/link/${this.roomId}`, { headers: { Upgrade: "websocket" } }).then((res) => {
        const ws = res.webSocket;
        if (!ws) throw new Error(`peer ${base} answered ${res.status} without a socket`);
        ws.accept();
        ws.addEventListener("message", (e) => this.forwarded(ws, e.data));
        link.ws = ws;
        for (const frame of link.queue) ws.send(frame);
        link.queue = [];
      });
      return link;
    });
  }

  webSocketMessage(ws, raw) {
    const f = JSON.parse(raw);
    if (f.type !== "msg.send") return;
    ws.send(JSON.stringify({ type: "msg.ack", clientId: f.clientId, seq: this.store(f) }));
  }

  /** A message of any member: inserted, broadcast, relayed to every other node; its seq. */
  store(f) {
    const seq = this.ctx.storage.sql.exec("INSERT INTO messages (client_id, text, created_at) VALUES (?, ?, ?) RETURNING seq", f.clientId, f.text, Date.now()).one().seq;
    const data = JSON.stringify({ type: "msg.new", message: { seq, clientId: f.clientId, text: f.text } });
    for (const other of this.ctx.getWebSockets("m")) other.send(data);
    if (!this.links) this.openLinks();
    for (const link of this.links) link.ws ? link.ws.send(data) : link.queue.push(data);
    return seq;
  }

  /** A mirror member's send, come on that node's link socket: stored as any, answered there. */
  forwarded(ws, raw) {
    const f = JSON.parse(raw);
    if (f.type === "msg.send") ws.send(JSON.stringify({ type: "msg.ack", clientId: f.clientId, seq: this.store(f) }));
  }
}

export class FloorMirror extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA);
    /** members' sends by clientId, until the home's ack; and sends made before the home's link socket came */
    this.senders = new Map();
    this.waiting = [];
  }

  async fetch(request) {
    const link = new URL(request.url).pathname.startsWith("/link/");
    const response = accept(this.ctx, link ? "link" : "m");
    if (link) for (const raw of this.waiting.splice(0)) this.ctx.getWebSockets("link")[0]?.send(raw);
    return response;
  }

  webSocketMessage(ws, raw) {
    if (this.ctx.getTags(ws)[0] !== "link") {
      // A member's send: to the home on its link socket (or once it exists).
      const f = JSON.parse(raw);
      if (f.type !== "msg.send") return;
      this.senders.set(f.clientId, ws);
      const link = this.ctx.getWebSockets("link")[0];
      return link ? link.send(raw) : this.waiting.push(raw);
    }
    if (raw.startsWith('{"type":"msg.ack"')) {
      const clientId = JSON.parse(raw).clientId;
      this.senders.get(clientId)?.send(raw);
      return this.senders.delete(clientId);
    }
    for (const other of this.ctx.getWebSockets("m")) other.send(raw);
    const m = JSON.parse(raw).message;
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO messages (seq, client_id, text, created_at) VALUES (?, ?, ?, ?)", m.seq, m.clientId, m.text, Date.now());
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const member = /^\/api\/v1\/rooms\/([^/]+)\/socket$/.exec(url.pathname);
    const link = /^\/link\/([^/]+)$/.exec(url.pathname);
    const roomId = member?.[1] ?? (env.ROLE === "mirror" ? link?.[1] : undefined);
    if (!roomId) return new Response("not found", { status: 404 });
    const ns = env.ROLE === "home" ? env.HOMES : env.MIRRORS;
    return ns.get(ns.idFromName(roomId)).fetch(request);
  },
};
