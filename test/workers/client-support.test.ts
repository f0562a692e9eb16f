/**
 * What the web client needs from the node (issue 15): the limits it checks
 * before sending (`GET /limits`), names of many people in one request
 * (`GET /users?ids=`), the field at fault in a validation error, and the
 * readable "signed in" hint cookie that spares a signed-out page a 401.
 */
import { describe, expect, it } from "vitest";
import { api, login, newUser } from "./helpers";

describe("for the web client", () => {
  it("GET /limits says the longest text in bytes and the largest file", async () => {
    const u = await newUser("limits");
    const r = await api("GET", "/api/v1/limits", { token: u.token });
    expect(r.status).toBe(200);
    expect(r.body.maxTextBytes).toBeGreaterThan(0);
    expect(r.body.maxFileBytes).toBeGreaterThan(0);
    expect(r.body.recallWindowSeconds).toBeGreaterThan(0);
    expect((await api("GET", "/api/v1/limits")).status).toBe(401);
  });

  it("GET /users?ids= answers exactly those people, unknown and malformed ids left out", async () => {
    const a = await newUser("idsa");
    const b = await newUser("idsb");
    const r = await api("GET", `/api/v1/users?ids=${a.id},${b.id},u_nobody0000@local,not-an-id`, { token: a.token });
    expect(r.status).toBe(200);
    expect(r.body.users.map((x: { id: string }) => x.id).sort()).toEqual([a.id, b.id].sort());
    const many = Array.from({ length: 201 }, (_, i) => `u_${i}`).join(",");
    const tooMany = await api("GET", `/api/v1/users?ids=${many}`, { token: a.token });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.field).toBe("ids");
  });

  it("a validation error names the field at fault", async () => {
    const u = await newUser("field");
    const r = await api("POST", "/api/v1/rooms", { token: u.token, body: { name: "   ", visibility: "private", members: [] } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "invalid_request", field: "name" });
    const bad = await api("POST", "/api/v1/rooms", { token: u.token, body: { name: "ok", visibility: "secret", members: [] } });
    expect(bad.body.error.field).toBe("visibility");
  });

  it("sign-in sets the readable signed-in hint; logout removes it", async () => {
    const u = await newUser("hint");
    const r = await login(u.username, u.password);
    expect(r.headers.get("set-cookie") ?? "").toMatch(/outpost_signed_in=1;/);
    expect(r.headers.get("set-cookie") ?? "").not.toMatch(/outpost_signed_in=1;[^,]*HttpOnly/i);
    const out = await api("POST", "/api/v1/auth/logout", { token: r.body.token });
    expect(out.headers.get("set-cookie") ?? "").toMatch(/outpost_signed_in=;/);
  });
});
