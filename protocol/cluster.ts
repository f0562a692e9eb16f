/**
 * The cluster as people and other nodes see it: `GET /api/v1/cluster` (every
 * node with the state of this node's link to it) and the answers of the node
 * link's own endpoints (`/link/v1/…`, signed; see docs/FEDERATION.md).
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

export const ClusterResponse = z.strictObject({
  /** this node's name */
  self: z.string(),
  /** every node of the cluster file, this one included (state `self`); just this node when it runs alone */
  nodes: z.array(LinkStatusSchema),
});
export type ClusterResponse = z.infer<typeof ClusterResponse>;

/** `POST /link/v1/ping` answer. Receivers ignore fields they do not know (nodes of another version). */
export const PingAnswer = z.object({
  node: z.string(),
  version: z.string(),
  protocol: z.number().int(),
  time: z.number(),
  /** the node's directory feed position: pull `GET /link/v1/directory/users` when it moved */
  directoryVersion: z.number().int().min(0),
});
export type PingAnswer = z.infer<typeof PingAnswer>;

/** `GET /link/v1/directory/users?after=V` answer: the node's own accounts changed after V. */
export const DirectoryFeedPage = z.object({
  users: z.array(
    z.object({
      id: z.string(),
      username: z.string(),
      displayName: z.string(),
      isAdmin: z.boolean(),
      active: z.boolean(),
      version: z.number().int(),
    }),
  ),
  /** the feed position this page reaches */
  version: z.number().int().min(0),
  /** more pages follow */
  more: z.boolean(),
});
export type DirectoryFeedPage = z.infer<typeof DirectoryFeedPage>;
