/**
 * State equivalence, the Zulip `verify_action` way: for random sequences of
 * actions by three users in one or two rooms, a client that took a snapshot
 * and applied every event it received holds exactly what a fresh snapshot
 * returns.
 *
 * - Room clients: every member holds a room socket (opened, then REST
 *   history + members fetched, then every frame replayed in arrival order).
 *   Non-members hold none; a user who joins or is invited opens a new one.
 * - Inbox clients: every user holds one device socket from before the rooms
 *   exist; `inbox.hello` plus every `inbox.room` / `inbox.removed`.
 *
 * Inbox activity is coalesced (~1/s per room), so after the actions the test
 * waits until the socket-derived inbox, GET /me/rooms and the state the
 * actions imply (the model) agree, then asserts each pair. It also audits the
 * streams: a removed user's room socket is closed before anyone hears of the
 * removal, and their device socket carries exactly one `inbox.removed` and
 * then nothing about the room until they are added again.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { api, connect, connectDevice, fence, isReplyTo, newUser, sleep, type ConnectedDevice, type RoomSocket } from "./helpers";
import { ServerRoomFrame } from "../../protocol/frames";
import { ServerDeviceFrame, type InboxRoom, type LastMessage } from "../../protocol/device";
import type { Member, Message } from "../../protocol/models";
import type { FrameOf } from "../frame-types";

type User = Awaited<ReturnType<typeof newUser>>;
const USERS = 3;
const EMOJI = ["👍", "🎉"];

// ---------------------------------------------------------------- actions

type Mention = number | "all" | null;
type Action =
  | { kind: "send"; actor: number; room: number; mention: Mention }
  | { kind: "edit"; actor: number; room: number; pick: number; mention: Mention }
  | { kind: "delete"; actor: number; room: number; pick: number }
  | { kind: "react"; actor: number; room: number; pick: number; emoji: number }
  | { kind: "read"; actor: number; room: number; seq: number; via: "rest" | "device" }
  | { kind: "join"; actor: number; room: number }
  | { kind: "leave"; actor: number; room: number }
  | { kind: "remove"; actor: number; room: number; target: number }
  | { kind: "invite"; actor: number; room: number; target: number };

const who = fc.integer({ min: 0, max: USERS - 1 });
const where = fc.integer({ min: 0, max: 1 });
const mention: fc.Arbitrary<Mention> = fc.oneof(fc.constant(null), who, fc.constant("all" as const));
const pick = fc.nat(20);
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("send" as const), actor: who, room: where, mention }), weight: 4 },
  fc.record({ kind: fc.constant("edit" as const), actor: who, room: where, pick, mention }),
  fc.record({ kind: fc.constant("delete" as const), actor: who, room: where, pick }),
  fc.record({ kind: fc.constant("react" as const), actor: who, room: where, pick, emoji: fc.integer({ min: 0, max: EMOJI.length - 1 }) }),
  { arbitrary: fc.record({ kind: fc.constant("read" as const), actor: who, room: where, seq: fc.oneof(fc.nat(4), fc.integer({ min: 5, max: 40 })), via: fc.constantFrom("rest" as const, "device" as const) }), weight: 2 },
  fc.record({ kind: fc.constant("join" as const), actor: who, room: where }),
  fc.record({ kind: fc.constant("leave" as const), actor: who, room: where }),
  fc.record({ kind: fc.constant("remove" as const), actor: who, room: where, target: who }),
  fc.record({ kind: fc.constant("invite" as const), actor: who, room: where, target: who }),
);
const roomSetup = fc.record({ owner: who, public: fc.boolean(), members: fc.subarray([0, 1, 2]) });
const scenario = fc.record({ rooms: fc.array(roomSetup, { minLength: 1, maxLength: 2 }), actions: fc.array(action, { minLength: 5, maxLength: 15 }) });

// ------------------------------------------------------------------ model

interface ModelMessage {
  id: string;
  senderId: string;
  createdAt: number;
  deleted: boolean;
}
interface ModelRoom {
  id: string;
  isPublic: boolean;
  lastSeq: number;
  messages: ModelMessage[];
  /** member → read position */
  read: Map<string, number>;
  owner: string | null;
}

/** A room client: socket + snapshot; state = snapshot with every frame replayed in order. */
interface RoomClient {
  socket: RoomSocket;
  messages: Map<string, Message>;
  members: Map<string, Member>;
}

async function roomSnapshot(token: string, roomId: string) {
  const info = await api("GET", `/api/v1/rooms/${roomId}`, { token });
  const hist = await api("GET", `/api/v1/rooms/${roomId}/messages?limit=100`, { token });
  expect(info.status).toBe(200);
  expect(hist.status).toBe(200);
  expect(hist.body.hasMore).toBe(false);
  return {
    messages: new Map<string, Message>(hist.body.messages.map((m: Message) => [m.id, m])),
    members: new Map<string, Member>(info.body.members.map((m: Member) => [m.userId, m])),
  };
}

async function openRoomClient(user: User, roomId: string): Promise<RoomClient> {
  // Register first (the socket queues events), then fetch: nothing can fall between.
  const socket = await connect(roomId, user.token);
  return { socket, ...(await roomSnapshot(user.token, roomId)) };
}

function roomClientState(c: RoomClient) {
  const messages = new Map(c.messages);
  const members = new Map(c.members);
  for (const f of c.socket.log) {
    if (f.type === "msg.new" || f.type === "msg.updated") messages.set(f.message.id, f.message);
    else if (f.type === "member.joined" || f.type === "member.updated") members.set(f.member.userId, f.member);
    else if (f.type === "member.left") members.delete(f.userId);
  }
  return normalRoom([...messages.values()], [...members.values()]);
}

function normalRoom(messages: Message[], members: Member[]) {
  return {
    messages: [...messages].sort((x, y) => x.seq - y.seq).map((m) => ({ id: m.id, seq: m.seq, text: m.text, mentions: m.mentions, deletedAt: m.deletedAt, editedAt: m.editedAt, reactions: m.reactions, version: m.version })),
    members: [...members].sort((x, y) => (x.userId < y.userId ? -1 : 1)),
  };
}

/** The inbox fields a client shows (what the model can say of a room in an inbox). */
type InboxFields = Pick<InboxRoom, "roomId" | "role" | "lastSeq" | "lastReadSeq" | "unread" | "mentions"> & { lastMessage: Pick<LastMessage, "id" | "deleted"> | null };
const inboxView = (r: InboxFields) => ({ roomId: r.roomId, role: r.role, lastSeq: r.lastSeq, lastReadSeq: r.lastReadSeq, unread: r.unread, mentions: r.mentions, lastMessage: r.lastMessage ? { id: r.lastMessage.id, deleted: r.lastMessage.deleted } : null });
const byRoom = (rooms: InboxFields[]) => rooms.map(inboxView).sort((x, y) => (x.roomId < y.roomId ? -1 : 1));

function deviceState(hello: FrameOf<ServerDeviceFrame, "inbox.hello">, log: ServerDeviceFrame[]) {
  const rooms = new Map<string, InboxRoom>(hello.rooms.map((r) => [r.roomId, r]));
  for (const f of log) {
    if (f.type === "inbox.room") rooms.set(f.room.roomId, f.room);
    else if (f.type === "inbox.removed") rooms.delete(f.roomId);
  }
  return byRoom([...rooms.values()]);
}

const aboutRoom = (f: ServerDeviceFrame, roomId: string) =>
  (f.type === "inbox.room" && f.room.roomId === roomId) || (f.type === "inbox.removed" && f.roomId === roomId) || (f.type === "notification.new" && f.notification.roomId === roomId);

// ------------------------------------------------------------------- test

describe("live state equivalence (verify_action)", () => {
  let users: User[] = [];
  beforeAll(async () => {
    for (let i = 0; i < USERS; i++) users.push(await newUser("prop"));
  });

  it("a snapshot plus the events received equals a fresh snapshot, for rooms and inboxes", async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ rooms: setups, actions }) => {
        runs++;
        const devices: ConnectedDevice[] = [];
        for (const u of users) {
          const d = await connectDevice(u.token);
          expect(d.first.type).toBe("inbox.hello");
          devices.push(d);
        }
        const rooms: ModelRoom[] = [];
        /** membership changes per `${user}|${room}`, in order, for the stream audit */
        const membership = new Map<string, ("add" | "remove")[]>();
        const note = (userId: string, roomId: string, e: "add" | "remove") => {
          const k = `${userId}|${roomId}`;
          membership.set(k, [...(membership.get(k) ?? []), e]);
        };
        const clients = new Map<string, RoomClient>();
        const retired: { userId: string; roomId: string; socket: RoomSocket }[] = [];
        try {
          for (const s of setups) {
            const owner = users[s.owner];
            const others = s.members.filter((i) => i !== s.owner).map((i) => users[i].id);
            const r = await api("POST", "/api/v1/rooms", { token: owner.token, body: { name: "prop", visibility: s.public ? "public" : "private", members: others } });
            expect(r.status).toBe(201);
            const m: ModelRoom = { id: r.body.id, isPublic: s.public, lastSeq: 0, messages: [], read: new Map(), owner: owner.id };
            for (const id of [owner.id, ...others]) {
              m.read.set(id, 0);
              note(id, m.id, "add");
            }
            rooms.push(m);
            for (const id of m.read.keys()) clients.set(`${id}|${m.id}`, await openRoomClient(users.find((u) => u.id === id)!, m.id));
          }

          const textWith = (men: Mention) => `t${Math.random().toString(36).slice(2, 7)}` + (men === null ? "" : men === "all" ? " @all" : ` hi @${users[men].username}`);
          const expectMentions = (room: ModelRoom, men: Mention) => ({ users: typeof men === "number" && room.read.has(users[men].id) ? [users[men].id] : [], all: men === "all" });
          const dropClient = async (userId: string, room: ModelRoom) => {
            const c = clients.get(`${userId}|${room.id}`)!;
            clients.delete(`${userId}|${room.id}`);
            // Closed by the room, before the others hear of the removal.
            const closed = await c.socket.closed();
            expect(closed.code).toBe(1008);
            retired.push({ userId, roomId: room.id, socket: c.socket });
          };

          for (const a of actions) {
            const room = rooms[a.room % rooms.length];
            const actor = users[a.actor];
            const member = room.read.has(actor.id);
            const base = `/api/v1/rooms/${room.id}`;
            switch (a.kind) {
              case "send": {
                const text = textWith(a.mention);
                const r = await api("POST", `${base}/messages`, { token: actor.token, body: { text, clientId: `p${Math.random().toString(36).slice(2)}` } });
                if (!member) {
                  expect(r.status).toBe(404);
                  break;
                }
                expect(r.status).toBe(201);
                expect(r.body).toMatchObject({ seq: room.lastSeq + 1, text, mentions: expectMentions(room, a.mention) });
                room.lastSeq++;
                room.messages.push({ id: r.body.id, senderId: actor.id, createdAt: r.body.createdAt, deleted: false });
                break;
              }
              case "edit": {
                const own = room.messages.filter((m) => m.senderId === actor.id && !m.deleted);
                if (!member || own.length === 0) break;
                const text = textWith(a.mention);
                const r = await api("PATCH", `${base}/messages/${own[a.pick % own.length].id}`, { token: actor.token, body: { text } });
                expect(r.status).toBe(200);
                expect(r.body).toMatchObject({ text, mentions: expectMentions(room, a.mention) });
                break;
              }
              case "delete": {
                const own = room.messages.filter((m) => m.senderId === actor.id && !m.deleted);
                if (!member || own.length === 0) break;
                const target = own[a.pick % own.length];
                const r = await api("DELETE", `${base}/messages/${target.id}`, { token: actor.token });
                if (r.status === 200) {
                  expect(r.body).toMatchObject({ id: target.id, text: "", reactions: [] });
                  target.deleted = true;
                } else {
                  // the recall window (2 s in tests) may have passed on a long run
                  expect(r.body.error.code).toBe("recall_window_passed");
                  expect(Date.now() - target.createdAt).toBeGreaterThan(1500);
                }
                break;
              }
              case "react": {
                const live = room.messages.filter((m) => !m.deleted);
                if (live.length === 0) break;
                const r = await api("POST", `${base}/messages/${live[a.pick % live.length].id}/reactions`, { token: actor.token, body: { emoji: EMOJI[a.emoji] } });
                expect(r.status).toBe(member ? 200 : 404);
                break;
              }
              case "read": {
                const want = member ? Math.min(Math.max(a.seq, room.read.get(actor.id)!), room.lastSeq) : null;
                if (a.via === "rest") {
                  const r = await api("POST", `${base}/read`, { token: actor.token, body: { seq: a.seq } });
                  if (member) expect(r.body).toEqual({ lastReadSeq: want });
                  else expect(r.status).toBe(404);
                } else {
                  const d = devices[a.actor].socket;
                  const reqId = `rd${Math.random().toString(36).slice(2)}`;
                  d.send({ type: "read", roomId: room.id, seq: a.seq, reqId });
                  const reply = await d.next(isReplyTo(reqId));
                  expect(reply).toMatchObject(member ? { type: "ok" } : { type: "error", code: "not_found" });
                }
                if (member) room.read.set(actor.id, want!);
                break;
              }
              case "join": {
                if (member) break;
                const r = await api("POST", `${base}/join`, { token: actor.token });
                if (!room.isPublic) {
                  expect(r.status).toBe(404);
                  break;
                }
                expect(r.status).toBe(200);
                room.read.set(actor.id, room.lastSeq);
                note(actor.id, room.id, "add");
                clients.set(`${actor.id}|${room.id}`, await openRoomClient(actor, room.id));
                break;
              }
              case "invite": {
                const target = users[a.target];
                if (room.read.has(target.id)) break;
                const r = await api("POST", `${base}/members`, { token: actor.token, body: { userId: target.id } });
                if (!member) {
                  expect(r.status).toBe(404);
                  break;
                }
                expect(r.status).toBe(200);
                room.read.set(target.id, room.lastSeq);
                note(target.id, room.id, "add");
                clients.set(`${target.id}|${room.id}`, await openRoomClient(target, room.id));
                break;
              }
              case "leave": {
                const r = await api("POST", `${base}/leave`, { token: actor.token });
                if (!member) {
                  expect(r.status).toBe(404);
                  break;
                }
                expect(r.status).toBe(200);
                room.read.delete(actor.id);
                note(actor.id, room.id, "remove");
                await dropClient(actor.id, room);
                if (room.owner === actor.id) {
                  // The room picks the heir; learn it from the room.
                  const anyone = users.find((u) => room.read.has(u.id));
                  room.owner = anyone ? ([...(await roomSnapshot(anyone.token, room.id)).members.values()].find((m) => m.role === "owner")?.userId ?? null) : null;
                }
                break;
              }
              case "remove": {
                const target = users[a.target];
                if (!member || !room.read.has(target.id) || target.id === actor.id) break;
                const r = await api("DELETE", `${base}/members/${target.id}`, { token: actor.token });
                if (room.owner !== actor.id) {
                  expect(r.status).toBe(403);
                  break;
                }
                expect(r.status).toBe(200);
                room.read.delete(target.id);
                note(target.id, room.id, "remove");
                await dropClient(target.id, room);
                break;
              }
            }
          }

          // ---- rooms: every client's replayed state equals a fresh snapshot
          for (const [key, c] of clients) {
            const [userId, roomId] = key.split("|");
            const user = users.find((u) => u.id === userId)!;
            // Everything the actions caused was broadcast before the room answered them (they all
            // went to the room itself); the fence makes sure this socket has all of it.
            const fresh = await roomSnapshot(user.token, roomId);
            const want = normalRoom([...fresh.messages.values()], [...fresh.members.values()]);
            await fence(c.socket);
            expect(roomClientState(c), `room client of ${userId} in ${roomId}`).toEqual(want);
            expect(c.socket.isClosed()).toBe(false);
          }

          // ---- inboxes: socket-derived == GET /me/rooms == what the rooms imply
          const truth = async () => {
            const out = new Map<string, InboxFields[]>();
            for (const u of users) out.set(u.id, []);
            for (const room of rooms) {
              const anyone = users.find((u) => room.read.has(u.id));
              if (!anyone) continue;
              const snap = await roomSnapshot(anyone.token, room.id);
              const msgs = [...snap.messages.values()].sort((x, y) => x.seq - y.seq);
              const last = msgs.at(-1);
              for (const [userId, read] of room.read) {
                const counted = msgs.filter((m) => m.seq > read && m.senderId !== userId && m.deletedAt === null);
                out.get(userId)!.push({
                  roomId: room.id,
                  role: snap.members.get(userId)!.role,
                  lastSeq: room.lastSeq,
                  lastReadSeq: read,
                  unread: counted.length,
                  mentions: counted.filter((m) => m.mentions.all || m.mentions.users.includes(userId)).length,
                  lastMessage: last ? { id: last.id, deleted: last.deletedAt !== null } : null,
                });
              }
            }
            return out;
          };
          const expected = await truth();
          const runRoom = new Set(rooms.map((r) => r.id));
          const compare = async () => {
            const out = [];
            for (const [i, u] of users.entries()) {
              const rest = await api("GET", "/api/v1/me/rooms", { token: u.token });
              const fromSocket = deviceState(devices[i].first, devices[i].socket.log);
              out.push({
                user: u.username,
                fromSocket,
                rest: byRoom(rest.body.rooms),
                model: byRoom(expected.get(u.id)!),
                socketRunRooms: fromSocket.filter((r) => runRoom.has(r.roomId)),
              });
            }
            return out;
          };
          let seen = await compare();
          const settled = () => seen.every((s) => JSON.stringify(s.fromSocket) === JSON.stringify(s.rest) && JSON.stringify(s.socketRunRooms) === JSON.stringify(s.model));
          for (const end = Date.now() + 3500; !settled() && Date.now() < end; ) {
            await sleep(100);
            seen = await compare();
          }
          for (const s of seen) {
            expect(s.fromSocket, `inbox of ${s.user}: device socket vs GET /me/rooms`).toEqual(s.rest);
            expect(s.socketRunRooms, `inbox of ${s.user}: device socket vs the rooms`).toEqual(s.model);
          }

          // ---- audits: schemas, and nothing about a room after a removal
          for (const d of devices) for (const f of d.socket.log) expect(ServerDeviceFrame.safeParse(f).success, JSON.stringify(f)).toBe(true);
          for (const c of [...clients.values(), ...retired]) for (const f of c.socket.log) expect(ServerRoomFrame.safeParse(f).success, JSON.stringify(f)).toBe(true);
          for (const r of retired) {
            // The removed person's room socket closed before member.left went out.
            expect(r.socket.log.filter((f) => f.type === "member.left" && f.userId === r.userId), `room socket of ${r.userId}`).toEqual([]);
          }
          for (const [i, u] of users.entries()) {
            for (const room of rooms) {
              const events = membership.get(`${u.id}|${room.id}`) ?? [];
              let at = 0;
              let inRoom = false;
              for (const f of devices[i].socket.log) {
                if (!aboutRoom(f, room.id)) continue;
                const where = `${u.username} in ${room.id}: ${JSON.stringify(f)} after ${JSON.stringify(events.slice(0, at))}`;
                if (f.type === "inbox.removed") {
                  expect(inRoom && events[at] === "remove", `unexpected inbox.removed: ${where}`).toBe(true);
                  at++;
                  inRoom = false;
                } else if (!inRoom) {
                  // After a removal (or before the first add) only a new add may speak of the room.
                  expect(f.type === "inbox.room" && events[at] === "add", `frame about a room the user is not in: ${where}`).toBe(true);
                  at++;
                  inRoom = true;
                }
              }
              expect(at, `${u.username} in ${room.id}: membership frames ${at} of ${JSON.stringify(events)}`).toBe(events.length);
            }
          }
        } finally {
          // Closed and waited for: the room and user objects log each close, and a log line
          // still on its way when the file's environment is torn down fails the whole run
          // (vitest: "Closing rpc while onUserConsoleLog was pending").
          const all = [...[...clients.values()].map((c) => c.socket), ...devices.map((d) => d.socket)];
          for (const s of all) s.close();
          await Promise.all(all.map((s) => s.closed().catch(() => null)));
        }
      }),
      { numRuns: 25, endOnFailure: true },
    );
    expect(runs).toBeGreaterThanOrEqual(25);
  }, 300_000);
});
