/**
 * The objects' `fetch` speaks WebSocket only. The Worker forwards nothing
 * else (worker/routes/sockets.ts refuses a plain request first), so this is
 * what an object answers if something ever does reach it: a plain
 * `invalid_request`, shaped like the Worker's answers, and no socket.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { IDENTITY_HEADERS } from "../../durable-objects/shared/identity";
import { newRoom, newUser } from "./helpers";

describe("an object's fetch without an upgrade", () => {
  it("room and user objects answer 400 invalid_request, even to a member with a session", async () => {
    const u = await newUser("of");
    const room = await newRoom(u.token, "plain fetch");
    const headers = { [IDENTITY_HEADERS.user]: u.id, [IDENTITY_HEADERS.session]: "s", [IDENTITY_HEADERS.username]: u.username };
    for (const stub of [env.ROOMS.get(env.ROOMS.idFromName(room.id)), env.USERS.get(env.USERS.idFromName(u.id))]) {
      const res = await runInDurableObject(stub, (instance: DurableObject) => instance.fetch!(new Request("http://object/socket", { headers })));
      expect(res.status).toBe(400);
      expect(res.webSocket).toBeNull();
      expect(await res.json()).toEqual({ error: { code: "invalid_request", message: "this endpoint speaks WebSocket: send an Upgrade request" } });
    }
  });
});
