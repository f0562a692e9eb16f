/**
 * People administration over REST, in workerd: the accounts list (every
 * state, paged, searched), making and unmaking administrators with the
 * last-admin rule, password resets, one-time invite links (single use,
 * expiry, stored hashed), deactivation closing the person's sockets, and the
 * public directory's member counts.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Account, PublicRoom } from "../../protocol/models";
import { admin, api, connectDevice, eventually, freshIp, login, newRoom, newUser } from "./helpers";

const directory = () => env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));
let n = 0;
const uniqueName = (prefix: string) => `${prefix}${Date.now().toString(36)}${(n++).toString(36)}`.slice(0, 32);

/** An account created without a password, and an invite link for it. */
async function invited(displayName = "新同事 Newcomer") {
  const token = await admin();
  const username = uniqueName("inv");
  const created = await api("POST", "/api/v1/users", { token, body: { username, displayName } });
  expect(created.status).toBe(201);
  const invite = await api("POST", `/api/v1/users/${created.body.id}/invite`, { token });
  expect(invite.status).toBe(201);
  expect(invite.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return { id: created.body.id as string, username, token: invite.body.token as string, expiresAt: invite.body.expiresAt as number };
}

describe("accounts list (admin)", () => {
  it("lists accounts in every state, pages by username and searches names in any script", async () => {
    const token = await admin();
    const a = await newUser("acclist");
    await api("POST", `/api/v1/users/${a.id}/deactivate`, { token });
    const waiting = await invited("陈梅 Chen Mei");
    const all: Account[] = [];
    for (let cursor: string | null = null, pages = 0; pages < 50; pages++) {
      const page: { status: number; body: { accounts: Account[]; nextCursor: string | null } } = await api("GET", `/api/v1/accounts?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token });
      expect(page.status).toBe(200);
      expect(page.body.accounts.length).toBeLessThanOrEqual(2);
      all.push(...page.body.accounts);
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    const names = all.map((x) => x.username);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(all.find((x) => x.id === a.id)).toMatchObject({ active: false, passwordSet: true });
    expect(all.find((x) => x.id === waiting.id)).toMatchObject({ active: true, passwordSet: false });
    const found = await api("GET", `/api/v1/accounts?q=${encodeURIComponent("陈梅")}`, { token });
    expect(found.body.accounts.map((x: Account) => x.id)).toEqual([waiting.id]);
    const upper = await api("GET", `/api/v1/accounts?q=CHEN`, { token });
    expect(upper.body.accounts.map((x: Account) => x.id)).toContain(waiting.id);
  });

  it("is for administrators only, and refuses a bad cursor", async () => {
    const u = await newUser("notadmin");
    expect((await api("GET", "/api/v1/accounts", { token: u.token })).status).toBe(403);
    const bad = await api("GET", "/api/v1/accounts?cursor=%27%3B", { token: await admin() });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
  });
});

describe("administrators", () => {
  it("the last active administrator can neither lose the flag nor be deactivated; with a second one both work", async () => {
    const token = await admin();
    const me = (await api("GET", "/api/v1/me", { token })).body;
    // Other tests of this file may have made admins: start from "admin" being the only one.
    const others = (await api("GET", "/api/v1/accounts?limit=100", { token })).body.accounts.filter((x: Account) => x.isAdmin && x.active && x.id !== me.id);
    for (const o of others) expect((await api("PATCH", `/api/v1/users/${o.id}`, { token, body: { isAdmin: false } })).status).toBe(200);

    const last = await api("PATCH", `/api/v1/users/${me.id}`, { token, body: { isAdmin: false } });
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe("last_admin");
    expect((await api("GET", "/api/v1/me", { token })).body.isAdmin).toBe(true);

    const b = await newUser("second");
    const made = await api("PATCH", `/api/v1/users/${b.id}`, { token, body: { isAdmin: true } });
    expect(made.status).toBe(200);
    expect(made.body.isAdmin).toBe(true);
    // The flag counts at once: b's existing session may now administer.
    expect((await api("GET", "/api/v1/accounts", { token: b.token })).status).toBe(200);
    // b takes admin's flag: allowed, b remains.
    const unmade = await api("PATCH", `/api/v1/users/${me.id}`, { token: b.token, body: { isAdmin: false } });
    expect(unmade.status).toBe(200);
    // Now b is the last admin: b cannot step down, and nobody is left to deactivate b.
    const bLast = await api("PATCH", `/api/v1/users/${b.id}`, { token: b.token, body: { isAdmin: false } });
    expect(bLast.body.error.code).toBe("last_admin");
    // Restore "admin" for the other tests, then b may go.
    expect((await api("PATCH", `/api/v1/users/${me.id}`, { token: b.token, body: { isAdmin: true } })).status).toBe(200);
    expect((await api("PATCH", `/api/v1/users/${b.id}`, { token: b.token, body: { isAdmin: false } })).status).toBe(200);
    expect((await api("GET", "/api/v1/accounts", { token: b.token })).status).toBe(403);
  });

  it("an administrator who is the last one cannot be deactivated by anyone", async () => {
    const token = await admin();
    const me = (await api("GET", "/api/v1/me", { token })).body;
    const self = await api("POST", `/api/v1/users/${me.id}/deactivate`, { token });
    expect(self.status).toBe(400);
    const b = await newUser("deputy");
    await api("PATCH", `/api/v1/users/${b.id}`, { token, body: { isAdmin: true } });
    // Deactivating another admin is fine while one remains.
    const c = await newUser("thirdadmin");
    await api("PATCH", `/api/v1/users/${c.id}`, { token, body: { isAdmin: true } });
    expect((await api("POST", `/api/v1/users/${c.id}/deactivate`, { token: b.token })).status).toBe(200);
    await api("PATCH", `/api/v1/users/${b.id}`, { token, body: { isAdmin: false } });
  });

  it("a non-admin cannot change the flag, and an empty change is refused", async () => {
    const a = await newUser("plain");
    const r = await api("PATCH", `/api/v1/users/${a.id}`, { token: a.token, body: { isAdmin: true } });
    expect(r.status).toBe(403);
    const empty = await api("PATCH", `/api/v1/users/${a.id}`, { token: await admin(), body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe("invalid_request");
  });
});

describe("password reset and deactivation", () => {
  it("an admin resets a password under the policy; the old sessions end", async () => {
    const token = await admin();
    const u = await newUser("reset");
    const weak = await api("POST", `/api/v1/users/${u.id}/password`, { token, body: { password: "password123" } });
    expect(weak.status).toBe(400);
    expect(weak.body.error.code).toBe("weak_password");
    const ok = await api("POST", `/api/v1/users/${u.id}/password`, { token, body: { password: "a brand new passphrase" } });
    expect(ok.status).toBe(200);
    expect((await api("GET", "/api/v1/me", { token: u.token })).status).toBe(401);
    expect((await login(u.username, u.password, freshIp())).status).toBe(401);
    expect((await login(u.username, "a brand new passphrase")).status).toBe(200);
  });

  it("deactivation closes the person's device socket with 1008", async () => {
    const u = await newUser("socketgone");
    const { socket } = await connectDevice(u.token);
    expect((await api("POST", `/api/v1/users/${u.id}/deactivate`, { token: await admin() })).status).toBe(200);
    expect((await socket.closed()).code).toBe(1008);
  });
});

describe("invite links", () => {
  it("the invitee chooses a password (policy applies) and is signed in; the link works once", async () => {
    const inv = await invited();
    // No password yet: nothing signs in.
    expect((await login(inv.username, "", freshIp())).status).toBe(400);
    expect((await login(inv.username, "anything at all here", freshIp())).status).toBe(401);
    const info = await api("POST", "/api/v1/invites/lookup", { body: { token: inv.token } });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({ username: inv.username, displayName: "新同事 Newcomer", expiresAt: inv.expiresAt });
    expect(inv.expiresAt - Date.now()).toBeGreaterThan(6.9 * 24 * 3600 * 1000);

    const weak = await api("POST", "/api/v1/invites/accept", { body: { token: inv.token, password: "qwertyuiop" } });
    expect(weak.status).toBe(400);
    expect(weak.body.error.code).toBe("weak_password");
    const ok = await api("POST", "/api/v1/invites/accept", { body: { token: inv.token, password: "my own chosen phrase" } });
    expect(ok.status).toBe(200);
    expect(ok.body.user).toMatchObject({ id: inv.id, username: inv.username });
    expect((await api("GET", "/api/v1/me", { token: ok.body.token })).body.id).toBe(inv.id);
    expect((await login(inv.username, "my own chosen phrase")).status).toBe(200);

    const again = await api("POST", "/api/v1/invites/accept", { body: { token: inv.token, password: "another chosen phrase" } });
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe("invite_used");
    expect((await api("POST", "/api/v1/invites/lookup", { body: { token: inv.token } })).body.error.code).toBe("invite_used");
  });

  it("unknown, replaced, expired and malformed tokens each get their code; only the hash is stored", async () => {
    const inv = await invited();
    const unknown = await api("POST", "/api/v1/invites/lookup", { body: { token: "A".repeat(43) } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("invite_invalid");
    const malformed = await api("POST", "/api/v1/invites/accept", { body: { token: "../../etc", password: "whatever it is now" } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("invalid_request");

    // A newer link replaces the older one.
    const newer = await api("POST", `/api/v1/users/${inv.id}/invite`, { token: await admin() });
    expect((await api("POST", "/api/v1/invites/lookup", { body: { token: inv.token } })).body.error.code).toBe("invite_invalid");

    const stored = await runInDurableObject(directory(), async (_i, state) => state.storage.sql.exec("SELECT token_hash FROM invites WHERE user_id = ?", inv.id).toArray());
    expect(stored.map((r) => r.token_hash)).not.toContain(newer.body.token);
    expect(stored.every((r) => /^[0-9a-f]{64}$/.test(String(r.token_hash)))).toBe(true);

    await runInDurableObject(directory(), async (_i, state) => {
      state.storage.sql.exec("UPDATE invites SET expires_at = ? WHERE user_id = ?", Date.now() - 1, inv.id);
    });
    const expired = await api("POST", "/api/v1/invites/accept", { body: { token: newer.body.token, password: "too late for this" } });
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe("invite_expired");
    expect((await login(inv.username, "too late for this", freshIp())).status).toBe(401);
  });

  it("a deactivated account's link does not work; an admin's reset ends open links", async () => {
    const token = await admin();
    const inv = await invited();
    await api("POST", `/api/v1/users/${inv.id}/deactivate`, { token });
    expect((await api("POST", "/api/v1/invites/lookup", { body: { token: inv.token } })).body.error.code).toBe("invite_invalid");
    await api("POST", `/api/v1/users/${inv.id}/reactivate`, { token });
    expect((await api("POST", `/api/v1/users/${inv.id}/password`, { token, body: { password: "set by the admin here" } })).status).toBe(200);
    expect((await api("POST", "/api/v1/invites/lookup", { body: { token: inv.token } })).body.error.code).toBe("invite_invalid");
  });

  it("only administrators issue links", async () => {
    const a = await newUser("noinvite");
    expect((await api("POST", `/api/v1/users/${a.id}/invite`, { token: a.token })).status).toBe(403);
  });
});

describe("public directory counts", () => {
  it("shows each public room's member count, kept as people join and leave", async () => {
    const a = await newUser("counter");
    const b = await newUser("joins");
    const name = uniqueName("Counted 计数");
    const room = await newRoom(a.token, name, "public");
    const count = async () => {
      const page = await api("GET", `/api/v1/rooms/public?q=${encodeURIComponent(name)}`, { token: b.token });
      return (page.body.rooms as PublicRoom[]).find((r) => r.id === room.id);
    };
    expect(await eventually(async () => (await count())?.memberCount === 1)).toBe(true);
    expect((await count())?.topic).toBe("");
    await api("POST", `/api/v1/rooms/${room.id}/join`, { token: b.token });
    expect(await eventually(async () => (await count())?.memberCount === 2)).toBe(true);
    await api("POST", `/api/v1/rooms/${room.id}/leave`, { token: b.token });
    expect(await eventually(async () => (await count())?.memberCount === 1)).toBe(true);
    // The topic, once set, is listed beside the name.
    expect((await api("PATCH", `/api/v1/rooms/${room.id}`, { token: a.token, body: { topic: "Lunch orders · 午餐" } })).status).toBe(200);
    expect((await count())?.topic).toBe("Lunch orders · 午餐");
  });

  it("asks a room that never reported (older than the count) once, and keeps the answer", async () => {
    const a = await newUser("oldroom");
    const room = await newRoom(a.token, uniqueName("Older room"), "public");
    await eventually(async () => {
      const rows = await runInDurableObject(directory(), async (_i, state) => state.storage.sql.exec("SELECT member_count FROM rooms WHERE id = ?", room.id).toArray());
      return rows[0]?.member_count === 1;
    });
    await runInDurableObject(directory(), async (_i, state) => {
      state.storage.sql.exec("UPDATE rooms SET member_count = NULL WHERE id = ?", room.id);
    });
    const page = await api("GET", `/api/v1/rooms/public?q=${encodeURIComponent("older room")}`, { token: a.token });
    expect((page.body.rooms as PublicRoom[]).find((r) => r.id === room.id)?.memberCount).toBe(1);
    const rows = await runInDurableObject(directory(), async (_i, state) => state.storage.sql.exec("SELECT member_count FROM rooms WHERE id = ?", room.id).toArray());
    expect(rows[0].member_count).toBe(1);
  });
});
