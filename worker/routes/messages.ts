/** Messages over REST: send, page history, edit, recall, react. The same operations exist as room socket frames. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { EditMessageBody, HistoryQuery, MessageIdSchema, ReactBody, SendMessageBody } from "../../protocol/rest";
import { notFound } from "../../durable-objects/shared/app-error";
import { resolveRoom, type RoomStub } from "../../durable-objects/shared/objects";

function messageId(raw: string): string {
  if (!MessageIdSchema.safeParse(raw).success) throw notFound("message");
  return raw;
}

export const messages = new Hono<AppEnv>()
  .post("/rooms/:id/messages", async (c) => {
    const body = await readJson(c, SendMessageBody);
    const result = (await (await resolveRoom(c.env, c.req.param("id"))).send(c.get("caller"), body)) as Awaited<ReturnType<RoomStub["send"]>> | { queued: true; clientId: string };
    // A room homed on a node this one cannot reach now: the message waits in the link's
    // queue and is delivered once, in order, when the link returns (202).
    if ("queued" in result) return c.json({ queued: true, clientId: result.clientId }, 202);
    // 201 for a new message; 200 with the original when this clientId was already stored.
    return c.json(result.message, result.duplicate ? 200 : 201);
  })
  .get("/rooms/:id/messages", async (c) => {
    const q = readQuery(c, HistoryQuery);
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).history(c.get("caller"), q));
  })
  .get("/rooms/:id/messages/:mid", async (c) => {
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).getMessage(c.get("caller"), messageId(c.req.param("mid"))));
  })
  .patch("/rooms/:id/messages/:mid", async (c) => {
    const body = await readJson(c, EditMessageBody);
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).edit(c.get("caller"), messageId(c.req.param("mid")), body.text));
  })
  .delete("/rooms/:id/messages/:mid", async (c) => {
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).remove(c.get("caller"), messageId(c.req.param("mid"))));
  })
  .post("/rooms/:id/messages/:mid/reactions", async (c) => {
    const body = await readJson(c, ReactBody);
    return c.json(await (await resolveRoom(c.env, c.req.param("id"))).react(c.get("caller"), messageId(c.req.param("mid")), body.emoji));
  });
