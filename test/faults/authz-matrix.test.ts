/**
 * Authorization matrix (fast-check, model-based) against ONE real `workerd serve`.
 *
 * Random histories of create room / create DM / join / invite / remove / leave /
 * role change / deactivate / reactivate / revoke a session / sign in / send /
 * upload-and-share run across five people, each with one or two sessions. A
 * small model keeps who may read what *now* (room members and roles, active
 * people, live sessions, messages, files). After EVERY step, for every person
 * × every session (live and dead) the suite asks every read path —
 *
 *   GET /rooms/{id}, /rooms/{id}/members, /rooms/{id}/messages,
 *   /rooms/{id}/messages/{mid}, /rooms/{id}/receipts, /search?room={id},
 *   /search (all rooms), /files/{id}, /me/rooms, /me/notifications,
 *   the room socket upgrade and the device socket's inbox.hello
 *
 * — and checks that the answer equals the model: allowed → 200 with exactly the
 * expected content; not allowed → byte-for-byte the answer for a made-up id of
 * the same shape ("forbidden and non-existent look identical"); dead session →
 * 401, identical to a forged token's answer. Every (session, path, object) check
 * is one case; the total is recorded with recordFigures("authz").
 *
 * The node and the people live across runs (one node, logins are expensive), so
 * the model is global too: rooms from earlier runs stay in it (/me/rooms and the
 * device socket are compared against ALL of them); the per-room paths are asked
 * for the rooms the current run touched. Reproduce a failure with
 * AUTHZ_SEED=<seed> (printed by fast-check) — the whole sequence of runs replays.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { loginAs, type Frame, type FrameOf, type OutpostNode, type WsClient } from "../harness";
import { api, deviceWs, ok, roomWs, type ApiResponse } from "../e2e/client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";
const NUM_USERS = 5;
const NUM_RUNS = Number(process.env.AUTHZ_RUNS ?? 25);
const SEED = process.env.AUTHZ_SEED ? Number(process.env.AUTHZ_SEED) : undefined;
const MIN_STEPS = 6;
const MAX_STEPS = 10;
/** checks in flight at once (the node and the machine are shared: keep it modest) */
const PARALLEL = 8;
/** revoked/expired tokens kept per person and re-checked (401) after every step */
const DEAD_KEPT = 2;

type Role = "owner" | "admin" | "member";
const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };

// ------------------------------------------------------------------ model

interface Sess {
  token: string;
  sid: string;
  live: boolean;
  label: string;
}
interface UserM {
  i: number;
  id: string;
  username: string;
  password: string;
  active: boolean;
  sessions: Sess[];
}
interface MemberM {
  role: Role;
  /** membership event counter: equal for everyone added by one room creation */
  batch: number;
}
interface MsgM {
  id: string;
  text: string;
  tag: string;
  attachments: string[];
}
interface RoomM {
  id: string;
  kind: "group" | "dm";
  visibility: "public" | "private";
  members: Map<string, MemberM>;
  messages: MsgM[];
  /** owner left and the heir is one of these (tie in "longest-standing"): resolved by the next read of a live member */
  ownerCandidates?: string[];
}
interface FileM {
  id: string;
  roomId: string;
  uploader: string;
  shared: boolean;
  bytes: Buffer;
}

let node: OutpostNode;
let adminToken: string;
let nodeName: string;
const users: UserM[] = [];
const rooms = new Map<string, RoomM>();
let batch = 0;

// per run
let tag = "";
let inPlay: string[] = [];
let files: FileM[] = [];
let history: string[] = [];

// figures
let cases = 0;
let steps = 0;
let runs = 0;
const casesByPath: Record<string, number> = {};
let checkMs = 0;
/** what the actions did: 2xx applied, 4xx refused as the model predicted, skipped (no session) */
const outcomes = { applied: 0, refused: 0, skipped: 0 };

// --------------------------------------------------------------- helpers

const key16 = () => {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  return [...randomBytes(16)].map((b) => alphabet[b & 31]).join("");
};
const fakeRoomId = () => `r_${key16()}@${nodeName}`;
const fakeMid = () => `m_${key16()}`;
const fakeFileId = () => `f_${key16()}.${key16()}@${nodeName}`;
const enc = encodeURIComponent;

/** Sign in (test nodes need no pacing: TEST_NODE_LIMITS); returns token and session id. */
async function login(u: UserM): Promise<Sess> {
  const token = await loginAs(node.url, u.username, u.password);
  const list = await ok(200, node.url, "GET", "/api/v1/me/sessions", { token });
  const sid = list.sessions.find((s: { current: boolean }) => s.current).id as string;
  const s: Sess = { token, sid, live: true, label: `${u.username}#${sid.slice(0, 4)}` };
  u.sessions.push(s);
  return s;
}

function killSession(u: UserM, s: Sess) {
  s.live = false;
  const dead = u.sessions.filter((x) => !x.live);
  for (const d of dead.slice(0, Math.max(0, dead.length - DEAD_KEPT))) u.sessions.splice(u.sessions.indexOf(d), 1);
}

const live = (u: UserM) => (u.active ? u.sessions.filter((s) => s.live) : []);
const userById = (id: string) => users.find((u) => u.id === id)!;

/** Run tasks with at most `n` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

interface Upgrade<F> {
  status: number;
  body?: string;
  first?: F;
}
/** A WebSocket upgrade: 101 with its first frame, or the refusal's status and body. */
async function upgrade<F extends Frame, K extends F["type"]>(connect: (url: string) => Promise<WsClient<F>>, path: string, firstType: K): Promise<Upgrade<FrameOf<F, K>>> {
  let c;
  try {
    c = await connect(`${node.wsUrl}${path}`);
  } catch (err) {
    const e = err as { status?: number; body?: string };
    if (e.status === undefined) throw err;
    return { status: e.status, body: e.body };
  }
  try {
    const first = await c.next(firstType, 20000);
    return { status: 101, first };
  } finally {
    c.ws.terminate();
  }
}

const norm = (r: ApiResponse) => ({ status: r.status, body: r.text });

// ------------------------------------------------------------ the checks

interface Mismatch {
  who: string;
  path: string;
  expected: unknown;
  got: unknown;
}

/** Owner ties from an owner leaving: learn the heir from any live member (asserting it is a candidate). */
async function resolveOwners(mismatches: Mismatch[]) {
  for (const r of rooms.values()) {
    if (!r.ownerCandidates) continue;
    const reader = [...r.members.keys()].map(userById).find((u) => live(u).length > 0);
    if (!reader) continue;
    const res = await api(node.url, "GET", `/api/v1/rooms/${enc(r.id)}/members`, { token: live(reader)[0].token });
    const owner = res.body?.members?.find((m: { role: string }) => m.role === "owner")?.userId;
    if (!owner || !r.ownerCandidates.includes(owner)) {
      mismatches.push({ who: reader.username, path: `heir of ${r.id}`, expected: r.ownerCandidates, got: res.text.slice(0, 300) });
    } else {
      r.members.get(owner)!.role = "owner";
    }
    r.ownerCandidates = undefined;
  }
}

function expectedInbox(u: UserM): Record<string, Role> {
  const out: Record<string, Role> = {};
  for (const r of rooms.values()) {
    const m = r.members.get(u.id);
    if (m) out[r.id] = m.role;
  }
  return out;
}

function membersOf(r: RoomM): Record<string, Role> {
  return Object.fromEntries([...r.members].map(([id, m]) => [id, m.role]));
}

async function checkEverything(forgedRef: { status: number; body: string }): Promise<Mismatch[]> {
  const mismatches: Mismatch[] = [];
  await resolveOwners(mismatches);
  const t0 = Date.now();
  const tasks: (() => Promise<void>)[] = [];
  const count = (path: string) => {
    cases++;
    casesByPath[path] = (casesByPath[path] ?? 0) + 1;
  };
  const bad = (who: string, path: string, expected: unknown, got: unknown) => mismatches.push({ who, path, expected, got });
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const playRooms = inPlay.map((id) => rooms.get(id)!);

  for (const u of users) {
    for (const s of u.sessions) {
      const who = `${s.label}${s.live && u.active ? "" : "(dead)"}`;
      const token = s.token;
      const dead = !s.live || !u.active;

      // The answers for made-up ids of the same shape, asked with this same session.
      const fake = fakeRoomId();
      const fmid = fakeMid();
      const fakeRef = dead
        ? null
        : (async () => {
            const [room, members, msgs, msg, receipts, search, sock, file] = await Promise.all([
              api(node.url, "GET", `/api/v1/rooms/${enc(fake)}`, { token }),
              api(node.url, "GET", `/api/v1/rooms/${enc(fake)}/members`, { token }),
              api(node.url, "GET", `/api/v1/rooms/${enc(fake)}/messages?limit=100`, { token }),
              api(node.url, "GET", `/api/v1/rooms/${enc(fake)}/messages/${fmid}`, { token }),
              api(node.url, "GET", `/api/v1/rooms/${enc(fake)}/receipts`, { token }),
              api(node.url, "GET", `/api/v1/search?q=${tag}&room=${enc(fake)}&limit=50`, { token }),
              upgrade((url) => roomWs(url, token), `/api/v1/rooms/${enc(fake)}/socket`, "hello"),
              api(node.url, "GET", `/api/v1/files/${enc(fakeFileId())}`, { token }),
            ]);
            const ref = { room: norm(room), members: norm(members), msgs: norm(msgs), msg: norm(msg), receipts: norm(receipts), search: norm(search), sock: { status: sock.status, body: sock.body }, file: norm(file) };
            for (const [k, v] of Object.entries(ref)) if (v.status !== 404) bad(who, `made-up id: ${k}`, 404, v);
            return ref;
          })();
      // Tasks share the reference; a rejected reference fails the tasks that need it.
      fakeRef?.catch(() => {});

      const deadCheck = (path: string, r: { status: number; body?: string }) => {
        count(path);
        if (r.status !== 401 || (r.body !== undefined && r.body !== forgedRef.body)) bad(who, path, forgedRef, r);
      };

      for (const r of playRooms) {
        const member = r.members.get(u.id);
        const allowed = !!member && !dead;
        const mid = r.messages.at(-1)?.id ?? fakeMid();
        const base = `/api/v1/rooms/${enc(r.id)}`;
        const deniedLike = async (path: string, res: { status: number; body?: string }, key: keyof Awaited<NonNullable<typeof fakeRef>>) => {
          if (dead) return deadCheck(path, res);
          count(path);
          const ref = (await fakeRef!)[key];
          if (!same({ status: res.status, body: res.body }, { status: ref.status, body: ref.body })) bad(who, `${path} ${r.id} (not a member)`, ref, res);
        };

        tasks.push(async () => {
          const res = await api(node.url, "GET", base, { token });
          if (!allowed) return deniedLike("GET /rooms/{id}", norm(res), "room");
          count("GET /rooms/{id}");
          const want = { status: 200, id: r.id, kind: r.kind, visibility: r.visibility, role: member!.role, memberCount: r.members.size, members: membersOf(r) };
          const got = { status: res.status, id: res.body?.room?.id, kind: res.body?.room?.kind, visibility: res.body?.room?.visibility, role: res.body?.room?.role, memberCount: res.body?.room?.memberCount, members: Object.fromEntries((res.body?.members ?? []).map((m: { userId: string; role: string }) => [m.userId, m.role])) };
          if (!same(sortKeys(want), sortKeys(got))) bad(who, `GET /rooms/${r.id}`, want, got);
        });
        tasks.push(async () => {
          const res = await api(node.url, "GET", `${base}/members`, { token });
          if (!allowed) return deniedLike("GET /rooms/{id}/members", norm(res), "members");
          count("GET /rooms/{id}/members");
          const got = Object.fromEntries((res.body?.members ?? []).map((m: { userId: string; role: string }) => [m.userId, m.role]));
          if (res.status !== 200 || !same(sortKeys(got), sortKeys(membersOf(r)))) bad(who, `GET /rooms/${r.id}/members`, membersOf(r), { status: res.status, got });
        });
        tasks.push(async () => {
          const res = await api(node.url, "GET", `${base}/messages?limit=100`, { token });
          if (!allowed) return deniedLike("GET /rooms/{id}/messages", norm(res), "msgs");
          count("GET /rooms/{id}/messages");
          const want = r.messages.slice(-100).map((m) => ({ id: m.id, text: m.text, attachments: m.attachments }));
          const got = (res.body?.messages ?? []).map((m: { id: string; text: string; attachments: { id: string }[] }) => ({ id: m.id, text: m.text, attachments: m.attachments.map((a) => a.id) }));
          if (res.status !== 200 || !same(got, want) || res.body.lastSeq !== r.messages.length) bad(who, `GET /rooms/${r.id}/messages`, want, { status: res.status, got, lastSeq: res.body?.lastSeq });
        });
        tasks.push(async () => {
          const res = await api(node.url, "GET", `${base}/messages/${mid}`, { token });
          if (!allowed) return deniedLike("GET /rooms/{id}/messages/{mid}", norm(res), "msg");
          count("GET /rooms/{id}/messages/{mid}");
          const want = r.messages.at(-1);
          if (want ? res.status !== 200 || res.body.id !== want.id || res.body.text !== want.text : res.status !== 404) bad(who, `GET /rooms/${r.id}/messages/${mid}`, want ?? 404, { status: res.status, body: res.text.slice(0, 300) });
        });
        tasks.push(async () => {
          const res = await api(node.url, "GET", `${base}/receipts`, { token });
          if (!allowed) return deniedLike("GET /rooms/{id}/receipts", norm(res), "receipts");
          count("GET /rooms/{id}/receipts");
          const got = (res.body?.receipts ?? []).map((x: { userId: string }) => x.userId).sort();
          const want = [...r.members.keys()].sort();
          if (res.status !== 200 || !same(got, want)) bad(who, `GET /rooms/${r.id}/receipts`, want, { status: res.status, got });
        });
        tasks.push(async () => {
          const res = await api(node.url, "GET", `/api/v1/search?q=${tag}&room=${enc(r.id)}&limit=50`, { token });
          if (!allowed) return deniedLike("GET /search?room=", norm(res), "search");
          count("GET /search?room=");
          const want = r.messages.filter((m) => m.tag === tag).map((m) => m.id).sort();
          const got = (res.body?.hits ?? []).map((h: { message: { id: string } }) => h.message.id).sort();
          if (res.status !== 200 || !same(got, want)) bad(who, `GET /search?room=${r.id}`, want, { status: res.status, got, text: res.text.slice(0, 200) });
        });
        tasks.push(async () => {
          const res = await upgrade((url) => roomWs(url, token), `${base}/socket`, "hello");
          if (!allowed) return deniedLike("room socket", res, "sock");
          count("room socket");
          const want = { status: 101, id: r.id, role: member!.role, lastSeq: r.messages.length };
          const got = { status: res.status, id: res.first?.room?.id, role: res.first?.room?.role, lastSeq: res.first?.lastSeq };
          if (!same(want, got)) bad(who, `room socket ${r.id}`, want, { ...got, body: res.body });
        });
      }

      // Not per room: the person's whole view.
      const myRooms = expectedInbox(u);
      tasks.push(async () => {
        const res = await api(node.url, "GET", "/api/v1/me/rooms", { token });
        if (dead) return deadCheck("GET /me/rooms", norm(res));
        count("GET /me/rooms");
        const got = Object.fromEntries((res.body?.rooms ?? []).map((x: { roomId: string; role: string }) => [x.roomId, x.role]));
        if (res.status !== 200 || !same(sortKeys(got), sortKeys(myRooms))) bad(who, "GET /me/rooms", myRooms, { status: res.status, got });
      });
      tasks.push(async () => {
        // Notifications (DMs, mentions) arrive coalesced, so their number is timing-dependent;
        // what must hold at every moment: none about a room the person is not in now.
        const res = await api(node.url, "GET", "/api/v1/me/notifications?limit=100", { token });
        if (dead) return deadCheck("GET /me/notifications", norm(res));
        count("GET /me/notifications");
        const stray = (res.body?.notifications ?? []).filter((n: { roomId: string }) => !(n.roomId in myRooms));
        if (res.status !== 200 || stray.length) bad(who, "GET /me/notifications", "only rooms the person is in", { status: res.status, stray });
      });
      tasks.push(async () => {
        const res = await upgrade((url) => deviceWs(url, token), "/api/v1/socket", "inbox.hello");
        if (dead) return deadCheck("device socket", res);
        count("device socket");
        const got = Object.fromEntries((res.first?.rooms ?? []).map((x: { roomId: string; role: string }) => [x.roomId, x.role]));
        if (res.status !== 101 || res.first?.userId !== u.id || !same(sortKeys(got), sortKeys(myRooms))) bad(who, "device socket inbox.hello", myRooms, { status: res.status, got, body: res.body });
      });
      tasks.push(async () => {
        const res = await api(node.url, "GET", `/api/v1/search?q=${tag}&limit=50`, { token });
        if (dead) return deadCheck("GET /search", norm(res));
        count("GET /search");
        const want = [...rooms.values()].filter((r) => r.members.has(u.id)).flatMap((r) => r.messages.filter((m) => m.tag === tag).map((m) => m.id)).sort();
        const got = (res.body?.hits ?? []).map((h: { message: { id: string } }) => h.message.id).sort();
        if (res.status !== 200 || !same(got, want)) bad(who, "GET /search (all rooms)", want, { status: res.status, got });
      });
      for (const f of files) {
        tasks.push(async () => {
          const res = await fetch(`${node.url}/api/v1/files/${enc(f.id)}`, { headers: { authorization: `Bearer ${token}` } });
          const bytes = Buffer.from(await res.arrayBuffer());
          if (dead) return deadCheck("GET /files/{id}", { status: res.status, body: bytes.toString("utf8") });
          count("GET /files/{id}");
          const room = rooms.get(f.roomId)!;
          const allowed = room.members.has(u.id) && (f.shared || f.uploader === u.id);
          if (allowed) {
            if (res.status !== 200 || !bytes.equals(f.bytes)) bad(who, `GET /files/${f.id}`, { status: 200, bytes: f.bytes.length }, { status: res.status, body: bytes.toString("utf8").slice(0, 200) });
          } else {
            const ref = (await fakeRef!).file;
            if (!same({ status: res.status, body: bytes.toString("utf8") }, ref)) bad(who, `GET /files/${f.id} (may not read)`, ref, { status: res.status, body: bytes.toString("utf8").slice(0, 300) });
          }
        });
      }
    }
  }
  await pool(tasks, PARALLEL);
  checkMs += Date.now() - t0;
  return mismatches;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

// ------------------------------------------------------------ the actions

const userIdx = fc.nat({ max: NUM_USERS - 1 });
const roomPick = fc.nat({ max: 60 });
/** who acts: anyone, or someone the room has (a member / its owner), so the interesting branches come up */
const actorMode = fc.constantFrom("any", "member", "member", "owner");
/** 1 in 8 actions is tried with a dead token of the actor (must be 401, and change nothing) */
const stale = fc.nat({ max: 7 });

const createRoomArb = fc.record({ t: fc.constant("createRoom" as const), actor: userIdx, visibility: fc.constantFrom("public" as const, "private" as const), invite: fc.uniqueArray(userIdx, { maxLength: 3 }), stale: fc.constant(1) });
const actionArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("createRoom" as const), actor: userIdx, visibility: fc.constantFrom("public" as const, "private" as const), invite: fc.uniqueArray(userIdx, { maxLength: 3 }), stale }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("createDm" as const), actor: userIdx, peer: userIdx, stale }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("join" as const), actor: userIdx, room: roomPick, stale }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("invite" as const), actor: userIdx, mode: actorMode, target: userIdx, room: roomPick, stale }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("remove" as const), actor: userIdx, mode: actorMode, target: roomPick, room: roomPick, stale }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("leave" as const), actor: userIdx, mode: actorMode, room: roomPick, stale }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("role" as const), actor: userIdx, mode: actorMode, target: roomPick, room: roomPick, role: fc.constantFrom("admin" as const, "member" as const), stale }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("deactivate" as const), target: userIdx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("reactivate" as const), target: userIdx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("revoke" as const), target: userIdx, pick: fc.nat({ max: 3 }), byAdmin: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("login" as const), target: userIdx }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("send" as const), actor: userIdx, mode: actorMode, room: roomPick, stale }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("file" as const), actor: userIdx, mode: actorMode, room: roomPick, share: fc.boolean(), stale }) },
);
type Action = typeof actionArb extends fc.Arbitrary<infer A> ? A : never;

/** The session an action uses: a live one (or, when `stale` is 0, a dead one if the person has any). */
function sessionFor(u: UserM, staleRoll: number | undefined): { s: Sess; dead: boolean } | null {
  const dead = u.sessions.filter((s) => !s.live || !u.active);
  if (staleRoll === 0 && dead.length) return { s: dead[dead.length - 1], dead: true };
  const l = live(u);
  return l.length ? { s: l[0], dead: false } : null;
}

function pickRoom(n: number): RoomM | null {
  return inPlay.length ? rooms.get(inPlay[n % inPlay.length])! : null;
}

function pickActor(a: { actor: number; mode?: string }, r: RoomM | null): UserM {
  if (r && a.mode && a.mode !== "any" && r.members.size) {
    const ids = [...r.members.keys()];
    const owner = ids.find((id) => r.members.get(id)!.role === "owner");
    return userById(a.mode === "owner" && owner ? owner : ids[a.actor % ids.length]);
  }
  return users[a.actor];
}

/** Check an action's answer; a 404 must also be identical to the same request on a made-up room. */
async function expectStatus(label: string, res: ApiResponse, want: number, fakeReq?: () => Promise<ApiResponse>) {
  if (res.status === want) outcomes[want < 300 ? "applied" : "refused"]++;
  if (res.status !== want) throw new Error(`${label}: expected HTTP ${want}, got ${res.status} ${res.text.slice(0, 300)}`);
  if (want === 404 && fakeReq) {
    const ref = await fakeReq();
    if (ref.status !== res.status || ref.text !== res.text) throw new Error(`${label}: refused unlike a made-up room: ${res.text} vs ${ref.text}`);
  }
}

async function apply(a: Action): Promise<string> {
  switch (a.t) {
    case "createRoom": {
      const actor = users[a.actor];
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `createRoom: ${actor.username} has no session (skipped)`;
      const invitees = [...new Set(a.invite.filter((i) => i !== a.actor))].map((i) => users[i]);
      const body = { name: `authz ${tag} ${inPlay.length}`, visibility: a.visibility, members: invitees.map((u) => u.id) };
      const res = await api(node.url, "POST", "/api/v1/rooms", { token: sess.s.token, body });
      const want = sess.dead ? 401 : invitees.some((u) => !u.active) ? 400 : 201;
      await expectStatus(`createRoom by ${sess.s.label}`, res, want);
      if (want === 201) {
        const b = ++batch;
        const members = new Map<string, MemberM>([[actor.id, { role: "owner", batch: b }]]);
        for (const u of invitees) members.set(u.id, { role: "member", batch: b });
        rooms.set(res.body.id, { id: res.body.id, kind: "group", visibility: a.visibility, members, messages: [] });
        inPlay.push(res.body.id);
      }
      return `${sess.s.label} creates ${a.visibility} room with [${invitees.map((u) => u.username)}] → ${res.status} ${res.body?.id ?? ""}`;
    }
    case "createDm": {
      const actor = users[a.actor];
      const peer = users[a.peer];
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `createDm: ${actor.username} has no session (skipped)`;
      const res = await api(node.url, "POST", "/api/v1/dms", { token: sess.s.token, body: { userId: peer.id } });
      const existing = [...rooms.values()].find((r) => r.kind === "dm" && r.members.has(actor.id) && r.members.has(peer.id));
      const want = sess.dead ? 401 : peer === actor || !peer.active ? 400 : existing ? 200 : 201;
      await expectStatus(`createDm by ${sess.s.label} with ${peer.username}`, res, want);
      if (want === 200 && res.body.id !== existing!.id) throw new Error(`second DM for one pair: ${res.body.id} vs ${existing!.id}`);
      if (want === 201) {
        const b = ++batch;
        rooms.set(res.body.id, { id: res.body.id, kind: "dm", visibility: "private", members: new Map([[actor.id, { role: "member", batch: b }], [peer.id, { role: "member", batch: b }]]), messages: [] });
      }
      if ((want === 200 || want === 201) && !inPlay.includes(res.body.id)) inPlay.push(res.body.id);
      return `${sess.s.label} opens DM with ${peer.username} → ${res.status}`;
    }
    case "join": {
      const r = pickRoom(a.room);
      const actor = users[a.actor];
      const sess = sessionFor(actor, a.stale);
      if (!r || !sess) return `join: skipped`;
      const res = await api(node.url, "POST", `/api/v1/rooms/${enc(r.id)}/join`, { token: sess.s.token });
      const isMember = r.members.has(actor.id);
      const want = sess.dead ? 401 : isMember || (r.kind === "group" && r.visibility === "public") ? 200 : 404;
      await expectStatus(`join ${r.id} by ${sess.s.label}`, res, want, () => api(node.url, "POST", `/api/v1/rooms/${enc(fakeRoomId())}/join`, { token: sess.s.token }));
      if (want === 200 && !isMember) r.members.set(actor.id, { role: "member", batch: ++batch });
      return `${sess.s.label} joins ${r.kind}/${r.visibility} ${r.id} → ${res.status}`;
    }
    case "invite": {
      const r = pickRoom(a.room);
      if (!r) return "invite: no room";
      const actor = pickActor(a, r);
      const target = users[a.target];
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `invite: ${actor.username} has no session (skipped)`;
      const res = await api(node.url, "POST", `/api/v1/rooms/${enc(r.id)}/members`, { token: sess.s.token, body: { userId: target.id } });
      const want = sess.dead ? 401 : !target.active ? 400 : !r.members.has(actor.id) ? 404 : r.kind === "dm" ? 400 : 200;
      await expectStatus(`invite ${target.username} to ${r.id} by ${sess.s.label}`, res, want, () => api(node.url, "POST", `/api/v1/rooms/${enc(fakeRoomId())}/members`, { token: sess.s.token, body: { userId: target.id } }));
      if (want === 200 && !r.members.has(target.id)) r.members.set(target.id, { role: "member", batch: ++batch });
      return `${sess.s.label} invites ${target.username} to ${r.id} → ${res.status}`;
    }
    case "leave":
    case "remove": {
      const r = pickRoom(a.room);
      if (!r) return `${a.t}: no room`;
      const actor = pickActor(a, r);
      let target = actor;
      if (a.t === "remove") {
        // mostly someone in the room, sometimes anyone
        const ids = [...r.members.keys()];
        target = a.target % 5 === 4 || !ids.length ? users[a.target % NUM_USERS] : userById(ids[a.target % ids.length]);
      }
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `${a.t}: ${actor.username} has no session (skipped)`;
      const path = a.t === "leave" ? `/api/v1/rooms/${enc(r.id)}/leave` : `/api/v1/rooms/${enc(r.id)}/members/${enc(target.id)}`;
      const res = await api(node.url, a.t === "leave" ? "POST" : "DELETE", path, { token: sess.s.token });
      const am = r.members.get(actor.id);
      const tm = r.members.get(target.id);
      let want: number;
      if (sess.dead) want = 401;
      else if (!am || !tm) want = 404;
      else if (r.kind === "dm") want = 400;
      else if (actor !== target && (am.role === "member" || RANK[am.role] <= RANK[tm.role])) want = 403;
      else want = 200;
      await expectStatus(`${a.t} ${target.username} from ${r.id} by ${sess.s.label}`, res, want, !am ? () => api(node.url, a.t === "leave" ? "POST" : "DELETE", path.replace(r.id, fakeRoomId()), { token: sess.s.token }) : undefined);
      if (want === 200) {
        r.members.delete(target.id);
        if (tm!.role === "owner" && r.members.size) {
          const rest = [...r.members.entries()];
          const admins = rest.filter(([, m]) => m.role === "admin");
          const pool = admins.length ? admins : rest;
          const first = Math.min(...pool.map(([, m]) => m.batch));
          const cands = pool.filter(([, m]) => m.batch === first).map(([id]) => id);
          if (cands.length === 1) r.members.get(cands[0])!.role = "owner";
          else r.ownerCandidates = cands;
        }
      }
      return `${sess.s.label} ${a.t === "leave" ? "leaves" : `removes ${target.username} from`} ${r.id} → ${res.status}`;
    }
    case "role": {
      const r = pickRoom(a.room);
      if (!r) return "role: no room";
      const actor = pickActor(a, r);
      const ids = [...r.members.keys()];
      const target = a.target % 5 === 4 || !ids.length ? users[a.target % NUM_USERS] : userById(ids[a.target % ids.length]);
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `role: ${actor.username} has no session (skipped)`;
      const res = await api(node.url, "PATCH", `/api/v1/rooms/${enc(r.id)}/members/${enc(target.id)}`, { token: sess.s.token, body: { role: a.role } });
      const am = r.members.get(actor.id);
      const tm = r.members.get(target.id);
      const want = sess.dead ? 401 : !am ? 404 : r.kind === "dm" ? 400 : am.role !== "owner" ? 403 : !tm ? 404 : tm.role === "owner" ? 400 : 200;
      await expectStatus(`role ${target.username}→${a.role} in ${r.id} by ${sess.s.label}`, res, want);
      if (want === 200) tm!.role = a.role;
      return `${sess.s.label} makes ${target.username} ${a.role} in ${r.id} → ${res.status}`;
    }
    case "deactivate": {
      const u = users[a.target];
      const res = await api(node.url, "POST", `/api/v1/users/${enc(u.id)}/deactivate`, { token: adminToken });
      await expectStatus(`deactivate ${u.username}`, res, 200);
      u.active = false;
      for (const s of [...u.sessions]) if (s.live) killSession(u, s);
      return `admin deactivates ${u.username} → ${res.status}`;
    }
    case "reactivate": {
      const u = users[a.target];
      if (u.active) return `reactivate ${u.username}: already active (no-op)`;
      const res = await api(node.url, "POST", `/api/v1/users/${enc(u.id)}/reactivate`, { token: adminToken });
      await expectStatus(`reactivate ${u.username}`, res, 200);
      u.active = true;
      const s = await login(u);
      return `admin reactivates ${u.username}; new session ${s.label}`;
    }
    case "login": {
      const u = users[a.target];
      if (!u.active) {
        const res = await api(node.url, "POST", "/api/v1/auth/login", { body: { username: u.username, password: u.password } });
        await expectStatus(`login of deactivated ${u.username}`, res, 401);
        return `${u.username} (deactivated) tries to sign in → 401`;
      }
      if (live(u).length >= 2) return `login ${u.username}: has 2 sessions (no-op)`;
      const s = await login(u);
      return `${u.username} signs in: ${s.label}`;
    }
    case "revoke": {
      const u = users[a.target];
      const l = live(u);
      if (!l.length) return `revoke: ${u.username} has no live session (skipped)`;
      const s = l[a.pick % l.length];
      let res: ApiResponse;
      if (a.byAdmin) {
        res = await api(node.url, "DELETE", `/api/v1/users/${enc(u.id)}/sessions/${enc(s.sid)}`, { token: adminToken });
      } else {
        const from = l.find((x) => x !== s) ?? s;
        res = await api(node.url, "DELETE", `/api/v1/me/sessions/${enc(s.sid)}`, { token: from.token });
      }
      await expectStatus(`revoke ${s.label}`, res, 200);
      killSession(u, s);
      return `${a.byAdmin ? "admin" : u.username} revokes ${s.label} → ${res.status}`;
    }
    case "send": {
      const r = pickRoom(a.room);
      if (!r) return "send: no room";
      const actor = pickActor(a, r);
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `send: ${actor.username} has no session (skipped)`;
      // some messages mention someone (a notification for a member; plain text for anyone else)
      const text = `authz ${tag} n${r.messages.length + 1} from ${actor.username}${a.room % 3 === 0 ? ` @authz${a.room % NUM_USERS}` : ""}`;
      const body = { text, clientId: `c-${key16()}` };
      const res = await api(node.url, "POST", `/api/v1/rooms/${enc(r.id)}/messages`, { token: sess.s.token, body });
      const want = sess.dead ? 401 : r.members.has(actor.id) ? 201 : 404;
      await expectStatus(`send to ${r.id} by ${sess.s.label}`, res, want, () => api(node.url, "POST", `/api/v1/rooms/${enc(fakeRoomId())}/messages`, { token: sess.s.token, body }));
      if (want === 201) r.messages.push({ id: res.body.id, text, tag, attachments: [] });
      return `${sess.s.label} sends to ${r.id} → ${res.status}`;
    }
    case "file": {
      const r = pickRoom(a.room);
      if (!r) return "file: no room";
      const actor = pickActor(a, r);
      const sess = sessionFor(actor, a.stale);
      if (!sess) return `file: ${actor.username} has no session (skipped)`;
      const bytes = randomBytes(64 + (a.room % 200));
      const up = (roomId: string) =>
        fetch(`${node.url}/api/v1/rooms/${enc(roomId)}/files?name=${enc(`secret-${tag}.bin`)}`, {
          method: "POST",
          headers: { authorization: `Bearer ${sess.s.token}`, "content-type": "application/octet-stream" },
          body: bytes,
        }).then(async (x) => {
          const text = await x.text();
          return { status: x.status, headers: x.headers, text, body: text ? JSON.parse(text) : undefined } as ApiResponse;
        });
      const res = await up(r.id);
      const want = sess.dead ? 401 : r.members.has(actor.id) ? 201 : 404;
      await expectStatus(`upload to ${r.id} by ${sess.s.label}`, res, want, () => up(fakeRoomId()));
      if (want !== 201) return `${sess.s.label} uploads to ${r.id} → ${res.status}`;
      const f: FileM = { id: res.body.id, roomId: r.id, uploader: actor.id, shared: false, bytes };
      files.push(f);
      if (!a.share) return `${sess.s.label} uploads (unshared) ${f.id} to ${r.id}`;
      const text = `authz ${tag} file n${r.messages.length + 1}`;
      const sent = await api(node.url, "POST", `/api/v1/rooms/${enc(r.id)}/messages`, { token: sess.s.token, body: { text, clientId: `c-${key16()}`, attachments: [f.id] } });
      await expectStatus(`share ${f.id}`, sent, 201);
      f.shared = true;
      r.messages.push({ id: sent.body.id, text, tag, attachments: [f.id] });
      return `${sess.s.label} uploads and shares ${f.id} in ${r.id}`;
    }
  }
}

// -------------------------------------------------------------- the test

beforeAll(async () => {
  // Rooms are created at random by 5 people over AUTHZ_RUNS runs: with more runs they would
  // meet the room quota, which is not what this model checks, so it is off here.
  ({ node, admin: adminToken } = await withNode({ healthTimeoutMs: 60000, limits: { roomsPerUserPerDay: 0 } }));
  const me = await ok(200, node.url, "GET", "/api/v1/me", { token: adminToken });
  nodeName = me.id.split("@")[1];
  for (let i = 0; i < NUM_USERS; i++) {
    const username = `authz${i}`;
    const password = `authz-${i}-password-long-enough`;
    const created = await ok(201, node.url, "POST", "/api/v1/users", { token: adminToken, body: { username, password, displayName: `Authz ${i}` } });
    const u: UserM = { i, id: created.id, username, password, active: true, sessions: [] };
    users.push(u);
    await login(u);
    if (i % 2 === 0) await login(u); // people with two sessions (two devices)
  }
}, 180_000);

afterAll(async () => {
  await node?.stop();
});

describe("authorization matrix", () => {
  it(`what every session can reach equals the model after every step (${NUM_RUNS} runs × ${MIN_STEPS}–${MAX_STEPS} steps)`, async () => {
    const started = Date.now();
    // A forged token of the right shape: what a dead session's answer must look like.
    const t = users[0].sessions[0].token;
    const forged = t.slice(0, t.lastIndexOf(".") + 1) + randomBytes(32).toString("base64url");
    const forgedRes = await api(node.url, "GET", "/api/v1/me/rooms", { token: forged });
    expect(forgedRes.status).toBe(401);
    const forgedRef = { status: 401, body: forgedRes.text };

    await fc.assert(
      // Every run opens with a room, so the first steps have something to act on.
      fc.asyncProperty(fc.tuple(createRoomArb, fc.array(actionArb, { minLength: MIN_STEPS - 1, maxLength: MAX_STEPS - 1 })), async ([first, rest]) => {
        const actions: Action[] = [first, ...rest];
        runs++;
        tag = `zq${key16().slice(0, 8)}`;
        inPlay = [];
        files = [];
        history = [];
        // Every run starts with everyone active and signed in on 1–2 devices.
        for (const u of users) {
          if (!u.active) {
            await ok(200, node.url, "POST", `/api/v1/users/${enc(u.id)}/reactivate`, { token: adminToken });
            u.active = true;
          }
          if (!live(u).length) await login(u);
        }
        for (const a of actions) {
          const line = await apply(a).catch((err: Error) => {
            throw new Error(`run ${runs} step ${history.length + 1} (${JSON.stringify(a)}): ${err.message}\nhistory:\n  ${history.join("\n  ")}`);
          });
          history.push(line);
          if (/skipped|no-op|no room/.test(line)) outcomes.skipped++;
          steps++;
          const mismatches = await checkEverything(forgedRef);
          if (mismatches.length) {
            const shown = mismatches.slice(0, 8).map((m) => `  ${m.who} ${m.path}\n    expected ${JSON.stringify(m.expected).slice(0, 400)}\n    got      ${JSON.stringify(m.got).slice(0, 400)}`);
            throw new Error(`run ${runs} step ${history.length}: ${mismatches.length} mismatches after\n  ${history.join("\n  ")}\n${shown.join("\n")}`);
          }
        }
      }),
      { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (Date.now() - started) / 1000;
    recordFigures("authz", {
      cases,
      runs,
      steps,
      casesPerStep: Math.round(cases / Math.max(1, steps)),
      people: NUM_USERS,
      rooms: rooms.size,
      seconds: Math.round(seconds),
      checkSeconds: Math.round(checkMs / 1000),
      actionsApplied: outcomes.applied,
      actionsRefusedAsModelled: outcomes.refused,
      actionsSkipped: outcomes.skipped,
      ...Object.fromEntries(Object.entries(casesByPath).map(([k, v]) => [`cases ${k}`, v])),
    });
    expect(cases).toBeGreaterThan(0);
  }, 900_000);
});
