/**
 * Clients parse what the server sends leniently; the server and the tests stay
 * strict.
 *
 * Every server→client schema is declared once, strict (`z.strictObject`), so a
 * server that leaks a field is caught by its own checks and by the tests. A
 * client that parsed with those same schemas would drop every `msg.new` the
 * day a newer node adds one field to `Message` — in a cluster of nodes on
 * different versions, during every upgrade. So clients derive their copy with
 * `lenient()`: the same checks, except that objects at any depth drop fields
 * they do not know instead of refusing the whole value (Zulip's web client
 * does the same; its server forbids undeclared fields). Unknown frame *types*
 * still fail to parse: the SDK ignores such a frame and counts it
 * (`ignoredFrames` on its sockets).
 *
 * Enum values are not loosened: a new value (a role, a presence status) still
 * fails the value that carries it, so the server must not send one to clients
 * that cannot know it.
 *
 * @example
 *   lenient(MessageSchema).parse({ ...message, threadId: "t1" }) // the message, without threadId
 *   MessageSchema.parse({ ...message, threadId: "t1" })          // throws: unrecognized key
 */
import type { z } from "zod";

const made = new WeakMap<z.ZodType, z.ZodType>();

/**
 * The lenient copy of `schema`, made once per schema and remembered. Typed as
 * the schema itself: a strict and a stripping object infer the same type.
 */
export function lenient<T extends z.ZodType>(schema: T): T {
  let copy = made.get(schema);
  if (!copy) {
    copy = loosen(schema);
    made.set(schema, copy);
  }
  return copy as T;
}

/**
 * Rebuild the schema tree with every object stripping unknown keys. Only the
 * kinds server→client schemas use are handled; any other kind is an error at
 * start-up (test/protocol/lenient.test.ts loosens every schema the server
 * sends), so a new kind gets a deliberate decision instead of staying strict by
 * accident.
 */
function loosen(schema: z.ZodType): z.ZodType {
  // `def` and `clone(def)` are zod 4's public way to read and rebuild a schema;
  // the def's fields depend on its `type`, hence the loose typing here.
  const def = schema.def as unknown as Record<string, unknown> & { type: string };
  const rebuilt = (changes: Record<string, unknown>) => schema.clone({ ...def, ...changes } as typeof schema.def);
  switch (def.type) {
    case "object": {
      const shape = Object.fromEntries(Object.entries(def.shape as Record<string, z.ZodType>).map(([key, field]) => [key, lenient(field)]));
      // No catchall: unknown keys are stripped (a strict object's catchall is `never`).
      return rebuilt({ shape, catchall: undefined });
    }
    case "array":
      return rebuilt({ element: lenient(def.element as z.ZodType) });
    case "optional":
    case "nullable":
    case "default":
    case "readonly":
      return rebuilt({ innerType: lenient(def.innerType as z.ZodType) });
    case "union": // discriminated unions too: they keep their discriminator
      return rebuilt({ options: (def.options as z.ZodType[]).map(lenient) });
    case "tuple":
      return rebuilt({ items: (def.items as z.ZodType[]).map(lenient), rest: def.rest ? lenient(def.rest as z.ZodType) : def.rest });
    case "string":
    case "number":
    case "int":
    case "boolean":
    case "literal":
    case "enum":
    case "null":
      return schema;
    default:
      throw new Error(`lenient(): no rule for a schema of type "${def.type}" (protocol/lenient.ts)`);
  }
}
