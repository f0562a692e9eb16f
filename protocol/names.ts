/**
 * One rule for every name a person sees: display names, room names, file
 * names. (Usernames are identifiers with their own strict pattern, in rest.ts.)
 *
 * A name is shown in member lists, titles, mentions, notifications and other
 * people's room lists, so it must read the same to everyone and never change
 * how the text around it reads. The rule, in order:
 *
 * 1. Well-formed Unicode: a lone surrogate cannot be stored as UTF-8, is
 *    mangled on the way to disk and breaks `encodeURIComponent`.
 * 2. NFC-normalised, so "é" typed two ways is one name.
 * 3. No control characters (C0, C1, DEL, line and paragraph separators): a
 *    name is one line.
 * 4. No invisible characters that can hide or reorder text: every format
 *    character (Unicode `Cf`: bidi overrides and isolates U+202A–202E and
 *    U+2066–2069, the marks U+200E/200F/061C, U+200B, U+2060, U+FEFF, soft
 *    hyphen, interlinear annotations U+FFF9–FFFB, …) and every other
 *    default-ignorable character (Hangul fillers U+115F/1160/3164/FFA0, …).
 *    Names are shown inside `dir="auto"` isolates, so no name needs a bidi
 *    mark to display right; marks in a name only serve to change how the text
 *    *around* it reads. Kept, because real names and emoji need them: ZWJ and
 *    ZWNJ (emoji sequences, Persian, Indic scripts) and U+180E (Mongolian)
 *    between other characters; one variation selector after a character (❤️);
 *    the tag characters of an emoji tag sequence (🏴 subdivision flags) —
 *    anywhere else tag characters and runs of variation selectors can carry
 *    hidden text.
 * 5. At most 8 combining marks stacked on one character ("Zalgo" text spills
 *    over the lines above and below; no script needs more).
 * 6. Trimmed (whitespace, joiners, U+2800 BRAILLE BLANK at either end), and
 *    not invisible-only: "   ", "\u3000", "\u200b", a lone combining mark.
 * 7. Length limits in characters (code points), counted after all of the above.
 *
 * Request fields are refused when they break the rule (`checkName`, and the
 * zod schemas below, so the error names the field); file names come from
 * people's disks and are cleaned by the same rule instead (`cleanName`).
 *
 * @example
 *   checkName(" Zoë ", 64)         // { ok: true, name: "Zoë" }
 *   checkName("Eve\u202e", 64)     // { ok: false, problem: "hidden", message: "contains an invisible character (U+202E) that can hide or reorder text" }
 *   cleanName("a\u202eb.txt", { max: 200 })  // "ab.txt"
 */
import { z } from "zod";

/** Longest names, in characters (code points after NFC). */
export const NAME_LIMITS = { displayName: 64, roomName: 80, fileName: 200, topic: 250 } as const;

/** Combining marks allowed on one character. */
export const MAX_STACKED_MARKS = 8;

export type NameProblem = "not_unicode" | "control" | "hidden" | "stacked_marks" | "empty" | "too_long";

export type NameCheck = { ok: true; name: string } | { ok: false; problem: NameProblem; message: string };

// With the `u` flag a surrogate range matches only unpaired halves.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const LONE_SURROGATES = /[\ud800-\udfff]/gu;
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const HIDDEN = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
/** invisible, but part of how real names are written; only between other characters */
const JOINER = /[\u200c\u200d\u180e]/u;
const VARIATION_SELECTOR = /[\ufe00-\ufe0f\u180b-\u180d\u180f\u{e0100}-\u{e01ef}]/u;
const MARK = /\p{M}/u;
const EMOJI_TAG_SEQUENCE = /\u{1f3f4}[\u{e0020}-\u{e007e}]+\u{e007f}/gu;
/** what is trimmed from both ends */
const EDGE = /^[\p{White_Space}\u200c\u200d\u180e\u2800]+|[\p{White_Space}\u200c\u200d\u180e\u2800]+$/gu;
/** a character that shows something by itself */
const VISIBLE = /[^\p{White_Space}\p{M}\p{Cf}\p{Cc}\p{Default_Ignorable_Code_Point}\u2800]/u;

/**
 * Raw input longer than this many UTF-16 units per allowed character is too
 * long whatever normalisation does (NFC shortens by far less), so a huge
 * string is refused before any work is spent on it.
 */
const RAW_UNITS_PER_CHAR = 8;

const hex = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Walk the characters, keeping or dropping each by the rule (steps 3–5).
 * Returns the kept text and the first character dropped, with why.
 */
function sift(s: string): { kept: string; dropped: { ch: string; problem: NameProblem } | null } {
  // Emoji tag sequences are legitimate: mask them so their tag characters pass.
  const tagged = new Set<number>();
  for (const m of s.matchAll(EMOJI_TAG_SEQUENCE)) for (let i = 2; i < m[0].length; i++) tagged.add(m.index! + i);
  let kept = "";
  let dropped: { ch: string; problem: NameProblem } | null = null;
  let base = false; // the previous kept character can carry a variation selector
  let marks = 0;
  let at = 0;
  for (const ch of s) {
    const index = at;
    at += ch.length;
    let problem: NameProblem | null = null;
    if (CONTROL.test(ch)) problem = "control";
    else if (tagged.has(index)) {
      kept += ch;
      continue;
    } else if (VARIATION_SELECTOR.test(ch)) {
      if (!base) problem = "hidden";
    } else if (JOINER.test(ch)) {
      // kept (edges are trimmed later)
    } else if (HIDDEN.test(ch)) problem = "hidden";
    else if (MARK.test(ch) && ++marks > MAX_STACKED_MARKS) problem = "stacked_marks";
    if (problem) {
      dropped ??= { ch, problem };
      continue;
    }
    const isVs = VARIATION_SELECTOR.test(ch);
    base = !isVs && !JOINER.test(ch);
    if (!MARK.test(ch)) marks = 0;
    kept += ch;
  }
  return { kept, dropped };
}

const trimEdges = (s: string) => s.replace(EDGE, "");
const length = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/**
 * Check a name against the rule; `name` is the normalised, trimmed form to
 * store. The message is for people and completes "<field> …".
 */
export function checkName(raw: string, max: number): NameCheck {
  const fail = (problem: NameProblem, message: string): NameCheck => ({ ok: false, problem, message });
  if (raw.length > max * RAW_UNITS_PER_CHAR) return fail("too_long", `is longer than ${max} characters`);
  const lone = LONE_SURROGATE.exec(raw);
  if (lone) return fail("not_unicode", `is not well-formed Unicode (a lone surrogate, ${hex(lone[0])})`);
  const name = trimEdges(raw.normalize("NFC"));
  const { dropped } = sift(name);
  if (dropped) {
    const ch = hex(dropped.ch);
    if (dropped.problem === "control") return fail("control", `contains a control character (${ch})`);
    if (dropped.problem === "stacked_marks") return fail("stacked_marks", `stacks more than ${MAX_STACKED_MARKS} marks on one character`);
    return fail("hidden", `contains an invisible character (${ch}) that can hide or reorder text`);
  }
  if (!VISIBLE.test(name)) return fail("empty", "has no visible characters");
  if (length(name) > max) return fail("too_long", `is longer than ${max} characters`);
  return { ok: true, name };
}

/**
 * The same rule, cleaning instead of refusing (for names that come from
 * people's disks, like file names): drops what the rule refuses, trims, and
 * cuts to `max` characters, keeping the start or (for file names, whose
 * extension matters) the end. Returns "" when nothing visible is left; the
 * result, when not empty, always passes `checkName(result, max)`.
 */
export function cleanName(raw: string, { max, keep = "start" }: { max: number; keep?: "start" | "end" }): string {
  let name = trimEdges(sift(raw.replace(LONE_SURROGATES, "").normalize("NFC")).kept);
  const chars = [...name];
  if (chars.length > max) {
    // Cutting can leave a variation selector, joiner or mark without its character: sift again.
    name = keep === "end" ? chars.slice(-max).join("") : chars.slice(0, max).join("");
    name = trimEdges(sift(name.normalize("NFC")).kept);
  }
  return VISIBLE.test(name) ? name : "";
}

/**
 * A zod schema for a name field: parses to the normalised, trimmed name, or
 * fails with the rule's message (so `describeIssues` says e.g.
 * "displayName: has no visible characters").
 */
export const nameSchema = (max: number) =>
  z.string().transform((raw, ctx) => {
    const r = checkName(raw, max);
    if (r.ok) return r.name;
    ctx.addIssue({ code: "custom", message: r.message, input: raw });
    return z.NEVER;
  });

export const DisplayNameSchema = nameSchema(NAME_LIMITS.displayName);
export const RoomNameSchema = nameSchema(NAME_LIMITS.roomName);

/**
 * A room's topic: the same rule as a name (one line, nothing hidden), at most
 * 250 characters, but it may be empty — "" (or only spaces) clears it.
 */
export const TopicSchema = z.string().transform((raw, ctx) => {
  if (raw.trim() === "") return "";
  const r = checkName(raw, NAME_LIMITS.topic);
  if (r.ok) return r.name;
  ctx.addIssue({ code: "custom", message: r.message, input: raw });
  return z.NEVER;
});
