/**
 * Every node knows every account of the organisation: an account made on one
 * branch appears in the other branches' people search within seconds, with
 * its home node in its id; a deactivation travels the same way; a username is
 * unique across branches; a branch cut off catches up when its link returns.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { User } from "../../protocol/models";
import { loginAs } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { recordFigures } from "../figures";

const PASSWORD = "cluster operator passphrase";
let cluster: TestCluster;
const admins: Record<string, string> = {};

const call = (node: string, method: string, path: string, body?: unknown) => callNode(cluster, node, admins[node], method, path, body);


const search = async (node: string, q: string): Promise<User[]> => (await call(node, "GET", `/users?q=${encodeURIComponent(q)}`)).body.users;

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD });
  for (const n of cluster.names) admins[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("the organisation's directory", () => {
  it("shows an account made in Beijing to Shanghai and Shenzhen within seconds", async () => {
    const started = Date.now();
    const made = await call("beijing", "POST", "/users", { username: "chenmei", password: "a long enough passphrase", displayName: "陈梅" });
    expect(made.status).toBe(201);
    expect(made.body.id).toMatch(/@beijing$/);
    for (const n of ["shanghai", "shenzhen"]) {
      const found = await eventually(`${n} finds 陈梅`, async () => (await search(n, "陈")).find((u) => u.id === made.body.id));
      expect(found).toMatchObject({ username: "chenmei", displayName: "陈梅", active: true });
      expect((await call(n, "GET", `/users/${made.body.id}`)).body).toMatchObject({ id: made.body.id, displayName: "陈梅" });
    }
    recordFigures("cluster", { "a new account found on the two other nodes (ms)": Date.now() - started });
  });

  it("carries a person's own new name and avatar to the other branches", async () => {
    const id = (await search("beijing", "chenmei"))[0].id;
    const own = await loginAs(cluster.nodes.beijing.url, "chenmei", "a long enough passphrase");
    // A room homed in Shanghai with her as a member: its member list must follow too.
    const room = await call("shanghai", "POST", "/rooms", { name: "Ops", visibility: "private", members: [id] });
    expect(room.status).toBe(201);
    await eventually("her inbox has the Shanghai room", async () => ((await callNode(cluster, "beijing", own, "GET", "/me/rooms")).body?.rooms ?? []).some((r: { roomId: string }) => r.roomId === room.body.id));
    expect((await callNode(cluster, "beijing", own, "PATCH", "/me", { displayName: "陈梅 (Mei)" })).status).toBe(200);
    await eventually("the Shanghai room's member list has the new name", async () =>
      ((await call("shanghai", "GET", `/rooms/${room.body.id}`)).body.members as { userId: string; displayName: string }[]).some((m) => m.userId === id && m.displayName === "陈梅 (Mei)"),
    );
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
    const set = await callNode(cluster, "beijing", own, "PUT", "/me/avatar", undefined, { raw: { type: "image/png", data: png } });
    expect(set.status).toBe(200);
    const avatarAt = (n: string, who: string, v = "") => fetch(`${cluster.nodes[n].url}/api/v1/users/${encodeURIComponent(who)}/avatar${v ? `?v=${v}` : ""}`, { headers: { authorization: `Bearer ${admins[n]}` } });
    for (const n of ["shanghai", "shenzhen"]) {
      const seen = await eventually(`${n} sees the new name and avatar`, async () => {
        const u = (await call(n, "GET", `/users/${id}`)).body;
        return u.displayName === "陈梅 (Mei)" && u.avatar === set.body.avatar ? u : null;
      });
      expect(seen.id).toBe(id);
      // The bytes stay in Beijing; this branch serves them through the link, as cacheable as at home.
      const res = await avatarAt(n, id, set.body.avatar);
      expect([res.status, res.headers.get("content-type"), res.headers.get("cache-control")]).toEqual([200, "image/png", "private, max-age=31536000, immutable"]);
      expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
      // A made-up id of Beijing's is 404 here, without a word to Beijing (the directory does not know it).
      expect((await avatarAt(n, id.replace(/^u_\w{4}/, "u_zzzz"))).status).toBe(404);
    }
  });

  it("keeps usernames unique across branches", async () => {
    await eventually("shanghai knows chenmei", async () => (await search("shanghai", "chenmei")).length > 0);
    const clash = await call("shanghai", "POST", "/users", { username: "chenmei", password: "a long enough passphrase", displayName: "Another" });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe("username_taken");
  });

  it("carries a deactivation to the other branches", async () => {
    const id = (await search("beijing", "chenmei"))[0].id;
    expect((await call("beijing", "POST", `/users/${id}/deactivate`)).status).toBe(200);
    await eventually("shenzhen sees her deactivated", async () => (await call("shenzhen", "GET", `/users/${id}`)).body.active === false);
    expect(await search("shenzhen", "chenmei")).toEqual([]);
  });

  it("catches a cut-off branch up when its link returns", async () => {
    await cluster.isolate("shenzhen");
    const made = await call("beijing", "POST", "/users", { username: "wangfang", password: "a long enough passphrase", displayName: "王芳" });
    expect(made.status).toBe(201);
    await eventually("shanghai finds 王芳", async () => (await search("shanghai", "王")).some((u) => u.id === made.body.id));
    expect((await search("shenzhen", "王")).some((u) => u.id === made.body.id)).toBe(false);
    await cluster.rejoin("shenzhen");
    await eventually("shenzhen finds 王芳 after the link returns", async () => (await search("shenzhen", "王")).some((u) => u.id === made.body.id), 15_000);
  }, 60_000);
});
