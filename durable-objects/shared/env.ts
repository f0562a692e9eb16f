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
  /**
   * The node-wide sign-in budget (worker/routes/auth.ts): password checks a second on
   * average, and how many may come at once after a quiet spell. It keeps a login storm
   * from starving chat; a test node with cheap hashes raises it.
   */
  signInsPerSecond: number;
  signInBurst: number;
  /**
   * PBKDF2-SHA256 iterations for new password hashes (durable-objects/shared/passwords.ts).
   * Each hash records its own count, so changing this never locks anyone out: old hashes
   * are checked at the count they were made with.
   */
  passwordHashIterations: number;
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
  signInsPerSecond: 5,
  signInBurst: 15,
  passwordHashIterations: 600_000,
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
  ROOMS: DurableObjectNamespace<RoomObject>;
  USERS: DurableObjectNamespace<UserObject>;
  DIRECTORY: DurableObjectNamespace<DirectoryObject>;
}

export function limitsOf(env: Env): Limits {
  return { ...DEFAULT_LIMITS, ...(env.LIMITS ?? {}) };
}
