/**
 * Sign-in, sessions and the rules around them: cookies, bearer tokens, the
 * Origin check for cookie requests, throttling, admin-only account management,
 * the session cap, password changes, first-run setup and socket tickets.
 */
import { describe, expect, it } from "vitest";
import { api, admin, freshIp, login, newRoom, newSession, newUser, openRoomSocket, ADMIN_PASSWORD, BASE } from "./helpers";
import type { InboxRoom } from "../../protocol/device";

const me = (token: string) => api("GET", "/api/v1/me", { token });

describe("login", () => {
  it("returns a token and the user for the right password", async () => {
    const u = await newUser("login");
    const r = await login(u.username, u.password);
    expect(r.status).toBe(200);
    expect(r.body.token).toMatch(/^op1\./);
    expect(r.body.user).toMatchObject({ id: u.id, username: u.username, isAdmin: false });
    expect((await me(r.body.token)).body.id).toBe(u.id);
  });

  it("answers a wrong password and an unknown user with the same error", async () => {
    const u = await newUser("wrongpw");
    const ip = freshIp();
    const wrong = await login(u.username, "not the password", ip);
    const unknown = await login(`nobody${Date.now().toString(36)}`, "not the password", ip);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.code).toBe("unauthorized");
    // Same body: an attacker cannot tell which usernames exist.
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });

  it("sets an HttpOnly, SameSite=Strict session cookie on path /", async () => {
    const u = await newUser("cookie");
    const r = await login(u.username, u.password);
    const cookie = r.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(new RegExp(`^outpost_session=${r.body.token.replace(/\./g, "\\.")};`));
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).toMatch(/;\s*Path=\/(;|$)/);
  });

  it("accepts the session as a bearer token and as a cookie", async () => {
    const u = await newUser("both");
    const bearer = await me(u.token);
    expect(bearer.status).toBe(200);
    expect(bearer.body.id).toBe(u.id);
    const cookie = await api("GET", "/api/v1/me", { headers: { cookie: `outpost_session=${u.token}` } });
    expect(cookie.status).toBe(200);
    expect(cookie.body.id).toBe(u.id);
    const none = await api("GET", "/api/v1/me");
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("unauthorized");
    const garbage = await me("op1.bm9ib2R5.not-a-real-secret-but-long-enough-to-be-parsed-aaaa");
    expect(garbage.status).toBe(401);
  });

  it("refuses a state-changing cookie request from a foreign Origin, allows same-origin", async () => {
    const u = await newUser("origin");
    const cookie = `outpost_session=${u.token}`;
    const body = { name: "csrf target", visibility: "private" };
    const foreign = await api("POST", "/api/v1/rooms", { headers: { cookie, origin: "https://evil.example" }, body });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe("forbidden");
    const crossSite = await api("POST", "/api/v1/rooms", { headers: { cookie, "sec-fetch-site": "cross-site" }, body });
    expect(crossSite.status).toBe(403);
    // Nothing was created by the refused requests.
    expect((await api("GET", "/api/v1/me/rooms", { token: u.token })).body.rooms).toEqual([]);
    const same = await api("POST", "/api/v1/rooms", { headers: { cookie, origin: BASE }, body });
    expect(same.status).toBe(201);
    expect((await api("GET", "/api/v1/me/rooms", { token: u.token })).body.rooms.map((r: InboxRoom) => r.roomId)).toEqual([same.body.id]);
  });

  it("logout ends the session: the token is refused afterwards", async () => {
    const u = await newUser("logout");
    const other = await newSession(u);
    const out = await api("POST", "/api/v1/auth/logout", { token: u.token });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie") ?? "").toMatch(/outpost_session=;|Max-Age=0/i);
    const after = await me(u.token);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("unauthorized");
    // Only that session ended.
    expect((await me(other)).status).toBe(200);
    expect((await api("POST", "/api/v1/auth/logout", { token: u.token })).status).toBe(401);
  });
});

describe("throttling", () => {
  it("refuses a username after 5 failed logins (429 + Retry-After) while other users still sign in", async () => {
    const victim = await newUser("victim");
    const bystander = await newUser("bystander");
    const ip = freshIp();
    for (let i = 0; i < 5; i++) {
      const r = await login(victim.username, `wrong password ${i}`, ip);
      expect(r.status).toBe(401);
    }
    // Even the right password is refused now, from any address.
    const limited = await login(victim.username, victim.password, freshIp());
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // The lock is per username: someone else signs in from the same address.
    const other = await login(bystander.username, bystander.password, ip);
    expect(other.status).toBe(200);
    // Existing sessions of the throttled user keep working.
    expect((await me(victim.token)).status).toBe(200);
  });
});

describe("accounts", () => {
  it("only admins create users", async () => {
    const u = await newUser("plain");
    const username = `made${Date.now().toString(36)}`;
    const r = await api("POST", "/api/v1/users", { token: u.token, body: { username, password: "long enough pw", displayName: "X" } });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    expect((await api("GET", `/api/v1/users?q=${username}`, { token: u.token })).body.users).toEqual([]);
    expect((await login(username, "long enough pw", freshIp())).status).toBe(401);
  });

  it("finds people by what they typed, '_' and '%' included (no wildcards)", async () => {
    const u = await newUser("finder");
    const stamp = Date.now().toString(36);
    const token = await admin();
    for (const [username, displayName] of [[`a_b${stamp}`, "Under Score"], [`axb${stamp}`, "Ax B"], [`pct${stamp}`, `100% Li ${stamp}`], [`pcx${stamp}`, `1000 Li ${stamp}`]]) {
      expect((await api("POST", "/api/v1/users", { token, body: { username, password: "long enough pw", displayName } })).status).toBe(201);
    }
    const found = async (q: string) => ((await api("GET", `/api/v1/users?q=${encodeURIComponent(q)}`, { token: u.token })).body.users as { username: string }[]).map((x) => x.username);
    expect(await found(`a_b${stamp}`)).toEqual([`a_b${stamp}`]);
    expect(await found(`100% Li ${stamp}`)).toEqual([`pct${stamp}`]);
    expect(await found(`A_B${stamp}`)).toEqual([`a_b${stamp}`]); // case as before: ASCII letters fold
  });

  it("refuses a duplicate username with 409 username_taken", async () => {
    const u = await newUser("dup");
    const r = await api("POST", "/api/v1/users", { token: await admin(), body: { username: u.username, password: "another password", displayName: "Dup" } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("username_taken");
    // The original account is untouched.
    expect((await login(u.username, u.password)).status).toBe(200);
  });

  it("issues user ids of the form u_<16>@local", async () => {
    const u = await newUser("idform");
    expect(u.id).toMatch(/^u_[a-z0-9]{16}@local$/);
  });

  it("deactivation ends sessions and refuses login; reactivation allows login again", async () => {
    const u = await newUser("deact");
    const adminToken = await admin();
    const d = await api("POST", `/api/v1/users/${u.id}/deactivate`, { token: adminToken });
    expect(d.status).toBe(200);
    expect(d.body.active).toBe(false);
    expect((await me(u.token)).status).toBe(401);
    const refused = await login(u.username, u.password, freshIp());
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("unauthorized");

    const re = await api("POST", `/api/v1/users/${u.id}/reactivate`, { token: adminToken });
    expect(re.status).toBe(200);
    expect(re.body.active).toBe(true);
    const back = await login(u.username, u.password);
    expect(back.status).toBe(200);
    expect((await me(back.body.token)).status).toBe(200);
    // Sessions ended by the deactivation stay ended.
    expect((await me(u.token)).status).toBe(401);
  });

  it("a non-admin cannot deactivate anyone", async () => {
    const a = await newUser("nda");
    const b = await newUser("ndb");
    const r = await api("POST", `/api/v1/users/${b.id}/deactivate`, { token: a.token });
    expect(r.status).toBe(403);
    expect((await me(b.token)).status).toBe(200);
  });
});

describe("sessions", () => {
  it("the 6th login evicts the oldest session (cap 5)", async () => {
    const u = await newUser("cap"); // session 1: u.token
    const later: string[] = [];
    for (let i = 0; i < 4; i++) later.push(await newSession(u)); // sessions 2-5
    expect((await me(u.token)).status).toBe(200);
    expect((await api("GET", "/api/v1/me/sessions", { token: u.token })).body.sessions).toHaveLength(5);
    later.push(await newSession(u)); // session 6
    expect((await me(u.token)).status).toBe(401);
    for (const t of later) expect((await me(t)).status).toBe(200);
    expect((await api("GET", "/api/v1/me/sessions", { token: later[0] })).body.sessions).toHaveLength(5);
  });

  it("a password change revokes the other sessions but keeps the current one", async () => {
    const u = await newUser("pwchange");
    const other = await newSession(u);
    const r = await api("POST", "/api/v1/me/password", { token: u.token, body: { currentPassword: u.password, newPassword: "a brand new password" } });
    expect(r.status).toBe(200);
    expect((await me(u.token)).status).toBe(200);
    expect((await me(other)).status).toBe(401);
    expect((await login(u.username, "a brand new password")).status).toBe(200);
    expect((await login(u.username, u.password, freshIp())).status).toBe(401);
  });

  it("a password change with the wrong current password is refused and changes nothing", async () => {
    const u = await newUser("pwwrong");
    const other = await newSession(u);
    const r = await api("POST", "/api/v1/me/password", { token: u.token, body: { currentPassword: "not my password", newPassword: "a brand new password" } });
    expect(r.status).toBe(403);
    expect((await me(other)).status).toBe(200);
    expect((await login(u.username, u.password)).status).toBe(200);
  });
});

describe("setup", () => {
  it("is not needed when ADMIN_PASSWORD created the admin, and cannot be run again", async () => {
    await admin();
    const g = await api("GET", "/api/v1/setup");
    expect(g.status).toBe(200);
    expect(g.body).toEqual({ needed: false });
    const p = await api("POST", "/api/v1/setup", { body: { token: "test-setup-token-0123456789", username: `late${Date.now().toString(36)}`, password: "a long password" } });
    expect(p.status).toBe(409);
    expect(p.body.error.code).toBe("setup_done");
    expect((await login("admin", ADMIN_PASSWORD)).status).toBe(200);
  });
});

describe("socket tickets", () => {
  it("a ticket opens a room socket once, without any other credential", async () => {
    const u = await newUser("ticket");
    const room = await newRoom(u.token, "ticketed");
    const t = await api("POST", "/api/v1/socket-tickets", { token: u.token });
    expect(t.status).toBe(201);
    expect(typeof t.body.ticket).toBe("string");
    expect(t.body.expiresAt).toBeGreaterThan(Date.now());

    const first = await openRoomSocket(room.id, null, `?ticket=${encodeURIComponent(t.body.ticket)}`);
    expect(first.status).toBe(101);
    const hello = await first.socket!.next((f) => f.type === "hello");
    expect(hello.userId).toBe(u.id);
    expect(hello.room.id).toBe(room.id);
    first.socket!.close();

    const second = await openRoomSocket(room.id, null, `?ticket=${encodeURIComponent(t.body.ticket)}`);
    expect(second.status).toBe(401);
    expect(second.body.error.code).toBe("unauthorized");
  });

  it("a ticket is not a session token for REST", async () => {
    const u = await newUser("ticketrest");
    const t = await api("POST", "/api/v1/socket-tickets", { token: u.token });
    expect((await me(t.body.ticket)).status).toBe(401);
    expect((await api("GET", `/api/v1/me?ticket=${encodeURIComponent(t.body.ticket)}`)).status).toBe(401);
    // still unused, so it still opens a socket
    const room = await newRoom(u.token, "ticketed2");
    const s = await openRoomSocket(room.id, null, `?ticket=${encodeURIComponent(t.body.ticket)}`);
    expect(s.status).toBe(101);
    s.socket!.close();
  });

  it("a ticket dies with its session", async () => {
    const u = await newUser("ticketlogout");
    const room = await newRoom(u.token, "ticketed3");
    const t = await api("POST", "/api/v1/socket-tickets", { token: u.token });
    await api("POST", "/api/v1/auth/logout", { token: u.token });
    const s = await openRoomSocket(room.id, null, `?ticket=${encodeURIComponent(t.body.ticket)}`);
    expect(s.status).toBe(401);
  });
});
