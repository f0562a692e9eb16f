/**
 * A TCP proxy standing in for one direction of a branch office's WAN link (the
 * bench's .mjs twin of test/cluster/link-proxy.ts, which bench cannot import:
 * it runs in plain Node without a TypeScript loader). `cut()` drops every
 * connection and refuses new ones, `heal()` lets them through again, and
 * `bytes` counts the TCP payload that crossed, per direction — what the bench
 * divides by messages sent to get bytes per message on each link.
 *
 * One proxy per directed link (a's requests to b): `toTarget` is a's requests,
 * `fromTarget` is b's answers to them.
 *
 * @example
 *   const p = await LinkProxy.start({ targetPort: shanghaiPort });
 *   const before = { ...p.bytes };  ...  p.bytes.toTarget - before.toTarget
 *   await p.cut();  ...  await p.heal();
 */
import net from "node:net";

export class LinkProxy {
  /** @param {number} port @param {number} targetPort */
  constructor(port, targetPort) {
    this.port = port;
    this.targetPort = targetPort;
    this.bytes = { toTarget: 0, fromTarget: 0 };
    /** requests that crossed, by endpoint ("push", "sends", "ping", …): how many pushes carried the messages */
    this.requests = {};
    /** the latest push request that arrived in one chunk (headers and body), for a look at what a push carries */
    this.lastPush = null;
    /** ms from a request's first byte to its answer's first byte, by endpoint: how long the addressee took */
    this.answerMs = {};
    this.up = true;
    /** @type {Set<net.Socket>} */
    this.sockets = new Set();
    this.server = this.makeServer();
  }

  /** A proxy on a free port forwarding to 127.0.0.1:`targetPort`. */
  static async start({ targetPort }) {
    const proxy = new LinkProxy(await freePort(), targetPort);
    await proxy.listen();
    return proxy;
  }

  /** Drop every open connection and refuse new ones (connection refused, as a pulled cable behind a router looks on loopback). */
  cut() {
    if (!this.up) return Promise.resolve();
    this.up = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async heal() {
    if (this.up) return;
    this.up = true;
    this.server = this.makeServer();
    await this.listen();
  }

  close() {
    return this.cut();
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  /**
   * Request lines in a chunk of a's requests: `POST /link/v1/rooms/<id>/push HTTP/1.1` counts
   * as "push". Returns the endpoint of the request that starts in this chunk, if one does.
   */
  countRequests(chunk) {
    let started = null;
    const text = chunk.latin1Slice(0, chunk.length);
    for (let at = text.indexOf(" /link/v1/"); at >= 0; at = text.indexOf(" /link/v1/", at + 10)) {
      const end = text.indexOf(" ", at + 10);
      if (end < 0) break;
      const parts = text.slice(at + 10, end).split("?")[0].split("/");
      const kind = parts[0] === "rooms" ? parts[2] ?? "rooms" : parts.join("/");
      this.requests[kind] = (this.requests[kind] ?? 0) + 1;
      if (kind === "push" && at < 8) this.lastPush = text;
      if (at < 8) started = kind;
    }
    return started;
  }

  makeServer() {
    return net.createServer((client) => {
      if (!this.up) return client.destroy();
      const upstream = net.connect(this.targetPort, "127.0.0.1");
      // Nagle would hold small answers back for the peer's delayed ACK: the bench measures the
      // nodes, not the proxy, so both legs send at once, as the loopback link without a proxy does.
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const pipe = (from, to, count) =>
        from.on("data", (chunk) => {
          this.bytes[count] += chunk.length;
          if (!to.destroyed && !to.write(chunk)) {
            from.pause();
            to.once("drain", () => from.resume());
          }
        });
      // HTTP/1.1 on one connection is one request after another: the first answer bytes
      // after a request started are its answer.
      let pending = null;
      client.on("data", (chunk) => {
        const kind = this.countRequests(chunk);
        if (kind) pending = { kind, at: performance.now() };
      });
      upstream.on("data", () => {
        if (!pending) return;
        (this.answerMs[pending.kind] ??= []).push(performance.now() - pending.at);
        pending = null;
      });
      pipe(client, upstream, "toTarget");
      pipe(upstream, client, "fromTarget");
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      for (const s of [client, upstream]) {
        s.on("error", end);
        s.on("close", end);
      }
    });
  }
}

/** A port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}
