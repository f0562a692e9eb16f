/**
 * The runtime floor: the minimal "one Durable Object per room + SQLite insert +
 * broadcast" shape the benchmark issue describes, on the same workerd, with the
 * same compatibility flags as Outpost. No auth, no validation, no inbox, no
 * search. bench/run.mjs measures it next to Outpost in the idle-sockets
 * scenario, to show how much of Outpost's memory per socket is the runtime's
 * own (a Worker passing a hibernatable WebSocket through to an object).
 */
import { DurableObject } from "cloudflare:workers";

export class FloorRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, client_id TEXT, text TEXT, created_at INTEGER)");
  }

  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send('{"type":"hello"}');
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  webSocketMessage(ws, raw) {
    const f = JSON.parse(raw);
    if (f.type !== "msg.send") return;
    const seq = this.ctx.storage.sql.exec("INSERT INTO messages (client_id, text, created_at) VALUES (?, ?, ?) RETURNING seq", f.clientId, f.text, Date.now()).one().seq;
    ws.send(JSON.stringify({ type: "msg.ack", clientId: f.clientId, seq }));
    const data = JSON.stringify({ type: "msg.new", message: { seq, clientId: f.clientId, text: f.text } });
    for (const other of this.ctx.getWebSockets()) other.send(data);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const m = /^\/api\/v1\/rooms\/([^/]+)\/socket$/.exec(url.pathname);
    if (!m) return new Response("not found", { status: 404 });
    return env.ROOMS.get(env.ROOMS.idFromName(m[1])).fetch(request);
  },
};
