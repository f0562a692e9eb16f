/**
 * `POST /link/v1/erasures {userId}`: a person homed on the sending node is
 * being erased there (GDPR); this node erases them from the rooms homed here
 * (durable-objects/directory/erasure-foreign.ts) and answers how far it got.
 * The sender asks again until the answer is `done` (erasure-peers.ts there).
 *
 * A node speaks only for its own people (the rule of every forwarded action,
 * link.ts `mayActFor`): an erasure of anyone not homed on the sender is
 * refused (403), so a node cannot wipe another branch's colleague.
 */
import { Hono } from "hono";
import { LinkErasureRequest, type LinkErasureAnswer } from "../../protocol/cluster";
import { USER_ID_RE, homeNode } from "../../protocol/ids";
import { directoryStub } from "../../durable-objects/shared/objects";
import { LINK_TIMEOUT_MS } from "../../durable-objects/shared/cluster";
import { linkReply, type LinkEnv } from "./link-reply";

/** How long the answer waits for the job: well inside the sender's link timeout (the job goes on after it). */
const ANSWER_WITHIN_MS = Math.floor(LINK_TIMEOUT_MS / 2);

export const linkErasures = new Hono<LinkEnv>().post("/", async (c) => {
  let json: unknown;
  try {
    json = JSON.parse(c.get("linkBody") || "null");
  } catch {
    json = null;
  }
  const parsed = LinkErasureRequest.safeParse(json);
  if (!parsed.success || !USER_ID_RE.test(parsed.data.userId)) return linkReply(c, 400, { error: { code: "invalid_request", message: "not an erasure request: {userId}" } });
  const from = c.get("linkFrom");
  const { userId } = parsed.data;
  if (homeNode(userId) !== from) return linkReply(c, 403, { error: { code: "forbidden", message: "a node erases only its own users" } });
  return linkReply(c, 200, (await directoryStub(c.env).eraseForeignUser(userId, from, ANSWER_WITHIN_MS)) satisfies LinkErasureAnswer);
});
