/**
 * Your profile (issue 15, item 4): a person renames themselves (`PATCH /me`,
 * the display-name rules of every name field) and sets or removes their
 * avatar (`PUT`/`DELETE /me/avatar`), served to everyone at
 * `GET /users/{id}/avatar?v=<hash>`. The avatar's type is decided by its
 * bytes, its size is capped, and a made-up id creates nothing.
 */
import { env, listDurableObjectIds } from "cloudflare:test";
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, api, connect, eventually, newRoom, newUser } from "./helpers";
import type { TestBindings } from "./cloudflare-env";

const bucket = (env as Cloudflare.Env & TestBindings).FILES_BUCKET;

/** A real 1×1 PNG. */
const PNG = Uint8Array.from(atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="), (ch) => ch.charCodeAt(0));
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
const WEBP = new Uint8Array([0x52, 0x49, 0x46, 0x46, 4, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c]);

async function putAvatar(token: string, bytes: Uint8Array | string, type = "image/png") {
  const res = await SELF.fetch(`${BASE}/api/v1/me/avatar`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": type }, body: bytes });
  return { status: res.status, body: (await res.json()) as any };
}

const getAvatar = (token: string, id: string, v = "") => SELF.fetch(`${BASE}/api/v1/users/${encodeURIComponent(id)}/avatar${v ? `?v=${v}` : ""}`, { headers: { authorization: `Bearer ${token}` } });

const avatarKeys = async () => (await bucket.list({ prefix: "avatars/" })).objects.map((o) => o.key);

describe("display name", () => {
  it("a person renames themselves; the rooms' member lists and sockets follow", async () => {
    const a = await newUser("pfa");
    const b = await newUser("pfb");
    const room = await newRoom(a.token, "Profile room", "private", [b.id]);
    const socket = await connect(room.id, b.token);
    const res = await api("PATCH", "/api/v1/me", { token: a.token, body: { displayName: "  陈梅 Chen  " } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: a.id, displayName: "陈梅 Chen" });
    expect((await api("GET", "/api/v1/me", { token: a.token })).body.displayName).toBe("陈梅 Chen");
    expect((await api("GET", `/api/v1/users?ids=${a.id}`, { token: b.token })).body.users[0].displayName).toBe("陈梅 Chen");
    const live = await socket.next("member.updated");
    expect(live.member).toMatchObject({ userId: a.id, displayName: "陈梅 Chen" });
    const info = await api("GET", `/api/v1/rooms/${room.id}`, { token: b.token });
    expect(info.body.members.find((m: { userId: string }) => m.userId === a.id).displayName).toBe("陈梅 Chen");
    socket.close();
  });

  it("refuses names the display-name rules refuse, naming the field, and changes nothing", async () => {
    const a = await newUser("pfv");
    const before = (await api("GET", "/api/v1/me", { token: a.token })).body.displayName;
    for (const displayName of ["", "   ", "\u200b\u200b", "x".repeat(65), 42]) {
      const res = await api("PATCH", "/api/v1/me", { token: a.token, body: { displayName } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", field: "displayName" });
    }
    expect((await api("PATCH", "/api/v1/me", { token: a.token, body: { displayName: "ok", isAdmin: true } })).status).toBe(400);
    expect((await api("GET", "/api/v1/me", { token: a.token })).body.displayName).toBe(before);
  });
});

describe("avatar", () => {
  it("PNG, JPEG and WebP by their bytes; served with its type, immutable under its hash", async () => {
    const a = await newUser("ava");
    const b = await newUser("avb");
    expect((await api("GET", `/api/v1/users/${a.id}`, { token: b.token })).body.avatar).toBeUndefined();
    expect((await getAvatar(b.token, a.id)).status).toBe(404);

    // The Content-Type the client sent does not count: these bytes are a PNG.
    const set = await putAvatar(a.token, PNG, "text/html");
    expect(set.status).toBe(200);
    const hash = set.body.avatar as string;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await api("GET", `/api/v1/users?ids=${a.id}`, { token: b.token })).body.users[0].avatar).toBe(hash);

    const got = await getAvatar(b.token, a.id, hash);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("image/png");
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(got.headers.get("content-disposition")).toBe("inline");
    expect(got.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(got.headers.get("cache-control")).toContain("immutable");
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(PNG);
    // A browser that has it already gets a 304 without the bytes.
    const again = await SELF.fetch(`${BASE}/api/v1/users/${a.id}/avatar`, { headers: { authorization: `Bearer ${b.token}`, "if-none-match": `"${hash}"` } });
    expect(again.status).toBe(304);
    // Any other v (an old hash, none) revalidates: the picture may change.
    const stale = await getAvatar(b.token, a.id, "0".repeat(64));
    expect(stale.headers.get("cache-control")).toBe("private, no-cache");
    await stale.body?.cancel();

    for (const [bytes, type] of [[JPEG, "image/jpeg"], [WEBP, "image/webp"]] as const) {
      const r = await putAvatar(a.token, bytes, "application/octet-stream");
      expect(r.status).toBe(200);
      const served = await getAvatar(b.token, a.id, r.body.avatar);
      expect(served.headers.get("content-type")).toBe(type);
      await served.body?.cancel();
    }
    // Replaced pictures are not kept (deleted after the answer).
    expect(await eventually(async () => !(await avatarKeys()).some((k) => k.endsWith(hash)))).toBe(true);

    const removed = await api("DELETE", "/api/v1/me/avatar", { token: a.token });
    expect(removed.status).toBe(200);
    expect(removed.body.avatar).toBeUndefined();
    expect((await getAvatar(b.token, a.id)).status).toBe(404);
    // Nothing of hers is left in the store.
    const folder = `avatars/${a.id.slice(2, 18)}/`;
    expect(await eventually(async () => !(await avatarKeys()).some((k) => k.startsWith(folder)))).toBe(true);
  });

  it("refuses what is not an image (415), too big (413) or empty, and keeps the old one", async () => {
    const a = await newUser("avr");
    const first = await putAvatar(a.token, PNG);
    const keys = await avatarKeys();
    const svg = await putAvatar(a.token, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "image/png");
    expect(svg.status).toBe(415);
    expect(svg.body.error.code).toBe("unsupported_media_type");
    const gif = await putAvatar(a.token, "GIF89a\x01\x00\x01\x00", "image/gif");
    expect(gif.status).toBe(415);
    const big = new Uint8Array(256 * 1024 + 1);
    big.set(PNG);
    const tooBig = await putAvatar(a.token, big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe("too_large");
    expect((await putAvatar(a.token, new Uint8Array())).status).toBe(400);
    expect((await api("GET", "/api/v1/me", { token: a.token })).body.avatar).toBe(first.body.avatar);
    expect(await avatarKeys()).toEqual(keys);
  });

  it("an unknown or forged id is 404 and creates no object and no file", async () => {
    const a = await newUser("avf");
    await putAvatar(a.token, PNG);
    // The route serves a real person's picture, so the 404s below are the ids' doing.
    const real = await getAvatar(a.token, a.id);
    expect(real.status).toBe(200);
    await real.body?.cancel();
    const before = { users: (await listDurableObjectIds(env.USERS)).length, keys: await avatarKeys() };
    const forged = ["u_0000000000000000@local", "u_0000000000000000@elsewhere", "nobody", "../avatars", `${a.id}x`];
    for (const id of forged) {
      const res = await getAvatar(a.token, id);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe("not_found");
    }
    expect((await listDurableObjectIds(env.USERS)).length).toBe(before.users);
    expect(await avatarKeys()).toEqual(before.keys);
    // Signed out: nothing.
    expect((await SELF.fetch(`${BASE}/api/v1/users/${a.id}/avatar`)).status).toBe(401);
  });
});
