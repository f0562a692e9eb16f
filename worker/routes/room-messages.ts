/** `/rooms/{id}/messages` over REST: send, page history, edit, recall, react. The same operations exist as room socket frames. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson, readQuery } from "../http";
import { reply } from "../reply";
import { EditMessageBody, HistoryQuery, MessageIdSchema, ReactBody, SendMessageBody } from "../../protocol/rest";
import { MessageSchema } from "../../protocol/models";
import { HistoryPageSchema, SentMessageSchema } from "../../protocol/responses";
import { notFound } from "../../durable-objects/shared/app-error";
import { resolveRoom, type RoomStub } from "../../durable-objects/shared/objects";
import { roomParam } from "./room-param";

function messageId(raw: string): string {
  if (!MessageIdSchema.safeParse(raw).success) throw notFound("message");
  return raw;
}

export const roomMessages = new Hono<AppEnv>()
  .post("/", async (c) => {
    const body = await readJson(c, SendMessageBody);
    const result = (await (await resolveRoom(c.env, roomParam(c))).send(c.get("caller"), body)) as Awaited<ReturnType<RoomStub["send"]>> | { queued: true; clientId: string };
    // A room homed on a node this one cannot reach now: the message waits in the link's
    // queue and is delivered once, in order, when the link returns (202).
    if ("queued" in result) return reply(c, SentMessageSchema, { queued: true, clientId: result.clientId }, 202);
    // 201 for a new message; 200 with the original when this clientId was already stored.
    return reply(c, SentMessageSchema, result.message, result.duplicate ? 200 : 201);
  })
  .get("/", async (c) => {
    const q = readQuery(c, HistoryQuery);
    return reply(c, HistoryPageSchema, await (await resolveRoom(c.env, roomParam(c))).history(c.get("caller"), q));
  })
  .get("/:mid", async (c) => {
    return reply(c, MessageSchema, await (await resolveRoom(c.env, roomParam(c))).getMessage(c.get("caller"), messageId(c.req.param("mid"))));
  })
  .patch("/:mid", async (c) => {
    const body = await readJson(c, EditMessageBody);
    return reply(c, MessageSchema, await (await resolveRoom(c.env, roomParam(c))).edit(c.get("caller"), messageId(c.req.param("mid")), body.text));
  })
  .delete("/:mid", async (c) => {
    return reply(c, MessageSchema, await (await resolveRoom(c.env, roomParam(c))).remove(c.get("caller"), messageId(c.req.param("mid"))));
  })
  .post("/:mid/reactions", async (c) => {
    const body = await readJson(c, ReactBody);
    return reply(c, MessageSchema, await (await resolveRoom(c.env, roomParam(c))).react(c.get("caller"), messageId(c.req.param("mid")), body.emoji));
  });
