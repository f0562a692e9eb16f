/**
 * Full-text search that works in Chinese, Japanese, Korean and English, on
 * SQLite FTS5 alone.
 *
 * FTS5's unicode61 tokenizer makes one token of a whole run of CJK characters
 * ("我家在上海东边" is one "word"), and its trigram tokenizer cannot match a
 * 2-character word like "上海". So the indexed text is rewritten first: every
 * run of CJK characters (Han, Hiragana, Katakana, Hangul) becomes its
 * overlapping bigrams ("我家 家在 在上 上海 海东 东边"), and everything else
 * stays as words. unicode61 with remove_diacritics then folds case and accents
 * ("Café" = "cafe").
 *
 * Mixed scripts. Chinese chat is full of "10点", "Q3报表", "A301会议室",
 * "用iPhone拍的": a CJK run is split off the letters and digits next to it, in
 * the index and in queries alike (the same `parts()`), so "Q3报表已经发出" is
 * "q3" + the bigrams of "报表已经发出". Where a CJK run touches a letter/digit
 * word, its first (or last) character is also indexed alone, as an anchor:
 *   "10点开会" → "10 点 点开 开会",   "上午10" → "上午 午 10"
 * so a query "10点" is the exact phrase "10 点" (no prefix scan over every
 * bigram that starts with 点, which in a million Chinese messages would merge
 * hundreds of doclists), and "表Q3" can require that 表 ends the run.
 *
 * Queries. Words separated by spaces must all occur (AND). Within one word as
 * typed, the parts must be adjacent, as in the text: that is what a Chinese
 * user expects from chat search (WeChat's is a substring match), and it keeps a
 * query from matching across a boundary the text does not have:
 *   上海        → "上海"
 *   上海东边    → "上海 海东 东边"        (a phrase: adjacent bigrams)
 *   海          → "海"*                    (a lone CJK character: any bigram starting with it)
 *   caf         → "caf"*                   (words of 3+ characters match as prefixes)
 *   ok, Q3      → "ok", "q3"               (shorter ones as whole words: one short prefix must not scan a million messages)
 *   10点        → "10 点"                  (not "110点", not "10个…点")
 *   Q3报表      → "Q3 报 报表"             (also "Q3 报表": a space between scripts is style; not "Q3的报表")
 *   iPhone 照片 → "iPhone" AND "照片"      (the space makes two words)
 *   ¥1,299元    → "1299 元"                (thousands separators are dropped on both sides; not "299元")
 * Every part is quoted, so FTS syntax in user input ("AND", "*", quotes,
 * parentheses) is just text.
 *
 * Changing what indexText produces? Bump INDEX_VERSION: every room re-indexes
 * itself in batches from its alarm (search-reindex.ts), and the old format
 * moves to search-tokens-legacy.ts so rooms mid-way can still search it.
 *
 * @example
 *   indexText("我家在上海东边 near the Café") // "我家 家在 在上 上海 海东 东边 边 near the Café"
 *   indexText("Q3报表已发")                   // "Q3 报 报表 表已 已发"
 *   compileQuery("上海 cafe").match           // '"上海" "cafe"*'
 *   compileQuery("A301会议室").match          // '"A301 会 会议 议室"'
 */

/** The format indexText produces; stored per room (meta fts_version). */
export const INDEX_VERSION = 2;

/**
 * Scripts written without spaces between words get bigrams: Han, kana and
 * Hangul (Korean has spaces, but particles stick to nouns: "서울에서" must be
 * found by "서울"). Plus the two CJK letters whose Unicode script is Common:
 * ー (the kana length mark, "コーヒー") and 〆.
 */
const CJK_CLASS = String.raw`\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC\u3006`;
const CJK = new RegExp(`[${CJK_CLASS}]`, "u");
/** A CJK run, or a run of other letters/digits/underscore (the lookahead keeps CJK out of words). */
const PART = new RegExp(`([${CJK_CLASS}]+)|((?:(?![${CJK_CLASS}])[\\p{L}\\p{N}_])+)`, "gu");
/** "1,299" → "1299" (ASCII comma only: a full-width "，" between numbers ends a clause in Chinese). */
const THOUSANDS = /(\d),(?=\d{3}(?!\d))/g;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

const MAX_CLAUSES = 16;

interface Part {
  cjk: boolean;
  text: string;
  /** UTF-16 offsets in the normalised text */
  start: number;
  end: number;
}

function normalise(text: string): string {
  return text.replace(THOUSANDS, "$1").normalize("NFKC");
}

function parts(normalised: string): Part[] {
  const out: Part[] = [];
  for (const m of normalised.matchAll(PART)) out.push({ cjk: m[1] !== undefined, text: m[0], start: m.index, end: m.index + m[0].length });
  return out;
}

function bigrams(chars: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
  return out;
}

/**
 * The tokens of a CJK run: its bigrams, plus its first/last character alone
 * where a letter/digit word comes before/after it (the anchors above). A run
 * of one character is that character.
 */
function cjkTokens(run: string, wordBefore: boolean, wordAfter: boolean): string[] {
  const chars = [...run];
  if (chars.length === 1) return chars;
  const out = bigrams(chars);
  if (wordBefore) out.unshift(chars[0]);
  if (wordAfter) out.push(chars[chars.length - 1]);
  return out;
}

/** The text stored in the FTS index for a message. */
export function indexText(text: string): string {
  const ps = parts(normalise(text));
  const tokens: string[] = [];
  ps.forEach((p, i) => {
    if (!p.cjk) tokens.push(p.text);
    else tokens.push(...cjkTokens(p.text, i > 0 && !ps[i - 1].cjk, i + 1 < ps.length && !ps[i + 1].cjk));
  });
  return tokens.join(" ");
}

export interface CompiledQuery {
  /** the FTS5 MATCH expression (every term quoted) */
  match: string;
  /** the parts as the user wrote them (normalised), for highlighting */
  terms: string[];
}

/**
 * One query word (no spaces) → one FTS5 phrase. Its parts follow each other
 * in the text exactly as in the index: a CJK part next to a word carries the
 * same anchor the index has, so the phrase is contiguous there too.
 */
function phrase(chunk: Part[]): string {
  const tokens: string[] = [];
  let prefix = false;
  chunk.forEach((p, j) => {
    const before = j > 0;
    const after = j + 1 < chunk.length;
    if (!p.cjk) {
      tokens.push(p.text);
      // Only the last part can be a prefix (a word followed by CJK ends there in the text too).
      // 1–2 characters stay whole words: "ne"* would merge the doclists of every word starting with "ne".
      prefix = !after && [...p.text].length >= 3;
    } else {
      // A lone CJK character: a prefix of the bigrams, as before. Next to a word: the exact anchor.
      tokens.push(...cjkTokens(p.text, before, after));
      prefix = chunk.length === 1 && [...p.text].length === 1;
    }
  });
  return `${quote(tokens.join(" "))}${prefix ? "*" : ""}`;
}

/** Null when the query has nothing searchable (only punctuation, empty). */
export function compileQuery(q: string): CompiledQuery | null {
  const normalised = normalise(q);
  const ps = parts(normalised);
  const clauses: string[] = [];
  const terms: string[] = [];
  let chunk: Part[] = [];
  const close = () => {
    if (chunk.length && clauses.length < MAX_CLAUSES) clauses.push(phrase(chunk));
    chunk = [];
  };
  for (const [i, p] of ps.entries()) {
    const prev = ps[i - 1];
    // A new phrase after a space, and between two CJK runs (split by punctuation,
    // "好，明天": the index has no anchor at the end of a run before another run).
    if (prev && (/\s/u.test(normalised.slice(prev.end, p.start)) || (prev.cjk && p.cjk))) close();
    chunk.push(p);
    if (!terms.includes(p.text)) terms.push(p.text);
  }
  close();
  return clauses.length ? { match: clauses.join(" "), terms } : null;
}

function quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * Case- and accent-folded copy of `text` (and thousands separators dropped, as
 * the index does), with the index in `text` of every folded char.
 */
function fold(text: string): { folded: string; map: number[] } {
  let folded = "";
  const map: number[] = [];
  let i = 0;
  for (const ch of text) {
    if (ch === "," && /\d/.test(text[i - 1] ?? "") && /^\d{3}(?!\d)/.test(text.slice(i + 1, i + 5))) {
      i += 1;
      continue;
    }
    const f = ch.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
    for (let k = 0; k < f.length; k++) map.push(i);
    folded += f;
    i += ch.length;
  }
  map.push(i);
  return { folded, map };
}

function charBefore(s: string, at: number): string | undefined {
  if (at <= 0) return undefined;
  const low = s.charCodeAt(at - 1);
  return low >= 0xdc00 && low <= 0xdfff && at >= 2 ? s.slice(at - 2, at) : s[at - 1];
}

function charAt(s: string, at: number): string | undefined {
  const cp = s.codePointAt(at);
  return cp === undefined ? undefined : String.fromCodePoint(cp);
}

/** A letter/digit of a word (not CJK: a CJK character next to a word is a boundary, as in the index). */
function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && WORD_CHAR.test(ch) && !CJK.test(ch);
}

export interface Snippet {
  text: string;
  /** [start, end) UTF-16 offsets into `text` of every matched term */
  highlights: [number, number][];
}

/**
 * A window of the message around the first match, with the matches marked.
 * Offsets, not markup: the client wraps them in <mark> itself, so message
 * text is never interpreted as HTML.
 */
export function snippet(text: string, terms: string[], width = 80): Snippet {
  const { folded, map } = fold(text);
  const ranges: [number, number][] = [];
  for (const term of terms) {
    const t = fold(normalise(term)).folded;
    if (!t) continue;
    const word = !CJK.test(String.fromCodePoint(t.codePointAt(0)!));
    for (let at = folded.indexOf(t); at >= 0; at = folded.indexOf(t, at + t.length)) {
      // Words match at word starts only (as the index does), and short ones whole.
      if (word && isWordChar(charBefore(folded, at))) continue;
      if (word && [...t].length < 3 && isWordChar(charAt(folded, at + t.length))) continue;
      ranges.push([map[at], map[at + t.length]]);
    }
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const first = ranges[0]?.[0] ?? 0;
  let start = Math.max(0, first - Math.floor(width / 3));
  // Do not cut a surrogate pair in half.
  if (start > 0 && /[\uDC00-\uDFFF]/.test(text[start])) start--;
  let end = Math.min(text.length, start + width);
  if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1])) end++;
  const prefix = start > 0 ? "…" : "";
  const suffix = end < text.length ? "…" : "";
  const shift = prefix.length - start;
  const highlights = ranges.filter(([s, e]) => s >= start && e <= end).map(([s, e]) => [s + shift, e + shift] as [number, number]);
  return { text: prefix + text.slice(start, end) + suffix, highlights };
}
