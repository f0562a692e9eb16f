/**
 * `GET /api/v1/cluster`: every node of the organisation with the state of this
 * node's link to it (up, down since when, messages waiting), so a person or an
 * operator sees at once which branch is unreachable.
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { clusterOf, peersOf } from "../../durable-objects/shared/cluster";
import { linkStub } from "../../durable-objects/shared/objects";
import { ClusterViewSchema, type LinkStatus } from "../../protocol/cluster";
import { reply } from "../reply";

export const cluster = new Hono<AppEnv>().get("/", async (c) => {
  const self: LinkStatus = { node: c.env.NODE_NAME, url: new URL(c.req.url).origin, state: "self", since: 0, lastContactAt: null, rttMs: null, peerVersion: c.env.VERSION, queued: 0 };
  const all = clusterOf(c.env);
  if (!all) return reply(c, ClusterViewSchema, { self: c.env.NODE_NAME, nodes: [self] });
  const peers = new Map((await Promise.all(peersOf(c.env).map((p) => linkStub(c.env, p.name).start(p.name)))).map((s) => [s.node, s]));
  const nodes = all.nodes.map((n) => (n.name === all.self ? { ...self, url: n.url } : peers.get(n.name)!));
  return reply(c, ClusterViewSchema, { self: all.self, nodes });
});
