/**
 * The links to the other nodes start with the node: the first request this
 * isolate serves (`npm start`'s own health check, at the latest) arms every
 * LinkObject's heartbeat. Their alarms then keep going by themselves, across
 * restarts too (an alarm that came due while the node was down fires at start).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import { peersOf } from "../durable-objects/shared/cluster";
import { linkStub } from "../durable-objects/shared/objects";

let started = false;

export function startLinks(): MiddlewareHandler<AppEnv> {
  return async function startLinks(c, next) {
    if (!started) {
      started = true;
      const peers = peersOf(c.env);
      if (peers.length) {
        c.executionCtx.waitUntil(
          Promise.allSettled(peers.map((p) => linkStub(c.env, p.name).start(p.name))).then((results) => {
            if (results.some((r) => r.status === "rejected")) started = false; // try again at the next request
          }),
        );
      }
    }
    await next();
  };
}
