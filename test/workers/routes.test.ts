/**
 * The Worker serves exactly the routes protocol/api.ts lists (and docs/API.md
 * describes: test/protocol/api-docs.test.ts), and a route cannot answer with a
 * shape or a schema other than its row's: worker/reply.ts refuses.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import app from "../../worker/index";
import { ROUTES } from "../../protocol/api";
import { UserSchema } from "../../protocol/models";
import { OkSchema } from "../../protocol/responses";
import { LoginBody } from "../../protocol/rest";
import { reply } from "../../worker/reply";
import { readJson } from "../../worker/http";
import federationDoc from "../../docs/FEDERATION.md?raw";

describe("routes", () => {
  it("the Worker serves exactly the routes of protocol/api.ts", () => {
    // One entry per handler: a route with its own middleware (requireAdmin) appears twice.
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL") // middleware for every method
        .filter((r) => r.path !== "/*") // the web client's catch-all
        // The node-to-node link (signed, not for clients): docs/FEDERATION.md lists it,
        // and the test below holds the two together.
        .filter((r) => !r.path.startsWith("/link/v1"))
        .map((r) => `${r.method} ${r.path}`),
    );
    expect([...served].sort()).toEqual(Object.keys(ROUTES).sort());
  });

  it("every node-to-node link route is in docs/FEDERATION.md's endpoint table, and nothing else is", () => {
    const served = new Set(app.routes.filter((r) => r.path.startsWith("/link/v1") && r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:([a-z]+)/g, "{$1}")}`));
    const documented = [...federationDoc.matchAll(/^\| `((?:GET|POST) \/link\/v1\/[^`]*)`/gm)].map((m) => m[1]);
    expect([...served].sort()).toEqual(documented.sort());
  });

  it("reply() refuses an answer with a field its schema does not declare, or a schema the route does not list", async () => {
    const user = { id: "u_aaaaaaaaaaaaaaaa@local", username: "ann", displayName: "Ann", isAdmin: false, active: true };
    const errors: string[] = [];
    const probe = new Hono()
      .get("/api/v1/me", (c) => reply(c, UserSchema, user))
      .get("/api/v1/users/:id", (c) => reply(c, UserSchema, { ...user, passwordHash: "pbkdf2$…" } as typeof user))
      .get("/api/v1/me/settings", (c) => reply(c, OkSchema, { ok: true }))
      .post("/api/v1/me/password", async (c) => reply(c, OkSchema, (await readJson(c, LoginBody)) && { ok: true }));
    probe.onError((err, c) => {
      errors.push(err.message);
      return c.json({ error: { code: "internal", message: "internal error" } }, 500);
    });
    const ok = await probe.request("/api/v1/me");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual(user);
    expect((await probe.request("/api/v1/users/u_aaaaaaaaaaaaaaaa@local")).status).toBe(500);
    expect((await probe.request("/api/v1/me/settings")).status).toBe(500);
    const body = JSON.stringify({ username: "ann", password: "x" });
    expect((await probe.request("/api/v1/me/password", { method: "POST", headers: { "content-type": "application/json" }, body })).status).toBe(500);
    expect(errors).toEqual([
      expect.stringMatching(/GET \/api\/v1\/users\/:id does not match its schema: .*passwordHash/),
      expect.stringMatching(/GET \/api\/v1\/me\/settings: its answer schema is not the one protocol\/api.ts lists/),
      expect.stringMatching(/POST \/api\/v1\/me\/password: its body schema is not the one protocol\/api.ts lists/),
    ]);
  });
});
