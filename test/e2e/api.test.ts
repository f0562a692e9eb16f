/**
 * An integrator's walkthrough against a real `workerd serve`: everything a
 * CRM/ERP bridge would do in its first hour with the API, in the order it
 * would do it, with nothing but fetch and the `ws` package.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { api, expectNoFrameYet, expectValidFrames, fence, fullHistory, makeRoom, makeUser, ok, roomSocket, roomWs, type RoomWs, type TestUser } from "./client";

const ADMIN_PASSWORD = "e2e operator passphrase";

let node: OutpostNode;
let fresh: OutpostNode; // started without adminPassword: first-run setup
/** every session token and ticket the node issued during this file, to look for in its logs */
const issued: string[] = [];
const sockets: RoomWs[] = [];

let adminToken: string;
let alice: TestUser;
let bob: TestUser;
let roomId: string;

beforeAll(async () => {
  [node, fresh] = await Promise.all([startNode({ adminPassword: ADMIN_PASSWORD }), startNode()]);
}, 90000);

afterAll(async () => {
  for (const ws of sockets) ws.ws.terminate();
  await Promise.all([node?.stop(), fresh?.stop()]);
});

describe("integrator walkthrough", () => {
  it("admin signs in and creates two people, who sign in themselves", async () => {
    adminToken = await loginAs(node.url, "admin", ADMIN_PASSWORD);
    issued.push(adminToken);
    const me = await ok(200, node.url, "GET", "/api/v1/me", { token: adminToken });
    expect(me).toMatchObject({ username: "admin", isAdmin: true, active: true });

    alice = await makeUser(node.url, adminToken, "alice");
    bob = await makeUser(node.url, adminToken, "bob");
    issued.push(alice.token, bob.token);
    expect(alice.id).toMatch(/^u_[a-z0-9]{16}@local$/);
    expect((await ok(200, node.url, "GET", "/api/v1/me", { token: bob.token })).id).toBe(bob.id);

    // A person who is not an admin may not create accounts; a wrong password is 401.
    const refused = await api(node.url, "POST", "/api/v1/users", { token: alice.token, body: { username: "mallory", password: "12345678910", displayName: "M" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
    const wrong = await api(node.url, "POST", "/api/v1/auth/login", { body: { username: "alice", password: "not her password" } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("unauthorized");
  });

  it("creates a private room, both open room sockets and get hello", async () => {
    const room = await makeRoom(node.url, alice.token, "Deals", [bob.id]);
    roomId = room.id;
    expect(room).toMatchObject({ name: "Deals", kind: "group", visibility: "private", memberCount: 2, role: "owner", lastSeq: 0 });
    expect(roomId).toMatch(/^r_[a-z0-9]{16}@local$/);

    const a = await roomSocket(node.wsUrl, alice.token, roomId);
    const b = await roomSocket(node.wsUrl, bob.token, roomId);
    sockets.push(a.ws, b.ws);
    expect(a.hello).toMatchObject({ type: "hello", userId: alice.id, lastSeq: 0, room: { id: roomId, role: "owner" } });
    expect(b.hello).toMatchObject({ type: "hello", userId: bob.id, lastSeq: 0, room: { id: roomId, role: "member" } });
  });

  it("msg.send → msg.ack (seq 1) to the sender, msg.new to the other; REST history matches", async () => {
    const [a, b] = sockets;
    a.send({ type: "msg.send", clientId: "crm-1", text: "hello @bob, the deal is signed" });
    const ack = await a.next("msg.ack", 10000);
    expect(ack).toMatchObject({ type: "msg.ack", clientId: "crm-1", seq: 1, duplicate: false });
    expect(ack.id).toMatch(/^m_[a-z0-9]{16}$/);
    const news = await b.next("msg.new", 10000);
    expect(news.message).toMatchObject({ id: ack.id, seq: 1, clientId: "crm-1", senderId: alice.id, roomId, text: "hello @bob, the deal is signed", deletedAt: null });
    expect(news.message.mentions.users).toEqual([bob.id]);

    // A retry with the same clientId is acknowledged again, as a duplicate, and stores nothing.
    a.send({ type: "msg.send", clientId: "crm-1", text: "hello @bob, the deal is signed" });
    expect(await a.next("msg.ack", 10000)).toEqual({ type: "msg.ack", clientId: "crm-1", id: ack.id, seq: 1, duplicate: true });

    const history = await ok(200, node.url, "GET", `/api/v1/rooms/${roomId}/messages`, { token: bob.token });
    expect(history.lastSeq).toBe(1);
    expect(history.messages).toEqual([news.message]);
    expect(await fullHistory(node.url, alice.token, roomId)).toEqual([news.message]);
    // The duplicate was not broadcast: the room broadcasts a new message before it acks it,
    // and answers b's fence after that.
    await fence(b);
    expectNoFrameYet(b, (f) => f.type === "msg.new");
  });

  it("edit, react and recall frames each produce msg.updated for everyone", async () => {
    const [a, b] = sockets;
    const [original] = (await ok(200, node.url, "GET", `/api/v1/rooms/${roomId}/messages`, { token: alice.token })).messages;

    a.send({ type: "msg.edit", id: original.id, text: "the deal is signed (v2)", reqId: "e1" });
    const edited = await b.next("msg.updated", 10000);
    expect(edited.message).toMatchObject({ id: original.id, seq: 1, text: "the deal is signed (v2)" });
    expect(edited.message.editedAt).toEqual(expect.any(Number));
    expect(edited.message.version).toBeGreaterThan(original.version);
    expect(await a.next("ok", (f) => f.replyTo === "e1", 10000)).toBeTruthy();
    await a.next("msg.updated", 10000);

    b.send({ type: "msg.react", id: original.id, emoji: "👍", reqId: "r1" });
    const reacted = await a.next("msg.updated", 10000);
    expect(reacted.message.reactions).toEqual([{ emoji: "👍", users: [bob.id] }]);
    expect(reacted.message.version).toBeGreaterThan(edited.message.version);
    await b.next("msg.updated", 10000);

    // Bob may not edit Alice's message: an error frame with a stable code, nothing changes.
    b.send({ type: "msg.edit", id: original.id, text: "hijacked", reqId: "e2" });
    expect(await b.next("error", 10000)).toMatchObject({ code: "forbidden", replyTo: "e2" });

    a.send({ type: "msg.delete", id: original.id });
    const recalled = await b.next("msg.updated", 10000);
    expect(recalled.message).toMatchObject({ id: original.id, text: "", reactions: [], mentions: { users: [], all: false } });
    expect(recalled.message.deletedAt).toEqual(expect.any(Number));
    await a.next("msg.updated", 10000);

    const after = await ok(200, node.url, "GET", `/api/v1/rooms/${roomId}/messages/${original.id}`, { token: bob.token });
    expect(after).toEqual(recalled.message);
  });

  it("room socket errors are frames with stable codes", async () => {
    const [a] = sockets;
    a.send("{not json");
    expect(await a.next("error", 10000)).toMatchObject({ code: "bad_json" });
    a.send({ type: "msg.send", clientId: "x", text: "hi", surprise: 1, reqId: "q1" });
    expect(await a.next("error", 10000)).toMatchObject({ code: "invalid_request", replyTo: "q1" });
    a.send({ type: "ping" });
    expect(await a.next("pong", 10000)).toEqual({ type: "pong" });
  });

  it("opens a DM with POST /api/v1/dms (201 the first time, 200 with the same room after)", async () => {
    const dm = await api(node.url, "POST", "/api/v1/dms", { token: alice.token, body: { userId: bob.id } });
    expect(dm.status).toBe(201);
    expect(dm.body).toMatchObject({ kind: "dm", visibility: "private", memberCount: 2 });
    const again = await api(node.url, "POST", "/api/v1/dms", { token: bob.token, body: { userId: alice.id } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(dm.body.id);

    const sent = await api(node.url, "POST", `/api/v1/rooms/${dm.body.id}/messages`, { token: bob.token, body: { text: "psst", clientId: "dm-1" } });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ seq: 1, senderId: bob.id, text: "psst" });
    const retry = await api(node.url, "POST", `/api/v1/rooms/${dm.body.id}/messages`, { token: bob.token, body: { text: "psst", clientId: "dm-1" } });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(sent.body.id);

    // The admin is not in the DM: it does not exist for them.
    const peek = await api(node.url, "GET", `/api/v1/rooms/${dm.body.id}/messages`, { token: adminToken });
    expect(peek.status).toBe(404);
    expect(peek.body.error.code).toBe("not_found");
  });

  it("error bodies carry stable codes", async () => {
    const unknownRoom = await api(node.url, "GET", "/api/v1/rooms/r_0000000000000000@local", { token: alice.token });
    expect(unknownRoom.status).toBe(404);
    expect(unknownRoom.body).toEqual({ error: { code: "not_found", message: expect.any(String) } });

    const badJson = await api(node.url, "POST", "/api/v1/rooms", { token: alice.token, body: "{\"name\": " });
    expect(badJson.status).toBe(400);
    expect(badJson.body).toEqual({ error: { code: "bad_json", message: expect.any(String) } });

    const unknownField = await api(node.url, "POST", "/api/v1/rooms", { token: alice.token, body: { name: "x", visibility: "private", colour: "red" } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.code).toBe("invalid_request");

    const noAuth = await api(node.url, "GET", "/api/v1/me/rooms");
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.error.code).toBe("unauthorized");

    const wrongType = await api(node.url, "POST", "/api/v1/rooms", { token: alice.token, body: "name=x", contentType: "application/x-www-form-urlencoded" });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.error.code).toBe("unsupported_media_type");

    const noEndpoint = await api(node.url, "GET", "/api/v1/no-such-thing", { token: alice.token });
    expect(noEndpoint.status).toBe(404);
    expect(noEndpoint.body.error.code).toBe("not_found");

    // The room socket of a room you are not in is refused like an unknown room.
    await expect(roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, adminToken)).rejects.toMatchObject({ status: 404 });
    await expect(roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, null)).rejects.toMatchObject({ status: 401 });
  });

  it("puts security headers on responses (success and error alike)", async () => {
    for (const res of [
      await api(node.url, "GET", "/api/v1/me", { token: alice.token }),
      await api(node.url, "GET", "/api/v1/rooms/r_0000000000000000@local", { token: alice.token }),
      await api(node.url, "GET", "/healthz"),
    ]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
    expect((await api(node.url, "GET", "/api/v1/me", { token: alice.token })).headers.get("cache-control")).toBe("no-store");
  });

  it("socket tickets: POST /api/v1/socket-tickets, then connect with ?ticket= and no header (once)", async () => {
    const { ticket, expiresAt } = await ok(201, node.url, "POST", "/api/v1/socket-tickets", { token: bob.token });
    issued.push(ticket);
    expect(typeof ticket).toBe("string");
    expect(expiresAt).toBeGreaterThan(Date.now());
    const url = `${node.wsUrl}/api/v1/rooms/${roomId}/socket?ticket=${encodeURIComponent(ticket)}`;
    const ws = await roomWs(url, null);
    sockets.push(ws);
    expect(await ws.next("hello", 10000)).toMatchObject({ userId: bob.id, room: { id: roomId } });

    // The ticket is single-use, and it is not a bearer token for REST.
    await expect(roomWs(url, null)).rejects.toMatchObject({ status: 401 });
    const rest = await api(node.url, "GET", `/api/v1/me/rooms?ticket=${encodeURIComponent(ticket)}`);
    expect(rest.status).toBe(401);

    // The ticket's socket is a real room socket: it receives what is sent.
    sockets[0].send({ type: "msg.send", clientId: "after-ticket", text: "via ticket?" });
    expect((await ws.next("msg.new", 10000)).message.clientId).toBe("after-ticket");
  });

  it("every frame received on every socket matches the protocol's strict schemas", () => {
    for (const ws of sockets) expectValidFrames(ws, "room");
  });
});

describe("first run without adminPassword", () => {
  it("setup: needed, wrong token 401, right token 201, then done (409)", async () => {
    const url = fresh.url;
    expect(await ok(200, url, "GET", "/api/v1/setup")).toEqual({ needed: true });

    const body = { username: "root", password: "a long enough password", displayName: "Root" };
    const wrong = await api(url, "POST", "/api/v1/setup", { body: { ...body, token: "not-the-setup-token" } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("setup_token_invalid");
    expect(await ok(200, url, "GET", "/api/v1/setup")).toEqual({ needed: true });

    const done = await api(url, "POST", "/api/v1/setup", { body: { ...body, token: fresh.setupToken } });
    expect(done.status).toBe(201);
    expect(typeof done.body.token).toBe("string");
    expect(done.body.user).toMatchObject({ username: "root", isAdmin: true });
    issued.push(done.body.token);
    expect(await ok(200, url, "GET", "/api/v1/me", { token: done.body.token })).toMatchObject({ username: "root", isAdmin: true });

    expect(await ok(200, url, "GET", "/api/v1/setup")).toEqual({ needed: false });
    const second = await api(url, "POST", "/api/v1/setup", { body: { ...body, username: "root2", token: fresh.setupToken } });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("setup_done");

    // Logging out ends the token.
    expect(await ok(200, url, "POST", "/api/v1/auth/logout", { token: done.body.token })).toEqual({ ok: true });
    expect((await api(url, "GET", "/api/v1/me", { token: done.body.token })).status).toBe(401);
  });
});

describe("logs", () => {
  it("never contain a session token or ticket the nodes issued", () => {
    expect(issued.length).toBeGreaterThanOrEqual(5);
    const logs = node.logs() + "\n" + fresh.logs();
    for (const token of issued) {
      const secret = token.split(".").pop()!;
      expect(logs.includes(token), `token ${token.slice(0, 12)}… appears in the logs`).toBe(false);
      expect(logs.includes(secret), `a token secret appears in the logs`).toBe(false);
    }
    expect(logs.includes(fresh.setupToken)).toBe(false);
  });
});
