/**
 * lenient() over everything the server sends: every REST answer in
 * protocol/api.ts, every room and device frame, the error body. For each, a
 * sample value is made from the schema itself; with an unknown field added to
 * every object at every depth, the strict schema (server, tests) refuses it and
 * the lenient copy (clients) gives back exactly the sample.
 */
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ROUTES } from "../../protocol/api";
import { ServerBatch, ServerRoomFrame } from "../../protocol/frames";
import { ServerDeviceFrame } from "../../protocol/device";
import { ErrorBodySchema } from "../../protocol/errors";
import { MessageSchema } from "../../protocol/models";
import { lenient } from "../../protocol/lenient";

type Def = { type: string; [k: string]: unknown };
const defOf = (s: z.ZodType) => s.def as unknown as Def;

/** A valid value of `schema` (the first option of every union and enum). */
function sample(schema: z.ZodType): unknown {
  const def = defOf(schema);
  switch (def.type) {
    case "object":
      return Object.fromEntries(Object.entries(def.shape as Record<string, z.ZodType>).map(([k, v]) => [k, sample(v)]));
    case "array":
      return [sample(def.element as z.ZodType)];
    case "tuple":
      return (def.items as z.ZodType[]).map(sample);
    case "optional":
    case "nullable":
    case "default":
    case "readonly":
      return sample(def.innerType as z.ZodType);
    case "union":
      return sample((def.options as z.ZodType[])[0]);
    case "literal":
      return (def.values as unknown[])[0];
    case "enum":
      return Object.values(def.entries as Record<string, unknown>)[0];
    case "string":
      // A string with a pattern (an avatar's SHA-256 hex) needs a value that matches it.
      return ["s", "0".repeat(64)].find((v) => schema.safeParse(v).success) ?? "s";
    case "number":
    case "int":
      return 1;
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      throw new Error(`no sample for ${def.type}`);
  }
}

/** The value with an unknown field in every object, at every depth. */
function withExtras(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withExtras);
  if (value && typeof value === "object") return { ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withExtras(v)])), addedByANewerNode: { x: 1 } };
  return value;
}

/** Each option of a union on its own (every frame type gets its own sample). */
const optionsOf = (s: z.ZodType): z.ZodType[] => (defOf(s).type === "union" ? (defOf(s).options as z.ZodType[]) : [s]);

const serverSends: [string, z.ZodType][] = [
  ...Object.entries(ROUTES).flatMap(([route, { answer }]) => (typeof answer === "string" ? [] : [[route, answer] as [string, z.ZodType]])),
  ...optionsOf(ServerRoomFrame).map((s) => [`room frame ${(sample(s) as { type: string }).type}`, s] as [string, z.ZodType]),
  ...optionsOf(ServerDeviceFrame).map((s) => [`device frame ${(sample(s) as { type: string }).type}`, s] as [string, z.ZodType]),
  ["room frame batch", ServerBatch],
  ["error body", ErrorBodySchema],
];

describe("lenient()", () => {
  it.each(serverSends)("%s: the strict schema refuses added fields, the lenient copy drops them", (_, schema) => {
    const value = sample(schema);
    expect(schema.parse(value)).toEqual(value);
    const newer = withExtras(value);
    expect(schema.safeParse(newer).success).toBe(false);
    expect(lenient(schema).parse(newer)).toEqual(value);
  });

  it("keeps every other check: a wrong type or a missing field still fails", () => {
    const m = sample(MessageSchema) as Record<string, unknown>;
    expect(lenient(MessageSchema).safeParse({ ...m, seq: "1" }).success).toBe(false);
    expect(lenient(MessageSchema).safeParse({ ...m, seq: 1.5 }).success).toBe(false);
    const { text: _, ...noText } = m;
    expect(lenient(MessageSchema).safeParse(noText).success).toBe(false);
    expect(lenient(ServerRoomFrame).safeParse({ type: "future.event" }).success).toBe(false);
  });

  it("is made once per schema", () => {
    expect(lenient(ServerRoomFrame)).toBe(lenient(ServerRoomFrame));
  });
});
