/**
 * The cluster as people see it: `GET /api/v1/cluster`, every node with the
 * state of this node's link to it (the link's own answers are in cluster.ts).
 */
import { z } from "zod";

export const LinkStateSchema = z.enum(["self", "up", "down", "unknown"]);
export type LinkState = z.infer<typeof LinkStateSchema>;

export const LinkStatusSchema = z.strictObject({
  node: z.string(),
  url: z.string(),
  /** `unknown` until the first heartbeat after this node started */
  state: LinkStateSchema,
  /** ms since epoch: since when the link is in this state (for `down`: when the failures began) */
  since: z.number(),
  /** the last time the peer answered */
  lastContactAt: z.number().nullable(),
  /** round trip of the last heartbeat */
  rttMs: z.number().nullable(),
  /** the peer's software version, from its last heartbeat */
  peerVersion: z.string().nullable(),
  /** messages waiting for this link to deliver */
  queued: z.number().int(),
});
export type LinkStatus = z.infer<typeof LinkStatusSchema>;

export const ClusterViewSchema = z.strictObject({
  /** this node's name */
  self: z.string(),
  /** every node of the cluster file, this one included (state `self`); just this node when it runs alone */
  nodes: z.array(LinkStatusSchema),
});
export type ClusterView = z.infer<typeof ClusterViewSchema>;
