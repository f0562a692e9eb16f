/**
 * `POST /link/v1/presence`: a node reports its own people's presence to this
 * one (durable-objects/link/presence-out.ts on the sender, presence-in.ts
 * here). Mounted under the signed `/link/v1` app (link.ts), so the sender is
 * a node of the cluster file, proven by its signature.
 *
 * A node speaks only for the people homed on it: a report naming anyone else
 * is refused whole (403), so a node cannot make another branch's colleague
 * look online. Ids this node's directory does not know are dropped: a report
 * creates no object, no file and no watcher entry.
 */
import { Hono } from "hono";
import { LinkPresenceReport } from "../../protocol/cluster";
import { USER_ID_RE, homeNode } from "../../protocol/ids";
import { directoryStub, linkStub } from "../../durable-objects/shared/objects";
import { linkReply, type LinkEnv } from "./link-reply";

/** the directory answers at most this many ids per call */
const LOOKUP_SLICE = 500;

export const linkPresence = new Hono<LinkEnv>().post("/", async (c) => {
  let json: unknown;
  try {
    json = JSON.parse(c.get("linkBody") || "null");
  } catch {
    json = null;
  }
  const parsed = LinkPresenceReport.safeParse(json);
  if (!parsed.success || !parsed.data.items.every((i) => USER_ID_RE.test(i.userId))) return linkReply(c, 400, { error: { code: "invalid_request", message: "not a presence report" } });
  const from = c.get("linkFrom");
  const report = parsed.data;
  if (report.items.some((i) => homeNode(i.userId) !== from)) return linkReply(c, 403, { error: { code: "forbidden", message: "a node reports presence only of its own users" } });
  const ids = report.items.map((i) => i.userId);
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += LOOKUP_SLICE) for (const u of await directoryStub(c.env).getUsers(ids.slice(i, i + LOOKUP_SLICE))) known.add(u.id);
  const answer = await linkStub(c.env, from).applyPresence(from, { ...report, items: report.items.filter((i) => known.has(i.userId)) });
  return linkReply(c, answer.accepted ? 200 : 503, answer);
});
