// The hand-checked msg.send path in protocol/frames.ts must accept exactly a
// subset of what the ClientRoomFrame schema accepts, and give the same frame.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClientRoomFrame, parseClientFrame, parseClientRoomFrame } from "../../protocol/frames";

const viaSchema = (raw: string) => parseClientFrame(ClientRoomFrame, raw);

const clientIds = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
  fc.string({ maxLength: 70 }),
  fc.constantFrom("", "a".repeat(64), "a".repeat(65), "ok\n", "ok/", "ü"),
);
const anyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
const anyFrame = fc.record(
  {
    type: fc.oneof(fc.constant("msg.send"), fc.constantFrom("msg.edit", "ping", "typing", "MSG.SEND"), anyValue),
    clientId: fc.oneof(clientIds, anyValue),
    text: fc.oneof(fc.string(), fc.string({ unit: "binary" }), anyValue),
    reqId: fc.oneof(fc.string({ maxLength: 70 }), anyValue),
    replyTo: fc.oneof(fc.string(), anyValue),
    extra: anyValue,
  },
  { requiredKeys: [] },
);
// Mostly frames the fast path has to judge: a msg.send with one thing perhaps wrong.
const nearSend = fc.record(
  {
    type: fc.constant("msg.send"),
    clientId: clientIds,
    text: fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constant(1)),
    reqId: fc.oneof(fc.string({ maxLength: 70 }), fc.constant(null)),
    replyTo: fc.string(),
  },
  { requiredKeys: ["type", "clientId", "text"] },
);
const frames = fc.oneof({ arbitrary: nearSend, weight: 3 }, { arbitrary: anyFrame, weight: 1 });

describe("room frame parsing", () => {
  it("gives the schema's answer for every frame (fast path or not)", () => {
    fc.assert(
      fc.property(frames, (frame) => {
        const raw = JSON.stringify(frame);
        expect(parseClientRoomFrame(raw)).toEqual(viaSchema(raw));
      }),
      { numRuns: 5000 },
    );
  });

  it("still refuses what the schema refuses, with its codes", () => {
    for (const raw of [
      '{"type":"msg.send","clientId":"a","text":"x","extra":1}',
      '{"type":"msg.send","clientId":"a b","text":"x"}',
      `{"type":"msg.send","clientId":"${"a".repeat(65)}","text":"x"}`,
      '{"type":"msg.send","clientId":"a","text":5}',
      '{"type":"msg.send","clientId":"a","text":"x","reqId":""}',
      '{"type":"msg.send","clientId":"a","text":"x","__proto__":{"x":1}}',
      '{"type":"msg.send","text":"x"}',
      "[1]",
      "null",
      "{",
    ]) {
      const r = parseClientRoomFrame(raw);
      expect(r.ok, raw).toBe(false);
      expect(r).toEqual(viaSchema(raw));
    }
    expect(parseClientRoomFrame('{"type":"msg.send","clientId":"c-1","text":"hi","reqId":"r"}')).toEqual({ ok: true, frame: { type: "msg.send", clientId: "c-1", text: "hi", reqId: "r" } });
  });
});
