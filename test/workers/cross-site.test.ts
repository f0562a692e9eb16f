/**
 * What a hostile page or client can reach with someone else's credentials or
 * with made-up ids, inside workerd:
 *
 * - Cross-site WebSocket hijacking: a browser sends the session cookie with an
 *   upgrade from any page of the same site (another port of the node's host
 *   included); only the node's own origin may open a socket with it.
 *   Bearer and ticket upgrades carry no ambient credential and are unaffected.
 * - Tickets open sockets and nothing else.
 * - Made-up ids never create an object (`listDurableObjectIds` counts objects
 *   with storage).
 */
import { env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { randomKey } from "../../protocol/ids";
import { api, BASE, isReplyTo, newRoom, newUser, openDeviceSocket, openRoomSocket, unusedRoomId } from "./helpers";

const FOREIGN_ORIGINS = ["http://evil.example", "null", "http://outpost.test:8080", "https://outpost.test"];

async function ticketFor(token: string): Promise<string> {
  const t = await api("POST", "/api/v1/socket-tickets", { token });
  expect(t.status).toBe(201);
  return t.body.ticket;
}

describe("socket upgrades with the session cookie", () => {
  it("open from the node's own origin only", async () => {
    const u = await newUser("cswsh");
    const room = await newRoom(u.token, "private talk");
    const cookie = `outpost_session=${u.token}`;
    for (const origin of FOREIGN_ORIGINS) {
      for (const open of [() => openRoomSocket(room.id, null, "", { cookie, origin }), () => openDeviceSocket(null, "", { cookie, origin })]) {
        const refused = await open();
        expect(refused.status, origin).toBe(403);
        expect(refused.body.error.code).toBe("forbidden");
      }
    }
    // No Origin at all: not a browser, so not a page's ambient cookie either; such clients use a bearer token.
    expect((await openRoomSocket(room.id, null, "", { cookie })).status).toBe(403);
    const own = await openRoomSocket(room.id, null, "", { cookie, origin: BASE });
    expect(own.status).toBe(101);
    expect((await own.socket!.next((f) => f.type === "hello")).room.id).toBe(room.id);
    own.socket!.close();
    const device = await openDeviceSocket(null, "", { cookie, origin: BASE });
    expect(device.status).toBe(101);
    device.socket!.close();
  });

  it("leave bearer and ticket upgrades alone, whatever the Origin", async () => {
    const u = await newUser("bearer-origin");
    const room = await newRoom(u.token, "bearer");
    const bearer = await openRoomSocket(room.id, u.token, "", { origin: "http://evil.example" });
    expect(bearer.status).toBe(101);
    bearer.socket!.close();
    const ticket = await openRoomSocket(room.id, null, `?ticket=${encodeURIComponent(await ticketFor(u.token))}`, { origin: "http://evil.example" });
    expect(ticket.status).toBe(101);
    ticket.socket!.close();
  });
});

describe("socket tickets", () => {
  it("authenticate socket upgrades only, not REST calls dressed as upgrades", async () => {
    const u = await newUser("ticket-rest");
    const room = await newRoom(u.token, "tickets");
    const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
    const ticket = encodeURIComponent(await ticketFor(u.token));
    const post = await api("POST", `/api/v1/rooms/${room.id}/messages?ticket=${ticket}`, { headers: upgrade, body: { clientId: "t1", text: "via ticket" } });
    expect(post.status).toBe(401);
    const read = await api("GET", `/api/v1/rooms/${room.id}/messages?ticket=${ticket}`, { headers: upgrade });
    expect(read.status).toBe(401);
    expect((await api("GET", `/api/v1/rooms/${room.id}/messages`, { token: u.token })).body.messages).toEqual([]);
    // The ticket was not spent by those attempts: it still opens the socket once.
    const socket = await openRoomSocket(room.id, null, `?ticket=${ticket}`);
    expect(socket.status).toBe(101);
    socket.socket!.close();
  });
});

describe("made-up ids", () => {
  it("create no room or user object, over REST, sockets and tokens", async () => {
    const u = await newUser("forger");
    const before = { rooms: (await listDurableObjectIds(env.ROOMS)).length, users: (await listDurableObjectIds(env.USERS)).length };
    for (let i = 0; i < 10; i++) {
      const forged = unusedRoomId();
      expect((await api("GET", `/api/v1/rooms/${forged}`, { token: u.token })).status).toBe(404);
      expect((await api("POST", `/api/v1/rooms/${forged}/messages`, { token: u.token, body: { clientId: `f${i}`, text: "x" } })).status).toBe(404);
      expect((await openRoomSocket(forged, u.token)).status).toBe(404);
      const token = `op1.${btoa(`u_${randomKey()}@local`).replace(/=+$/, "")}.${"s".repeat(43)}`;
      expect((await api("GET", "/api/v1/me", { token })).status).toBe(401);
    }
    const device = await openDeviceSocket(u.token);
    await device.socket!.next((f) => f.type === "inbox.hello");
    device.socket!.send(JSON.stringify({ type: "read", roomId: unusedRoomId(), seq: 1, reqId: "r1" }));
    expect(await device.socket!.next(isReplyTo("r1"))).toMatchObject({ code: "not_found" });
    device.socket!.send(JSON.stringify({ type: "presence.watch", userIds: ["u_0000000000000000@local"], reqId: "r2" }));
    expect((await device.socket!.next(isReplyTo("r2"))).type).toBe("ok");
    device.socket!.close();
    expect((await listDurableObjectIds(env.ROOMS)).length).toBe(before.rooms);
    expect((await listDurableObjectIds(env.USERS)).length).toBe(before.users);
  });
});
