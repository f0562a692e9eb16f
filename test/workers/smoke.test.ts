import { describe, expect, it } from "vitest";
import { api, admin, newUser, newRoom } from "./helpers";
import type { Message } from "../../protocol/models";

describe("smoke", () => {
  it("health, login, room, message", async () => {
    const h = await api("GET", "/healthz");
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ ok: true, node: "local" });
    const a = await newUser("a");
    const room = await newRoom(a.token, "General");
    const sent = await api("POST", `/api/v1/rooms/${room.id}/messages`, { token: a.token, body: { text: "hello", clientId: "c1" } });
    expect(sent.status).toBe(201);
    expect(sent.body.seq).toBe(1);
    const hist = await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: a.token });
    expect(hist.body.messages.map((m: Message) => m.text)).toEqual(["hello"]);
    expect(await admin()).toBeTruthy();
  });
});
