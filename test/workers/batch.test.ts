import { describe, expect, it } from "vitest";
import { ServerBatch, ServerRoomFrame } from "../../protocol/frames";
import { newRoom, newUser, openRoomSocket } from "./helpers";

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
    const N = 40;
    for (let i = 0; i < N; i++) sender.send({ type: "msg.send", clientId: `b${i}`, text: `burst ${i}` });
    for (let i = 0; i < N; i++) await sender.next((f) => f.type === "msg.ack" && f.clientId === `b${i}`);
    // Unwrap what the batched socket received.
    const deadline = Date.now() + 5000;
    const seqs = () => batched.frames.flatMap((f) => (f.type === "batch" ? f.frames : [f])).filter((f: any) => f.type === "msg.new").map((f: any) => f.message.seq);
    while (seqs().length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seqs()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
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
    await sender.next((f) => f.type === "msg.ack" && f.clientId === "alone");
    const lone = await batched.next((f) => (f.type === "msg.new" && f.message.clientId === "alone") || (f.type === "batch" && f.frames.some((x: any) => x.message?.clientId === "alone")));
    expect(lone.type).toBe("msg.new");
  });
});
