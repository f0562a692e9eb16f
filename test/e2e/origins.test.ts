/**
 * `allowedOrigins` on a real node: a TLS-terminating proxy serves the node as
 * https://chat.example.org while requests reach workerd as plain http, so the
 * browser's Origin is not the node's own. Listed origins may use the session
 * cookie for sockets and POSTs; everything else is still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutpostNode } from "../harness";
import { api, ok, roomWs } from "./client";
import { withNode } from "../fixtures";

const PROXY_ORIGIN = "https://chat.example.org";
let node: OutpostNode;
let token: string;
let roomId: string;

beforeAll(async () => {
  ({ node, admin: token } = await withNode({ allowedOrigins: [PROXY_ORIGIN] }));
  roomId = (await ok(201, node.url, "POST", "/api/v1/rooms", { token, body: { name: "Proxied", visibility: "private" } })).id;
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("allowedOrigins", () => {
  it("lets listed origins and the node's own use the cookie, and nobody else", async () => {
    const cookie = `outpost_session=${token}`;
    for (const [i, origin] of [PROXY_ORIGIN, node.url].entries()) {
      const ws = await roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, null, { headers: { cookie, origin } });
      expect((await ws.next("hello")).room.id).toBe(roomId);
      await ws.close();
      expect((await api(node.url, "POST", `/api/v1/rooms/${roomId}/messages`, { headers: { cookie, origin }, body: { clientId: `allowed-${i}`, text: "hi" } })).status).toBe(201);
    }
    for (const [i, origin] of ["http://chat.example.org", "https://evil.example", "null"].entries()) {
      await expect(roomWs(`${node.wsUrl}/api/v1/rooms/${roomId}/socket`, null, { headers: { cookie, origin } })).rejects.toMatchObject({ status: 403 });
      expect((await api(node.url, "POST", `/api/v1/rooms/${roomId}/messages`, { headers: { cookie, origin }, body: { clientId: `refused-${i}`, text: "no" } })).status).toBe(403);
    }
  });
});
