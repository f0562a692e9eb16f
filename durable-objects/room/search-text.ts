/**
 * Full-text search that works in Chinese and English, on SQLite FTS5 alone.
 *
 * FTS5's unicode61 tokenizer makes one token of a whole run of CJK characters
 * ("我家在上海东边" is one "word"), and its trigram tokenizer cannot match a
 * 2-character word like "上海". So the indexed text is rewritten first: every
 * run of CJK characters becomes its overlapping bigrams ("我家 家在 在上 上海
 * 海东 东边"), and everything else stays as words. unicode61 with
 * remove_diacritics then folds case and accents ("Café" = "cafe").
 *
 * A query is rewritten the same way and every part is quoted, so FTS syntax in
 * user input ("AND", "*", quotes, parentheses) is just text:
 *   上海      → "上海"
 *   上海东边  → "上海 海东 东边"   (a phrase: adjacent bigrams)
 *   海        → "海"*              (prefix of a bigram)
 *   caf       → "caf"*             (English words of 3+ characters match as prefixes)
 *   ok        → "ok"               (shorter ones as whole words)
 *
 * @example
 *   indexText("我家在上海东边 near the Café") // "我家 家在 在上 上海 海东 东边 near the Café"
 *   compileQuery("上海 cafe")                 // '"上海" "cafe"*'
 */

// Han, Hiragana, Katakana, Hangul, CJK punctuation-free ranges and compatibility ideographs.
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const SEGMENT = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+)|([\p{L}\p{N}_]+)/gu;

export const MAX_QUERY_CHARS = 256;

function bigrams(run: string): string[] {
  const chars = [...run];
  if (chars.length === 1) return chars;
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
  return out;
}

/** The text stored in the FTS index for a message. */
export function indexText(text: string): string {
  const parts: string[] = [];
  for (const m of text.normalize("NFKC").matchAll(SEGMENT)) parts.push(m[1] ? bigrams(m[1]).join(" ") : m[2]);
  return parts.join(" ");
}

export interface CompiledQuery {
  /** the FTS5 MATCH expression (every term quoted) */
  match: string;
  /** the terms as the user wrote them (normalised), for highlighting */
  terms: string[];
}

/** Null when the query has nothing searchable (only punctuation, empty). */
export function compileQuery(q: string): CompiledQuery | null {
  const clauses: string[] = [];
  const terms: string[] = [];
  for (const m of q.normalize("NFKC").matchAll(SEGMENT)) {
    if (m[1]) {
      const grams = bigrams(m[1]);
      clauses.push(grams.length === 1 && [...m[1]].length === 1 ? `${quote(grams[0])}*` : quote(grams.join(" ")));
      terms.push(m[1]);
    } else {
      // Words of 3+ characters match as prefixes (served by the 3-character prefix
      // index); 1–2 character words match whole words: "ne"* would merge the
      // doclists of every word starting with "ne".
      clauses.push([...m[2]].length >= 3 ? `${quote(m[2])}*` : quote(m[2]));
      terms.push(m[2]);
    }
    if (clauses.length >= 16) break;
  }
  return clauses.length ? { match: clauses.join(" "), terms } : null;
}

function quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** Case- and accent-folded copy of `text`, with the index in `text` of every folded char. */
function fold(text: string): { folded: string; map: number[] } {
  let folded = "";
  const map: number[] = [];
  let i = 0;
  for (const ch of text) {
    const f = ch.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
    for (let k = 0; k < f.length; k++) map.push(i);
    folded += f;
    i += ch.length;
  }
  map.push(i);
  return { folded, map };
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
    const t = fold(term.normalize("NFKC")).folded;
    if (!t) continue;
    for (let at = folded.indexOf(t); at >= 0; at = folded.indexOf(t, at + t.length)) {
      // English terms match at word starts only (as the index does).
      if (!CJK.test(t[0]) && at > 0 && /[\p{L}\p{N}_]/u.test(folded[at - 1])) continue;
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
