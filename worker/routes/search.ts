/**
 * `/search`: one room or every room the caller is in *now*. Membership is
 * checked by each room at query time, so a person removed a second ago gets
 * nothing from that room. Rooms are searched in parallel and the hits merged by score,
 * then time; the cursor is an offset into the merged list.
 */
import { errorText, log } from "../../durable-objects/shared/log";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { reply } from "../reply";
import { SearchQuery } from "../../protocol/rest";
import { AppError } from "../../durable-objects/shared/app-error";
import { compileQuery } from "../../durable-objects/room/search-tokens";
import type { SearchHit } from "../../protocol/models";
import { SearchResultsSchema } from "../../protocol/responses";
import { asAppError } from "../../durable-objects/shared/app-error";
import { resolveRoom, storedRoom, storedUser } from "../../durable-objects/shared/objects";

const MAX_OFFSET = 500;

export const search = new Hono<AppEnv>().get("/", async (c) => {
  const q = readQuery(c, SearchQuery);
  if (!q.q.isWellFormed()) throw new AppError("invalid_request", "the query is not well-formed Unicode");
  if (!compileQuery(q.q)) throw new AppError("invalid_request", "the query has nothing to search for");
  const offset = q.cursor === undefined ? 0 : /^\d{1,4}$/.test(q.cursor) ? Number(q.cursor) : -1;
  if (offset < 0 || offset > MAX_OFFSET) throw new AppError("invalid_request", "bad cursor");
  const limit = q.limit ?? 20;
  const caller = c.get("caller");
  // One named room comes from the query string (resolved like any id from outside); otherwise
  // the caller's own rooms, as their inbox lists them now.
  const rooms = q.room ? [{ id: q.room, stub: await resolveRoom(c.env, q.room) }] : (await storedUser(c.env, caller.userId).inboxRooms()).map((r) => ({ id: r.roomId, stub: storedRoom(c.env, r.roomId) }));
  const roomIds = rooms.map((r) => r.id);
  const want = offset + limit + 1;
  const results = await Promise.allSettled(
    rooms.map(({ stub }) => stub.search(caller, { q: q.q, from: q.from, before: q.before, after: q.after, hasFile: q.has === "file", limit: want })),
  );
  const hits: SearchHit[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") hits.push(...(r.value as SearchHit[]));
    else if (q.room) throw r.reason; // searching one named room: its error (e.g. not_found) is the answer
    else if (asAppError(r.reason)?.code !== "not_found") log("error", "search.room_failed", { room: roomIds[i], error: errorText(r.reason) });
  });
  hits.sort((a, b) => a.score - b.score || b.message.createdAt - a.message.createdAt);
  const page = hits.slice(offset, offset + limit);
  const next = hits.length > offset + limit && offset + limit <= MAX_OFFSET ? String(offset + limit) : null;
  return reply(c, SearchResultsSchema, { hits: page, cursor: next });
});
