/**
 * Index formats of earlier versions, kept so a room that is still re-indexing
 * (search-reindex.ts) can search its not-yet-rebuilt messages the way it did
 * before the upgrade: never worse than it was. When INDEX_VERSION is bumped,
 * the outgoing indexText/compileQuery move here under their version.
 *
 * Version 0 is "no index at all" (rooms from before migration 0004 dropped it):
 * there is nothing to search in that part, so it has no entry.
 */

/** Version 1 (until issue 12): a CJK run next to letters or digits stayed inside one word token. */
const V1_SEGMENT = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+)|([\p{L}\p{N}_]+)/gu;

function v1Bigrams(run: string): string[] {
  const chars = [...run];
  if (chars.length === 1) return chars;
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
  return out;
}

function v1Quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

export interface IndexFormat {
  indexText(text: string): string;
  /** the FTS5 MATCH expression, or null when nothing is searchable */
  compileMatch(q: string): string | null;
}

const V1: IndexFormat = {
  indexText(text) {
    const parts: string[] = [];
    for (const m of text.normalize("NFKC").matchAll(V1_SEGMENT)) parts.push(m[1] ? v1Bigrams(m[1]).join(" ") : m[2]);
    return parts.join(" ");
  },
  compileMatch(q) {
    const clauses: string[] = [];
    for (const m of q.normalize("NFKC").matchAll(V1_SEGMENT)) {
      if (m[1]) {
        const grams = v1Bigrams(m[1]);
        clauses.push(grams.length === 1 && [...m[1]].length === 1 ? `${v1Quote(grams[0])}*` : v1Quote(grams.join(" ")));
      } else {
        clauses.push([...m[2]].length >= 3 ? `${v1Quote(m[2])}*` : v1Quote(m[2]));
      }
      if (clauses.length >= 16) break;
    }
    return clauses.length ? clauses.join(" ") : null;
  },
};

/** The formats a room's index may still hold while it re-indexes, by version. */
export const LEGACY_FORMATS: Readonly<Record<number, IndexFormat | undefined>> = { 1: V1 };
