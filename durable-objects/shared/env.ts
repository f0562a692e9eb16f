/**
 * The bindings every part of the node sees (the Worker and every object), and
 * the node's limits. It lives beside the objects, not in worker/, because the
 * objects need it and must never import the Worker (which imports them).
 * The generated workerd capnp (ops/node-config.mjs) and wrangler.toml provide
 * these bindings; test/config.test.ts checks they agree.
 */
import type { RoomObject } from "../room/room-object";
import type { UserObject } from "../user/user-object";
import type { DirectoryObject } from "../directory/directory-object";
import type { LinkObject } from "../link/link-object";
import type { MirrorObject } from "../mirror/mirror-object";
import type { FileBindings } from "./file-store";

export interface Limits {
  /** largest message text in UTF-8 bytes */
  maxTextBytes: number;
  /** how long an author may recall their own message */
  recallWindowSeconds: number;
  /** largest WebSocket frame a client may send */
  maxFrameBytes: number;
  sessionTtlSeconds: number;
  maxSessionsPerUser: number;
  /** largest upload in bytes */
  maxFileBytes: number;
  /**
   * Per-user message budget, across all the user's rooms: a token bucket refilled at
   * this rate up to messageBurstPerUser (durable-objects/room/send-budget.ts). 0: off.
   */
  messagesPerSecondPerUser: number;
  /** the bucket's size: messages a user may send at once after a quiet spell. 0: off. */
  messageBurstPerUser: number;
  /** group rooms one user may create in any 24 hours; admins are exempt. 0: off. */
  roomsPerUserPerDay: number;
  // Allowed upload types: exact, or "type/" + "*" wildcards; "*" + "/" + "*" allows everything.
  allowedFileTypes: string[];
}

export const DEFAULT_LIMITS: Limits = {
  maxTextBytes: 16384,
  recallWindowSeconds: 900,
  maxFrameBytes: 65536,
  sessionTtlSeconds: 30 * 24 * 3600,
  maxSessionsPerUser: 20,
  maxFileBytes: 100 * 1024 * 1024,
  messagesPerSecondPerUser: 20,
  messageBurstPerUser: 200,
  roomsPerUserPerDay: 100,
  allowedFileTypes: [
    "image/*",
    "audio/*",
    "video/*",
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/pdf",
    "application/json",
    "application/zip",
    "application/x-zip-compressed",
    "application/gzip",
    "application/x-7z-compressed",
    "application/x-tar",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.*",
    "application/vnd.oasis.opendocument.*",
    "application/octet-stream",
  ],
};

/** `FILES` (a node's disk) or `FILES_BUCKET` (R2): see durable-objects/shared/file-store.ts. */
export interface Env extends FileBindings {
  NODE_NAME: string;
  VERSION: string;
  LIMITS?: Partial<Limits>;
  /**
   * Origins besides the node's own whose pages may use the session cookie to act
   * and to open sockets (node config `allowedOrigins`); absent under wrangler.
   */
  ALLOWED_ORIGINS?: string[];
  /** one-time token that lets the first visitor create the admin (from `npm start`) */
  SETUP_TOKEN?: string;
  /** if set at first start, an `admin` account with this password is created */
  ADMIN_PASSWORD?: string;
  /** random per start (from `npm start`), echoed by /healthz so the start-up check knows it reached this process */
  INSTANCE_TOKEN?: string;
  /** this node's Ed25519 public key (base64url), shown by /healthz; empty under wrangler */
  NODE_PUBLIC_KEY?: string;
  /** its private key (PKCS #8, base64url), from the environment of `npm start` only */
  NODE_PRIVATE_KEY?: string;
  /** the organisation's nodes (ops/cluster.mjs); absent when the node runs alone */
  CLUSTER?: { self: string; nodes: { name: string; url: string; publicKey: string }[] };
  /** a network service that reaches exactly the cluster's other nodes */
  PEERS?: Fetcher;
  ROOMS: DurableObjectNamespace<RoomObject>;
  USERS: DurableObjectNamespace<UserObject>;
  DIRECTORY: DurableObjectNamespace<DirectoryObject>;
  /** one per other node: the link's state, heartbeats and queue (durable-objects/link/) */
  LINKS: DurableObjectNamespace<LinkObject>;
  /** this node's copies of rooms homed on other nodes (durable-objects/mirror/) */
  MIRRORS: DurableObjectNamespace<MirrorObject>;
}

export function limitsOf(env: Env): Limits {
  return { ...DEFAULT_LIMITS, ...(env.LIMITS ?? {}) };
}
