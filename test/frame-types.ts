/**
 * Typing frames in tests, for both sides (test/workers/helpers.ts inside workerd,
 * test/harness.ts and test/e2e/client.ts in Node). The frames themselves are the
 * protocol's (`ServerRoomFrame`, `ServerDeviceFrame`, …); these only pick one out.
 */
import { expect } from "vitest";

/** Every frame has a `type`. */
export type Frame = { type: string };

/** The frame of union `F` whose type is `K` (a frame type that is any string, as plain JSON's, stays as it is). */
export type FrameOf<F extends Frame, K extends F["type"]> = string extends F["type"] ? F : Extract<F, { type: K }>;

/** The frames of union `F` that can answer a request (they have a `replyTo`). */
export type ReplyOf<F extends Frame> = F extends unknown ? ("replyTo" extends keyof F ? F : never) : never;

/** True for a frame that answers `reqId` (for `next(isReplyTo("r1"))`). */
export function isReplyTo(reqId: string) {
  return <F extends Frame>(f: F): f is ReplyOf<F> => "replyTo" in f && f.replyTo === reqId;
}

/**
 * `expect(f.type).toBe(type)`, which also tells TypeScript which frame `f` is from
 * here on (so a test reads `f.rooms` after checking it got an `inbox.sync`).
 */
export function expectFrame<F extends Frame, K extends F["type"]>(f: F, type: K, message?: string): asserts f is FrameOf<F, K> {
  expect(f.type, message).toBe(type);
}
