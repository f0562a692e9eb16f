/**
 * A TCP proxy the cluster tests put between two nodes, standing in for the WAN
 * link of a branch office: `cut()` drops every connection and refuses new ones
 * (a cable pulled, a VPN down), `blackhole()` keeps accepting connections but
 * lets nothing through either way (a route that silently drops packets: the
 * worse case, as every request waits for its timeout), `reject()` resets
 * every connection as it opens and counts them (a peer refusing: each attempt
 * fails at once, and `rejected` says how many there were), `heal()` lets
 * connections through again,
 * `delay(ms)` holds every chunk in both directions that long (a long link).
 * `bytes` counts what crossed, per direction, for the bench's bytes-per-message.
 *
 * @example
 *   const proxy = await LinkProxy.start({ targetPort: shanghai.port });
 *   // the cluster file lists shanghai at http://127.0.0.1:${proxy.port}
 *   proxy.cut();  ...  await proxy.heal();
 */
import net from "node:net";
import { freePort } from "../harness";

export { freePort };

export class LinkProxy {
  /** The port it listens on; fixed once start() returns (heal() listens on it again). */
  port: number;
  readonly bytes = { toTarget: 0, fromTarget: 0 };
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  private delayMs = 0;
  private up = true;
  private holed = false;
  private rejecting = false;
  /** connections reset by reject() mode: how often the node tried to reach the peer */
  rejected = 0;

  private constructor(port: number, private targetPort: number, private readonly targetHost: string) {
    this.port = port;
    this.server = this.makeServer();
  }

  /**
   * A proxy on `port`, or on a port the system picks as it listens (never one
   * picked a moment earlier and let go, which anyone else may have taken since),
   * forwarding to `targetHost:targetPort`.
   */
  static async start(o: { targetPort: number; targetHost?: string; port?: number }): Promise<LinkProxy> {
    const proxy = new LinkProxy(o.port ?? 0, o.targetPort, o.targetHost ?? "127.0.0.1");
    await proxy.listen();
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** The port it forwards to. */
  get target(): number {
    return this.targetPort;
  }

  /** Point the proxy at another port (a node restarted elsewhere). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Drop every open connection and refuse new ones until heal(). */
  cut(): Promise<void> {
    this.up = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Keep connections open and accept new ones, but forward nothing: requests
   * in flight and new ones get no answer, no reset, until heal().
   */
  blackhole(): void {
    this.holed = true;
  }

  /** Reset every open connection and every new one at once, counting the attempts, until heal(). */
  reject(): void {
    this.rejecting = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async heal(): Promise<void> {
    this.rejecting = false;
    if (this.holed) {
      // What was swallowed is gone: reset those connections, as a peer's TCP would once the route is back.
      this.holed = false;
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    }
    if (this.up) return;
    this.up = true;
    this.server = this.makeServer();
    await this.listen();
  }

  async close(): Promise<void> {
    if (this.up) await this.cut();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  private makeServer(): net.Server {
    return net.createServer((client) => {
      if (!this.up) return client.destroy();
      if (this.rejecting) {
        this.rejected++;
        return client.resetAndDestroy();
      }
      const upstream = net.connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const pipe = (from: net.Socket, to: net.Socket, count: "toTarget" | "fromTarget") => {
        from.on("data", (chunk) => {
          if (this.holed) return;
          this.bytes[count] += chunk.length;
          if (this.delayMs > 0) {
            from.pause();
            setTimeout(() => {
              if (!to.destroyed) to.write(chunk);
              from.resume();
            }, this.delayMs);
          } else if (!to.destroyed && !this.holed) to.write(chunk);
        });
      };
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
