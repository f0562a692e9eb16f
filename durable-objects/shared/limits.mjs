/**
 * The node's limits: one zod schema holds every limit, its default and its rule.
 *
 * Read by both sides of the node, so it is plain JavaScript with JSDoc types:
 * `ops/node-config.mjs` (Node, no TypeScript loader) validates a node's
 * `limits` with it before the node starts and renders the result as the
 * Worker's `LIMITS` binding; the Worker and the objects fill in the defaults
 * through `limitsOf(env)` (durable-objects/shared/env.ts). wrangler.toml's
 * `[vars] LIMITS` and vitest.workers.config.ts name only values; a limit they
 * leave out takes its default here (test/config.test.ts checks wrangler.toml's
 * values are these defaults).
 *
 * Adding a limit is one line in `LimitsSchema` below:
 *     myLimit: positive(123),            // a size or count, at least 1
 *     myQuota: zeroTurnsOff(45),         // a quota that 0 turns off
 * (or any zod schema with a `.default(…)` and an error message that reads
 * after "limits.myLimit: "). Its type, its default, the node's validation and
 * the binding follow from that line.
 *
 * @example
 *   parseLimits({ maxTextBytes: 4000 }).maxFrameBytes   // 65536, the default
 *   parseLimits({ maxTextBytes: -1 })
 *   // throws Error("limits.maxTextBytes: must be a positive integer, got -1")
 */
import { z } from "zod";

/** workerd closes a socket with 1009 past 32 MiB per message; a larger frame limit could never be reached. */
export const WORKERD_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** @param {unknown} value */
const shown = (value) => (value === undefined ? "nothing" : JSON.stringify(value));

/**
 * An integer of at least 1 (a size, a count, a duration in seconds).
 * @param {number} fallback
 */
function positive(fallback) {
  /** @param {{ input?: unknown }} issue */
  const error = (issue) => `must be a positive integer, got ${shown(issue.input)}`;
  return z.int({ error }).min(1, { error }).default(fallback);
}

/**
 * A per-user quota: an integer of at least 1, or 0 to turn it off.
 * @param {number} fallback
 */
function zeroTurnsOff(fallback) {
  /** @param {{ input?: unknown }} issue */
  const error = (issue) => `must be a positive integer, or 0 to turn it off, got ${shown(issue.input)}`;
  return z.int({ error }).min(0, { error }).default(fallback);
}

/** A whole number of milliseconds from 0 to `max`. @param {number} max @param {number} fallback */
function msUpTo(max, fallback) {
  /** @param {{ input?: unknown }} issue */
  const error = (issue) => `must be a whole number of ms from 0 to ${max}, got ${shown(issue.input)}`;
  return z.int({ error }).min(0, { error }).max(max, { error }).default(fallback);
}

const MEDIA_TYPES_ERROR = 'must be a non-empty list of media types like "image/png" or "image/*"';

/** Upload types the Worker accepts unless a node names its own (exact, or `type/` + `*`). */
const DEFAULT_FILE_TYPES = Object.freeze([
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
]);

export const LimitsSchema = z
  .strictObject(
    {
      /** largest message text in UTF-8 bytes */
      maxTextBytes: positive(16384),
      /** how long an author may recall their own message */
      recallWindowSeconds: positive(900),
      /** largest WebSocket frame a client may send */
      maxFrameBytes: positive(65536).refine((n) => n <= WORKERD_MAX_MESSAGE_BYTES, {
        error: `at most ${WORKERD_MAX_MESSAGE_BYTES} (workerd closes larger WebSocket messages itself)`,
      }),
      sessionTtlSeconds: positive(30 * 24 * 3600),
      maxSessionsPerUser: positive(20),
      /** largest upload in bytes */
      maxFileBytes: positive(100 * 1024 * 1024),
      /**
       * Per-user message budget, across all the user's rooms: a token bucket refilled at
       * this rate up to messageBurstPerUser (durable-objects/room/send-budget.ts).
       */
      messagesPerSecondPerUser: zeroTurnsOff(20),
      /** the bucket's size: messages a user may send at once after a quiet spell */
      messageBurstPerUser: zeroTurnsOff(200),
      /** group rooms one user may create in any 24 hours (durable-objects/directory/room-quota.ts); admins are exempt */
      roomsPerUserPerDay: zeroTurnsOff(100),
      /**
       * The node-wide sign-in budget (worker/routes/auth.ts): password checks a second on
       * average, and how many may come at once after a quiet spell. It keeps a login storm
       * from starving chat; a test node with cheap hashes raises it.
       */
      signInsPerSecond: positive(5),
      signInBurst: positive(15),
      /**
       * PBKDF2-SHA256 iterations for new password hashes (durable-objects/shared/passwords.ts).
       * Each hash records its own count, so changing this never locks anyone out: old hashes
       * are checked at the count they were made with.
       */
      passwordHashIterations: positive(600_000),
      /**
       * How long a mirror gathers the pushes of its room's home before writing them in one
       * commit and answering once (durable-objects/mirror/link-socket.ts), in ms; 0 writes
       * and answers each push at once. Members on the mirror's node are told at once either way.
       * At most 3000: the home gives up on an answer after 4 s (shared/cluster.ts LINK_TIMEOUT_MS).
       */
      mirrorWriteDelayMs: msUpTo(3000, 25),
      /** allowed upload types: exact, or "type/" + "*" wildcards; "*" + "/" + "*" allows everything */
      allowedFileTypes: z
        .array(z.string({ error: MEDIA_TYPES_ERROR }).regex(/^[a-z0-9.+*-]+\/[a-z0-9.+*-]+$/, { error: MEDIA_TYPES_ERROR }), {
          error: MEDIA_TYPES_ERROR,
        })
        .min(1, { error: MEDIA_TYPES_ERROR })
        .default(() => [...DEFAULT_FILE_TYPES]),
    },
    {
      /** @param {{ code: string, input?: unknown }} issue */
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? "unknown limit"
          : `must be an object of limit names to values, got ${shown(issue.input)}`,
    },
  )
  .superRefine((limits, ctx) => {
    if (limits.maxTextBytes >= limits.maxFrameBytes) {
      ctx.addIssue({
        code: "custom",
        path: ["maxTextBytes"],
        message:
          `${limits.maxTextBytes} must be smaller than limits.maxFrameBytes (${limits.maxFrameBytes}), ` +
          "so that a message's text fits in one WebSocket frame",
      });
    }
  });

/** @typedef {z.output<typeof LimitsSchema>} Limits  every limit, defaults filled in */
/** @typedef {z.input<typeof LimitsSchema>} LimitsInput  what a node's config or a binding may give: any subset */

/** The names of every limit, in the schema's order. */
export const LIMIT_NAMES = Object.freeze(Object.keys(LimitsSchema.shape));

/** Every limit at its default. */
export const DEFAULT_LIMITS = Object.freeze(LimitsSchema.parse({}));

/**
 * `given` checked and completed with the defaults; throws an Error whose message is one
 * line naming the first wrong limit, e.g. `limits.maxTextBytes: must be a positive
 * integer, got "16k"`, or `limits.peers: unknown limit (known: maxTextBytes, …)`.
 *
 * @param {unknown} given  undefined or null: every default
 * @param {string} [label]  names the whole object in an error about its shape
 * @returns {Limits}
 */
export function parseLimits(given, label = "limits") {
  const result = LimitsSchema.safeParse(given ?? {});
  if (result.success) return result.data;
  throw new Error(limitsProblem(result.error.issues[0], label));
}

/**
 * One line for one issue of LimitsSchema (its path relative to the limits object).
 * Shared with the node description (ops/node-config.mjs), which holds the limits.
 *
 * @param {z.core.$ZodIssue} issue
 * @param {string} label  names the whole object in an error about its shape
 */
export function limitsProblem(issue, label) {
  if (issue.code === "unrecognized_keys") {
    return `limits.${issue.keys[0]}: ${issue.message} (known: ${LIMIT_NAMES.join(", ")})`;
  }
  if (issue.path.length === 0) return `${label}: ${issue.message}`;
  // A list's element (allowedFileTypes[2]) is reported as the whole list: its message says what a list must hold.
  return `limits.${String(issue.path[0])}: ${issue.message}`;
}
