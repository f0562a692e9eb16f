import { describe, expect, it } from "vitest";
import { ServerBatch, ServerRoomFrame } from "../../protocol/frames";
import { expectFrame, fence, newRoom, newUser, openRoomSocket, type RoomSocketFrame } from "./helpers";

/** The frames of a batched socket as if each had come alone. */
const unwrap = (frames: RoomSocketFrame[]): ServerRoomFrame[] => frames.flatMap((f) => (f.type === "batch" ? f.frames : [f]));

describe("batched room frames (?batch=1)", () => {
  it("delivers every event once and in order, batched under load, single frames when quiet", async () => {
    const a = await newUser("ba");
    const b = await newUser("bb");
    const room = await newRoom(a.token, "Batch", "private", [b.id]);
    const sender = (await openRoomSocket(room.id, a.token)).socket!;
    const batched = (await openRoomSocket(room.id, b.token, "?batch=1")).socket!;
    const plain = (await openRoomSocket(room.id, b.token)).socket!;
    await sender.next((f) => f.type === "hello");
    await batched.next((f) => f.type === "hello");
    await plain.next((f) => f.type === "hello");
    // A burst of 40 sends. Events closer together than the window (1 ms here) share a frame; on a
    // loaded machine a burst's events may all land further apart (each handled in over 1 ms, so the
    // window closes between them: a fresh-clone CI once saw three bursts in a row go out unbatched),
    // so up to five bursts are sent: 200 messages, the sender's burst budget (more are refused as
    // rate_limited). Here a burst usually batches in the first or second round.
    const BURST = 40;
    let N = 0;
    const seqs = () => unwrap(batched.frames).filter((f) => f.type === "msg.new").map((f) => f.message.seq);
    let deadline = Date.now();
    for (let round = 0; round < 5 && !batched.frames.some((f) => f.type === "batch"); round++) {
      for (let i = N; i < N + BURST; i++) sender.send({ type: "msg.send", clientId: `b${i}`, text: `burst ${i}` });
      for (let i = N; i < N + BURST; i++) await sender.next("msg.ack", (f) => f.clientId === `b${i}`);
      N += BURST;
      // Unwrap what the batched socket received.
      deadline = Date.now() + 5000;
      while (seqs().length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(seqs()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    }
    // Under a burst, events were grouped (fewer frames than events).
    expect(batched.frames.some((f) => f.type === "batch")).toBe(true);
    for (const f of batched.frames) {
      if (f.type === "batch") expect(ServerBatch.safeParse(f).success).toBe(true);
      else expect(ServerRoomFrame.safeParse(f).success).toBe(true);
    }
    // The plain socket never sees a batch frame.
    while (plain.frames.filter((f) => f.type === "msg.new").length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(plain.frames.some((f) => f.type === "batch")).toBe(false);
    expect(plain.frames.filter((f) => f.type === "msg.new").map((f) => f.message.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Quiet room: a lone message arrives as itself, not wrapped.
    await new Promise((r) => setTimeout(r, 50));
    sender.send({ type: "msg.send", clientId: "alone", text: "alone" });
    await sender.next("msg.ack", (f) => f.clientId === "alone");
    const lone = await batched.next((f) => (f.type === "msg.new" && f.message.clientId === "alone") || (f.type === "batch" && f.frames.some((x) => (x.type === "msg.new" || x.type === "msg.updated") && x.message.clientId === "alone")));
    expect(lone.type).toBe("msg.new");
  });

  it("a batched sender gets every ack exactly once, in the same frames as the events queued before it", async () => {
    const a = await newUser("bs");
    const b = await newUser("bt");
    const room = await newRoom(a.token, "Batch acks", "private", [b.id]);
    const sender = (await openRoomSocket(room.id, a.token, "?batch=1")).socket!;
    const other = (await openRoomSocket(room.id, b.token, "?batch=1")).socket!;
    await sender.next((f) => f.type === "hello");
    await other.next((f) => f.type === "hello");
    const N = 40;
    for (let i = 0; i < N; i++) sender.send({ type: "msg.send", clientId: `s${i}`, text: `burst ${i}` });
    const deadline = Date.now() + 5000;
    while (unwrap(sender.frames).filter((f) => f.type === "msg.ack").length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const mine = unwrap(sender.frames);
    // Every ack once. (Frames sent back to back, without waiting for acks, may be
    // taken in another order by the runtime: the SDK's queue waits for each ack.)
    const acks = mine.filter((f) => f.type === "msg.ack");
    expect(acks.map((f) => f.clientId).sort()).toEqual(Array.from({ length: N }, (_, i) => `s${i}`).sort());
    expect(mine.filter((f) => f.type === "msg.new").map((f) => f.message.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Under the burst some acks waited for the window with the events queued before them.
    expect(sender.frames.some((f) => f.type === "batch" && f.frames.some((x) => x.type === "msg.ack"))).toBe(true);
    // An ack never overtakes an event queued before it: when the ack for seq k is
    // made, the echo of seq k-1 has gone out already or waits in the queue ahead of it.
    for (const ack of acks) {
      const ackAt = mine.indexOf(ack);
      const previousEcho = mine.findIndex((f) => f.type === "msg.new" && f.message.seq === ack.seq - 1);
      if (ack.seq > 1) {
        expect(previousEcho).toBeGreaterThanOrEqual(0);
        expect(previousEcho).toBeLessThan(ackAt);
      }
    }
    // The other member saw every event once, in order.
    while (unwrap(other.frames).filter((f) => f.type === "msg.new").length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(unwrap(other.frames).filter((f) => f.type === "msg.new").map((f) => f.message.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Quiet again: a lone message reaches its batched sender as one frame, its echo and its ack together.
    await new Promise((r) => setTimeout(r, 50));
    sender.send({ type: "msg.send", clientId: "lone", text: "lone" });
    const pair = await sender.next("batch", (f) => f.frames.some((x) => x.type === "msg.ack" && x.clientId === "lone"));
    expect(pair.frames.map((x) => x.type)).toEqual(["msg.new", "msg.ack"]);
    const [echo, ack] = pair.frames;
    expectFrame(echo, "msg.new");
    expect(echo.message.clientId).toBe("lone");
    expect(ack).toMatchObject({ seq: N + 1, duplicate: false });
    // The room sends its answer to a fence after everything it queued for this socket before.
    await fence(sender);
    expect(JSON.stringify(sender.frames)).not.toContain('"lone"'); // nothing else about it arrived
    const otherLone = await other.next("msg.new", (f) => f.message.clientId === "lone");
    expect(otherLone.message.seq).toBe(N + 1);
  });
});
