/**
 * Signing in at a branch that is not one's home. 陈梅 (chenmei) is homed in
 * Shanghai and visits Beijing: she signs in at Beijing's node, which has her
 * home check the password over the link; then Beijing serves her — her room
 * list from her home, a room homed in Shanghai through Beijing's mirror of it,
 * a room homed in Beijing directly. Wrong passwords are counted and throttled
 * at her home. With the link cut, signing in at Beijing is refused
 * (`home_unreachable`) while the session she already has keeps reading and
 * sending (queued for the room across the cut, delivered at the heal).
 * Deactivated at home, her Beijing session ends within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs } from "../harness";
import { roomWs } from "../e2e/client";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { recordFigures } from "../figures";
import { totpAt } from "../../durable-objects/shared/totp";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
const NEW_PASSWORD = "another long enough passphrase";
const BURST = 20;
let cluster: TestCluster;
const admin: Record<string, string> = {};
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
let shRoom: string; // homed in Shanghai, with a Beijing member (so Beijing mirrors it)
let bjRoom: string; // homed in Beijing

const call = (node: string, token: string, method: string, path: string, body?: unknown) => callNode(cluster, node, token, method, path, body);
const enc = encodeURIComponent;

async function signIn(node: string, username: string, password: string): Promise<{ status: number; body: { token?: string; error?: { code: string } }; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${cluster.nodes[node].url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  return { status: res.status, body: await res.json(), ms: performance.now() - started };
}

async function texts(node: string, token: string, roomId: string): Promise<string[]> {
  const page = await call(node, token, "GET", `/rooms/${enc(roomId)}/messages?limit=100`);
  expect(page.status).toBe(200);
  return page.body.messages.map((m: { text: string }) => m.text);
}

beforeAll(async () => {
  // A small message budget (20 at once, 1 a second), to see a visitor held to it where they send.
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD, limits: { messagesPerSecondPerUser: 1, messageBurstPerUser: BURST } });
  // Every node has its own `admin`: a node's own account wins over the others' of the same name.
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  // Two branches make the same username before either has heard of the other's (as during a cut).
  for (const n of ["beijing", "shenzhen"]) ids[`zhangwei@${n}`] = (await call(n, admin[n], "POST", "/users", { username: "zhangwei", password: USER_PASSWORD, displayName: `张伟 ${n}` })).body.id;
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"], ["wangfang", "shanghai"]]) {
    const made = await call(node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    expect(made.status).toBe(201);
    ids[who] = made.body.id;
  }
  tokens.liwei = await loginAs(cluster.nodes.beijing.url, "liwei", USER_PASSWORD);
  tokens.chenmeiHome = await loginAs(cluster.nodes.shanghai.url, "chenmei", USER_PASSWORD);
  await eventually("beijing knows the Shanghai people", async () => (await call("beijing", admin.beijing, "GET", `/users/${ids.wangfang}`)).status === 200, 15_000);
  await eventually("shanghai knows liwei", async () => (await call("shanghai", admin.shanghai, "GET", `/users/${ids.liwei}`)).status === 200, 15_000);
  const a = await call("shanghai", tokens.chenmeiHome, "POST", "/rooms", { name: "上海 项目", visibility: "private", members: [ids.liwei] });
  expect(a.status).toBe(201);
  shRoom = a.body.id;
  const b = await call("beijing", tokens.liwei, "POST", "/rooms", { name: "北京 接待", visibility: "private", members: [ids.chenmei] });
  expect(b.status).toBe(201);
  bjRoom = b.body.id;
  await eventually("beijing mirrors the Shanghai room", async () => (await call("beijing", tokens.liwei, "GET", `/rooms/${enc(shRoom)}`)).status === 200, 15_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("signing in at a branch that is not your home", () => {
  it("works at the visited node, checked by the home, and serves her rooms there", async () => {
    const home = await signIn("shanghai", "chenmei", USER_PASSWORD);
    expect(home.status).toBe(200);
    const visit = await signIn("beijing", "chenmei", USER_PASSWORD);
    expect(visit.status).toBe(200);
    tokens.chenmeiVisit = visit.body.token!;
    // A session of her home: listed there with where it was opened.
    const sessions = await call("shanghai", tokens.chenmeiHome, "GET", "/me/sessions");
    expect(sessions.body.sessions.some((s: { userAgent: string }) => s.userAgent.includes("signed in at beijing"))).toBe(true);
    // Her account and room list, from her home, at Beijing.
    const me = await call("beijing", tokens.chenmeiVisit, "GET", "/me");
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(ids.chenmei);
    const rooms = await eventually("both rooms in her list at Beijing", async () => {
      const r = await call("beijing", tokens.chenmeiVisit, "GET", "/me/rooms");
      return r.status === 200 && r.body.rooms.length === 2 ? r.body.rooms : null;
    });
    expect(rooms.map((r: { roomId: string }) => r.roomId).sort()).toEqual([shRoom, bjRoom].sort());
    // The room homed in Shanghai, through Beijing's mirror; the room homed in Beijing, directly.
    const s1 = await call("beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(shRoom)}/messages`, { clientId: "v-sh-1", text: "from Beijing, into Shanghai's room" });
    expect(s1.status).toBe(201);
    expect(s1.body.senderId).toBe(ids.chenmei);
    const s2 = await call("beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(bjRoom)}/messages`, { clientId: "v-bj-1", text: "hello Beijing room" });
    expect(s2.status).toBe(201);
    expect(await texts("shanghai", tokens.chenmeiHome, shRoom)).toEqual(["from Beijing, into Shanghai's room"]);
    expect(await texts("beijing", tokens.liwei, bjRoom)).toEqual(["hello Beijing room"]);
    await eventually("her Beijing view of the Shanghai room has it", async () => (await texts("beijing", tokens.chenmeiVisit, shRoom)).length === 1);
    expect(await texts("beijing", tokens.chenmeiVisit, bjRoom)).toEqual(["hello Beijing room"]);
    // A live room socket at Beijing, as for a local member.
    const ws = await roomWs(`${cluster.nodes.beijing.wsUrl}/api/v1/rooms/${enc(bjRoom)}/socket`, tokens.chenmeiVisit);
    await ws.next("hello", 10_000);
    expect((await call("beijing", tokens.liwei, "POST", `/rooms/${enc(bjRoom)}/messages`, { clientId: "bj-2", text: "欢迎" })).status).toBe(201);
    expect((await ws.next("msg.new", (f) => f.message.clientId === "bj-2", 10_000)).message.text).toBe("欢迎");
    await ws.close();
    // Timings: median of a few sign-ins at home and at the visited node.
    const times = { home: [] as number[], visit: [] as number[] };
    for (let i = 0; i < 5; i++) {
      times.home.push((await signIn("shanghai", "chenmei", USER_PASSWORD)).ms);
      times.visit.push((await signIn("beijing", "chenmei", USER_PASSWORD)).ms);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    recordFigures("cluster", { "sign-in at home (ms, median of 5, test KDF)": Math.round(median(times.home)), "sign-in at a visited node (ms, median of 5, test KDF)": Math.round(median(times.visit)) });
  });

  it("signs a node's own account in there, and someone else's name with username@node", async () => {
    await eventually("beijing knows shenzhen's zhangwei", async () => (await call("beijing", admin.beijing, "GET", `/users/${ids["zhangwei@shenzhen"]}`)).status === 200, 15_000);
    await eventually("beijing knows both other admins", async () => (await call("beijing", admin.beijing, "GET", "/users?q=admin")).body.users?.length === 3, 15_000);
    const own = await signIn("beijing", "zhangwei", USER_PASSWORD);
    expect(own.status).toBe(200);
    expect((await call("beijing", own.body.token!, "GET", "/me")).body.id).toBe(ids["zhangwei@beijing"]);
    const visiting = await signIn("beijing", "zhangwei@shenzhen", USER_PASSWORD);
    expect(visiting.status).toBe(200);
    expect((await call("beijing", visiting.body.token!, "GET", "/me")).body.id).toBe(ids["zhangwei@shenzhen"]);
    // Every node's own admin signs in there, whatever the others have replicated.
    for (const n of cluster.names) expect((await call(n, await loginAs(cluster.nodes[n].url, "admin", PASSWORD), "GET", "/me")).body.id).toMatch(new RegExp(`@${n}$`));
  });

  it("holds a visitor to the message budget of the node they send on", async () => {
    const token = (await signIn("beijing", "zhangwei@shenzhen", USER_PASSWORD)).body.token!;
    const room = await call("beijing", tokens.liwei, "POST", "/rooms", { name: "budget", visibility: "private", members: [ids["zhangwei@shenzhen"]] });
    expect(room.status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 5; i++) statuses.push((await call("beijing", token, "POST", `/rooms/${enc(room.body.id)}/messages`, { clientId: `burst-${i}`, text: `${i}` })).status);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(BURST + 2);
    expect(statuses).toContain(429);
  });

  it("takes username@node, and moves files both ways", async () => {
    const named = await signIn("beijing", "chenmei@shanghai", USER_PASSWORD);
    expect(named.status).toBe(200);
    expect((await signIn("beijing", "chenmei@shenzhen", USER_PASSWORD)).status).toBe(401);
    // Into the Shanghai room (stored at its home, through hers) and the Beijing room (stored here).
    for (const [i, roomId] of [shRoom, bjRoom].entries()) {
      const bytes = Buffer.from(`report for ${roomId} ${"x".repeat(5000)}`);
      const up = await callNode(cluster, "beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(roomId)}/files?name=report.txt`, undefined, { raw: { type: "text/plain", data: bytes } });
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      expect(up.body.id).toMatch(new RegExp(`@${roomId.split("@")[1]}$`));
      const sent = await call("beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(roomId)}/messages`, { clientId: `file-${i}`, text: "the report", attachments: [up.body.id] });
      expect(sent.status, JSON.stringify(sent.body)).toBe(201);
      const down = await fetch(`${cluster.nodes.beijing.url}/api/v1/files/${enc(up.body.id)}`, { headers: { authorization: `Bearer ${tokens.chenmeiVisit}` } });
      expect(down.status).toBe(200);
      expect(Buffer.from(await down.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it("refuses a wrong password, and throttles it at the home", async () => {
    const wrong = await signIn("beijing", "wangfang", "not her password at all");
    expect(wrong.status).toBe(401);
    expect(wrong.body.error!.code).toBe("unauthorized");
    for (let i = 0; i < 4; i++) expect((await signIn("beijing", "wangfang", "not her password at all")).status).toBe(401);
    // Five failures: throttled at Beijing and — counted at her home — at Shanghai too.
    expect((await signIn("beijing", "wangfang", USER_PASSWORD)).body.error!.code).toBe("rate_limited");
    expect((await signIn("shanghai", "wangfang", USER_PASSWORD)).body.error!.code).toBe("rate_limited");
    // An unknown name is just a wrong sign-in.
    expect((await signIn("beijing", "nobody-here", USER_PASSWORD)).status).toBe(401);
  });

  it("refuses a visitor sign-in with only a password for an account with two-factor sign-in", async () => {
    // The visited node can relay a password, not a second factor: such a person signs in at home.
    const made = await call("shanghai", admin.shanghai, "POST", "/users", { username: "zhaolei", password: USER_PASSWORD, displayName: "赵磊" });
    expect(made.status).toBe(201);
    await eventually("beijing knows zhaolei", async () => (await call("beijing", admin.beijing, "GET", `/users/${made.body.id}`)).status === 200, 15_000);
    expect((await signIn("beijing", "zhaolei", USER_PASSWORD)).status).toBe(200);
    const home = await loginAs(cluster.nodes.shanghai.url, "zhaolei", USER_PASSWORD);
    const enrol = await call("shanghai", home, "POST", "/me/mfa/enrol");
    expect(enrol.status).toBe(200);
    const confirmed = await call("shanghai", home, "POST", "/me/mfa/confirm", { code: await totpAt(enrol.body.secret, Date.now()) });
    expect(confirmed.status).toBe(200);
    const refused = await signIn("beijing", "zhaolei", USER_PASSWORD);
    expect(refused.status).toBe(403);
    expect(refused.body.error!.code).toBe("forbidden");
    // At home the password asks for the code, as always; the enrolment is in the home's audit trail.
    const atHome = await signIn("shanghai", "zhaolei", USER_PASSWORD);
    expect((atHome.body as { mfaRequired?: boolean }).mfaRequired).toBe(true);
    const trail = await call("shanghai", admin.shanghai, "GET", `/admin/audit?action=mfa.enrolled&user=${enc(made.body.id)}`);
    expect(trail.status).toBe(200);
    expect(trail.body.records.map((r: { action: string }) => r.action)).toEqual(["mfa.enrolled"]);
  });

  it("refuses to sign in while the home is cut off, and the open session keeps working", async () => {
    await cluster.cut("beijing", "shanghai");
    const refused = await signIn("beijing", "chenmei", USER_PASSWORD);
    expect(refused.status).toBe(503);
    expect(refused.body.error!.code).toBe("home_unreachable");
    // Her Beijing session: the Beijing room as ever, the Shanghai room from the mirror, its sends queued.
    expect((await call("beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(bjRoom)}/messages`, { clientId: "cut-bj", text: "still here" })).status).toBe(201);
    expect(await texts("beijing", tokens.chenmeiVisit, bjRoom)).toContain("still here");
    expect(await texts("beijing", tokens.chenmeiVisit, shRoom)).toContain("from Beijing, into Shanghai's room");
    const queued = await eventually("a queued send (202) once the link is seen down", async () => {
      const r = await call("beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(shRoom)}/messages`, { clientId: "cut-sh", text: "written during the cut" });
      return r.status === 202 || r.status === 201 ? r : null;
    }, 15_000);
    expect(queued.status).toBe(202);
    expect(queued.body).toEqual({ queued: true, clientId: "cut-sh" });
    // What lives at her home (the room list) is unreachable meanwhile, and says so.
    const list = await call("beijing", tokens.chenmeiVisit, "GET", "/me/rooms");
    expect(list.status).toBe(503);
    expect(list.body.error.code).toBe("home_unreachable");
    // Her session at home is untouched.
    expect((await call("shanghai", tokens.chenmeiHome, "GET", "/me")).status).toBe(200);
    await cluster.heal("beijing", "shanghai");
    await eventually("the queued send reaches the home once", async () => {
      const t = await texts("shanghai", tokens.chenmeiHome, shRoom);
      return t.filter((x) => x === "written during the cut").length === 1;
    }, 20_000);
    expect((await signIn("beijing", "chenmei", USER_PASSWORD)).status).toBe(200);
  });

  it("ends the visitor session when the password is changed at home", async () => {
    const changed = await call("shanghai", tokens.chenmeiHome, "POST", "/me/password", { currentPassword: USER_PASSWORD, newPassword: NEW_PASSWORD });
    expect(changed.status).toBe(200);
    const at = Date.now();
    // At once for what the home decides (her sends into its room through Beijing's mirror)…
    const refused = await call("beijing", tokens.chenmeiVisit, "POST", `/rooms/${enc(shRoom)}/messages`, { clientId: "after-change", text: "should not pass" });
    expect(refused.status).toBe(403);
    // …and at Beijing at its next confirmation with the home (at most 15 s after the last one).
    await eventually("her Beijing session refused", async () => (await call("beijing", tokens.chenmeiVisit, "GET", `/rooms/${enc(bjRoom)}/messages`)).status === 401, 25_000, 500);
    recordFigures("cluster", { "visitor session ended at the visited node after a password change at home (ms; confirmed every ≤ 15 s)": Date.now() - at });
    expect((await signIn("beijing", "chenmei", USER_PASSWORD)).status).toBe(401);
    const again = await signIn("beijing", "chenmei", NEW_PASSWORD);
    expect(again.status).toBe(200);
    tokens.chenmeiVisit = again.body.token!;
  }, 40_000);

  it("ends the visitor session within seconds of a deactivation at home", async () => {
    const ws = await roomWs(`${cluster.nodes.beijing.wsUrl}/api/v1/rooms/${enc(bjRoom)}/socket`, tokens.chenmeiVisit);
    await ws.next("hello", 10_000);
    const at = Date.now();
    expect((await call("shanghai", admin.shanghai, "POST", `/users/${ids.chenmei}/deactivate`)).status).toBe(200);
    await eventually("her Beijing session refused", async () => (await call("beijing", tokens.chenmeiVisit, "GET", `/rooms/${enc(bjRoom)}/messages`)).status === 401, 10_000);
    const refusedAfter = Date.now() - at;
    const closed = await ws.closeFrame;
    expect(closed.code).toBe(1008);
    recordFigures("cluster", { "visitor session refused at the visited node after a deactivation at home (ms)": refusedAfter, "its room socket closed (ms)": Date.now() - at });
    expect((await signIn("beijing", "chenmei", NEW_PASSWORD)).status).toBe(401);
  });
});
