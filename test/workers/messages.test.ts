/**
 * Messages over REST: sequence numbers, idempotent retries, history paging,
 * edits, recall (window and admin override), reactions, replies, mentions and
 * input validation. Every refused request must leave the history unchanged.
 */
import { describe, expect, it } from "vitest";
import { api, history, newRoom, newSession, newUser, postMessage, sendMessage, sleep, type Res } from "./helpers";
import type { Message } from "../../protocol/models";

const msgUrl = (roomId: string, mid = "") => `/api/v1/rooms/${roomId}/messages${mid ? `/${mid}` : ""}`;

async function roomWith(n: number, kind: "public" | "private" = "private") {
  const users = [];
  for (let i = 0; i < n; i++) users.push(await newUser("msg"));
  const room = await newRoom(users[0].token, "talk", kind, users.slice(1).map((u) => u.id));
  return { room, users };
}

describe("sending", () => {
  it("assigns strictly increasing seq 1, 2, 3 and answers 201", async () => {
    const { room, users: [a, b] } = await roomWith(2);
    const seqs = [];
    for (const [u, text] of [[a, "one"], [b, "two"], [a, "three"]] as const) {
      const r = await sendMessage(u.token, room.id, text);
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ roomId: room.id, senderId: u.id, text, replyTo: null, editedAt: null, deletedAt: null, reactions: [] });
      expect(r.body.id).toMatch(/^m_[a-z0-9]{16}$/);
      seqs.push(r.body.seq);
    }
    expect(seqs).toEqual([1, 2, 3]);
    const h = await history(a.token, room.id);
    expect(h.messages.map((m) => m.text)).toEqual(["one", "two", "three"]);
    expect(h.lastSeq).toBe(3);
  });

  it("a retry with the same clientId returns the original (200) and stores nothing", async () => {
    const { room, users: [a] } = await roomWith(1);
    const first = await sendMessage(a.token, room.id, "original", "retry-1");
    expect(first.status).toBe(201);
    const again = await sendMessage(a.token, room.id, "changed text", "retry-1");
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const h = await history(a.token, room.id);
    expect(h.messages).toHaveLength(1);
    expect(h.messages[0].text).toBe("original");
    expect(h.lastSeq).toBe(1);
  });

  it("the same clientId from another session of the same user is a new message", async () => {
    const { room, users: [a] } = await roomWith(1);
    const other = await newSession(a);
    const first = await sendMessage(a.token, room.id, "from laptop", "same-id");
    const second = await sendMessage(other, room.id, "from phone", "same-id");
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.seq).toBe(2);
    expect((await history(a.token, room.id)).messages.map((m) => m.text)).toEqual(["from laptop", "from phone"]);
  });

  it("the same clientId from two different users is two messages", async () => {
    const { room, users: [a, b] } = await roomWith(2);
    expect((await sendMessage(a.token, room.id, "a", "shared")).status).toBe(201);
    expect((await sendMessage(b.token, room.id, "b", "shared")).status).toBe(201);
    expect((await history(a.token, room.id)).messages).toHaveLength(2);
  });
});

describe("history", () => {
  it("pages with before, after and limit, always in seq order", async () => {
    const { room, users: [a] } = await roomWith(1);
    for (let i = 1; i <= 7; i++) await postMessage(a.token, room.id, `m${i}`);
    const seqs = (h: { messages: Message[] }) => h.messages.map((m) => m.seq);

    const newest = await history(a.token, room.id, "?limit=3");
    expect(seqs(newest)).toEqual([5, 6, 7]);
    expect(newest.hasMore).toBe(true);

    const older = await history(a.token, room.id, "?before=5&limit=3");
    expect(seqs(older)).toEqual([2, 3, 4]);
    expect(older.hasMore).toBe(true);
    const oldest = await history(a.token, room.id, "?before=2&limit=3");
    expect(seqs(oldest)).toEqual([1]);
    expect(oldest.hasMore).toBe(false);

    const forward = await history(a.token, room.id, "?after=2&limit=3");
    expect(seqs(forward)).toEqual([3, 4, 5]);
    expect(forward.hasMore).toBe(true);
    const tail = await history(a.token, room.id, "?after=5&limit=3");
    expect(seqs(tail)).toEqual([6, 7]);
    expect(tail.hasMore).toBe(false);

    expect(seqs(await history(a.token, room.id, "?after=0"))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seqs(await history(a.token, room.id, "?after=2&before=6"))).toEqual([3, 4, 5]);
    expect(seqs(await history(a.token, room.id, "?after=7"))).toEqual([]);
    expect(seqs(await history(a.token, room.id, "?limit=100"))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("refuses limits over 100, negative or non-numeric values, and unknown parameters", async () => {
    const { room, users: [a] } = await roomWith(1);
    await postMessage(a.token, room.id, "x");
    for (const q of ["?limit=101", "?limit=0", "?limit=-1", "?before=-1", "?after=-5", "?limit=abc", "?limit=1.5", "?since=3"]) {
      const r = await api("GET", `${msgUrl(room.id)}${q}`, { token: a.token });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe("invalid_request");
    }
  });

  it("fetches one message by id; unknown or malformed ids are 404", async () => {
    const { room, users: [a] } = await roomWith(1);
    const m = await postMessage(a.token, room.id, "single");
    const r = await api("GET", msgUrl(room.id, m.id), { token: a.token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(m);
    expect((await api("GET", msgUrl(room.id, "m_0000000000000000"), { token: a.token })).status).toBe(404);
    expect((await api("GET", msgUrl(room.id, "nonsense"), { token: a.token })).status).toBe(404);
  });
});

describe("editing", () => {
  it("the author edits: text replaced, editedAt set, version increases", async () => {
    const { room, users: [a] } = await roomWith(1);
    const m = await postMessage(a.token, room.id, "typo");
    const r = await api("PATCH", msgUrl(room.id, m.id), { token: a.token, body: { text: "fixed" } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: m.id, seq: m.seq, text: "fixed" });
    expect(r.body.editedAt).toBeGreaterThanOrEqual(m.createdAt);
    expect(r.body.version).toBeGreaterThan(m.version);
    const again = await api("PATCH", msgUrl(room.id, m.id), { token: a.token, body: { text: "fixed again" } });
    expect(again.body.version).toBeGreaterThan(r.body.version);
    expect((await history(a.token, room.id)).messages).toEqual([again.body]);
  });

  it("others cannot edit (403), and nothing changes", async () => {
    const { room, users: [a, b] } = await roomWith(2);
    const m = await postMessage(a.token, room.id, "mine");
    const r = await api("PATCH", msgUrl(room.id, m.id), { token: b.token, body: { text: "yours now" } });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    // Not even the owner edits someone else's words.
    const m2 = await postMessage(b.token, room.id, "b's");
    expect((await api("PATCH", msgUrl(room.id, m2.id), { token: a.token, body: { text: "owner's" } })).status).toBe(403);
    expect((await history(a.token, room.id)).messages.map((x) => [x.text, x.editedAt])).toEqual([["mine", null], ["b's", null]]);
  });

  it("an edit is validated like a new message", async () => {
    const { room, users: [a] } = await roomWith(1);
    const m = await postMessage(a.token, room.id, "keep");
    expect((await api("PATCH", msgUrl(room.id, m.id), { token: a.token, body: { text: "  " } })).status).toBe(400);
    expect((await api("PATCH", msgUrl(room.id, m.id), { token: a.token, body: { text: "x".repeat(16385) } })).status).toBe(413);
    expect((await api("PATCH", msgUrl(room.id, m.id), { token: a.token, body: { text: "ok", extra: 1 } })).status).toBe(400);
    expect((await history(a.token, room.id)).messages).toEqual([m]);
  });
});

describe("recall", () => {
  it("the author recalls within the window, leaving a tombstone", async () => {
    const { room, users: [a, b] } = await roomWith(2);
    const m = await postMessage(a.token, room.id, "oops @all");
    await api("POST", `${msgUrl(room.id, m.id)}/reactions`, { token: b.token, body: { emoji: "👀" } });
    const r = await api("DELETE", msgUrl(room.id, m.id), { token: a.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: m.id, seq: m.seq, text: "", reactions: [], mentions: { users: [], all: false } });
    expect(r.body.deletedAt).toEqual(expect.any(Number));
    expect(r.body.version).toBeGreaterThan(m.version);
    const h = await history(b.token, room.id);
    expect(h.messages).toHaveLength(1);
    expect(h.messages[0]).toMatchObject({ id: m.id, text: "", deletedAt: r.body.deletedAt });
    // A recalled message can no longer be edited or reacted to.
    expect((await api("PATCH", msgUrl(room.id, m.id), { token: a.token, body: { text: "back" } })).status).toBe(409);
    expect((await api("POST", `${msgUrl(room.id, m.id)}/reactions`, { token: b.token, body: { emoji: "👍" } })).status).toBe(409);
  });

  it("a member cannot recall someone else's message", async () => {
    const { room, users: [a, b, c] } = await roomWith(3);
    const m = await postMessage(b.token, room.id, "b says");
    const r = await api("DELETE", msgUrl(room.id, m.id), { token: c.token });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    expect((await history(a.token, room.id)).messages[0].text).toBe("b says");
  });

  it("after the window the author is refused (recall_window_passed), a room admin still can", async () => {
    const { room, users: [owner, author, adm] } = await roomWith(3);
    await api("PATCH", `/api/v1/rooms/${room.id}/members/${adm.id}`, { token: owner.token, body: { role: "admin" } });
    const m1 = await postMessage(author.token, room.id, "old news");
    const m2 = await postMessage(author.token, room.id, "older news");
    await sleep(2300); // recallWindowSeconds is 2 in the test config
    const late = await api("DELETE", msgUrl(room.id, m1.id), { token: author.token });
    expect(late.status).toBe(403);
    expect(late.body.error.code).toBe("recall_window_passed");
    expect((await history(author.token, room.id)).messages[0].text).toBe("old news");

    const byAdmin = await api("DELETE", msgUrl(room.id, m1.id), { token: adm.token });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.deletedAt).not.toBeNull();
    const byOwner = await api("DELETE", msgUrl(room.id, m2.id), { token: owner.token });
    expect(byOwner.status).toBe(200);
    expect((await history(author.token, room.id)).messages.map((x) => x.text)).toEqual(["", ""]);
  });
});

describe("reactions", () => {
  it("toggle per user per emoji", async () => {
    const { room, users: [a, b] } = await roomWith(2);
    const m = await postMessage(a.token, room.id, "react to me");
    const react = (token: string, emoji: string) => api("POST", `${msgUrl(room.id, m.id)}/reactions`, { token, body: { emoji } });

    let r = await react(a.token, "👍");
    expect(r.status).toBe(200);
    expect(r.body.reactions).toEqual([{ emoji: "👍", users: [a.id] }]);
    const v1 = r.body.version;
    r = await react(b.token, "👍");
    expect(r.body.reactions).toEqual([{ emoji: "👍", users: [a.id, b.id] }]);
    r = await react(a.token, "🎉");
    expect(r.body.reactions).toEqual([{ emoji: "👍", users: [a.id, b.id] }, { emoji: "🎉", users: [a.id] }]);
    r = await react(a.token, "👍");
    expect(r.body.reactions).toEqual([{ emoji: "👍", users: [b.id] }, { emoji: "🎉", users: [a.id] }]);
    r = await react(b.token, "👍");
    expect(r.body.reactions).toEqual([{ emoji: "🎉", users: [a.id] }]);
    expect(r.body.version).toBeGreaterThan(v1);
    expect((await history(b.token, room.id)).messages[0].reactions).toEqual([{ emoji: "🎉", users: [a.id] }]);
  });

  it("refuses bad emoji", async () => {
    const { room, users: [a] } = await roomWith(1);
    const m = await postMessage(a.token, room.id, "x");
    for (const emoji of ["", " ", "a b", "x".repeat(33)]) {
      expect((await api("POST", `${msgUrl(room.id, m.id)}/reactions`, { token: a.token, body: { emoji } })).status, JSON.stringify(emoji)).toBe(400);
    }
    expect((await history(a.token, room.id)).messages[0].reactions).toEqual([]);
  });
});

describe("replies and mentions", () => {
  it("replyTo must name a message of this room", async () => {
    const { room, users: [a] } = await roomWith(1);
    const otherRoom = await newRoom(a.token, "elsewhere");
    const there = await postMessage(a.token, otherRoom.id, "in the other room");
    const m = await postMessage(a.token, room.id, "question");
    const reply = await sendMessage(a.token, room.id, "answer", undefined, { replyTo: m.id });
    expect(reply.status).toBe(201);
    expect(reply.body.replyTo).toBe(m.id);
    for (const replyTo of [there.id, "m_0000000000000000", "not-an-id"]) {
      const r = await sendMessage(a.token, room.id, "bad reply", undefined, { replyTo });
      expect(r.status, replyTo).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
    expect((await history(a.token, room.id)).messages).toHaveLength(2);
  });

  it("@username of a member is a mention, @all mentions everyone, strangers are ignored", async () => {
    const { room, users: [a, b, c] } = await roomWith(3);
    const stranger = await newUser("stranger");
    const one = await postMessage(a.token, room.id, `hi @${b.username}, see this`);
    expect(one.mentions).toEqual({ users: [b.id], all: false });
    const two = await postMessage(a.token, room.id, `@${c.username} and @${b.username}.`);
    expect(two.mentions).toEqual({ users: [b.id, c.id].sort(), all: false });
    const all = await postMessage(a.token, room.id, "@all standup now");
    expect(all.mentions).toEqual({ users: [], all: true });
    const none = await postMessage(a.token, room.id, `hey @${stranger.username} and mail@${b.username}`);
    expect(none.mentions).toEqual({ users: [], all: false });
    // Mentions are recomputed on edit.
    const edited = await api("PATCH", msgUrl(room.id, none.id), { token: a.token, body: { text: `ok @${c.username}` } });
    expect(edited.body.mentions).toEqual({ users: [c.id], all: false });
  });
});

describe("input validation", () => {
  it("accepts exactly 16384 bytes and refuses one more, counting UTF-8 bytes", async () => {
    const { room, users: [a] } = await roomWith(1);
    expect((await sendMessage(a.token, room.id, "a".repeat(16384))).status).toBe(201);
    const over = await sendMessage(a.token, room.id, "a".repeat(16385));
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe("too_large");
    expect((await sendMessage(a.token, room.id, "中".repeat(5461))).status).toBe(201); // 16383 bytes
    const wide = await sendMessage(a.token, room.id, "中".repeat(5462)); // 16386 bytes, 5462 characters
    expect(wide.status).toBe(413);
    expect(wide.body.error.code).toBe("too_large");
    const emoji = await sendMessage(a.token, room.id, "😀".repeat(4097)); // 16388 bytes
    expect(emoji.status).toBe(413);
    expect((await history(a.token, room.id)).messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("refuses bad requests and writes nothing", async () => {
    const { room, users: [a] } = await roomWith(1);
    const url = msgUrl(room.id);
    const cases: [string, Promise<Res>, number, string][] = [
      ["empty", sendMessage(a.token, room.id, ""), 400, "invalid_request"],
      ["whitespace", sendMessage(a.token, room.id, " \n\t "), 400, "invalid_request"],
      ["NUL", sendMessage(a.token, room.id, "a\u0000b"), 400, "invalid_request"],
      ["escape char", sendMessage(a.token, room.id, "a\u001bb"), 400, "invalid_request"],
      ["lone surrogate", sendMessage(a.token, room.id, "a\ud800b"), 400, "invalid_request"],
      ["unknown field", api("POST", url, { token: a.token, body: { text: "hi", clientId: "u1", sender: "someone" } }), 400, "invalid_request"],
      ["no clientId", api("POST", url, { token: a.token, body: { text: "hi" } }), 400, "invalid_request"],
      ["bad clientId", api("POST", url, { token: a.token, body: { text: "hi", clientId: "has space" } }), 400, "invalid_request"],
      ["text not a string", api("POST", url, { token: a.token, body: { text: 42, clientId: "n1" } }), 400, "invalid_request"],
      ["array body", api("POST", url, { token: a.token, body: [{ text: "hi", clientId: "a1" }] }), 400, "invalid_request"],
      ["malformed JSON", api("POST", url, { token: a.token, raw: '{"text": "hi", "clientId": ' }), 400, "bad_json"],
      ["text/plain", api("POST", url, { token: a.token, raw: '{"text":"hi","clientId":"t1"}', headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type"],
      ["no content-type", api("POST", url, { token: a.token, raw: '{"text":"hi","clientId":"t2"}', headers: { "content-type": "" } }), 415, "unsupported_media_type"],
    ];
    for (const [name, pending, status, code] of cases) {
      const r = await pending;
      expect(r.status, name).toBe(status);
      expect(r.body?.error?.code, name).toBe(code);
    }
    const h = await history(a.token, room.id);
    expect(h.messages).toEqual([]);
    expect(h.lastSeq).toBe(0);
    // The next good message still gets seq 1: refused requests left no gap.
    expect((await postMessage(a.token, room.id, "first real one")).seq).toBe(1);
  });
});
