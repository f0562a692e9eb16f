/**
 * Search in a mirror's copy of a room (the member's own node answers it,
 * link or no link): the copy's search index, the newest SEARCH_WINDOW hits
 * ranked, filtered as the room's own search filters them, with snippets.
 */
import { compileQuery, snippet } from "../room/search-tokens";
import type { SearchHit } from "../../protocol/models";
import type { MirrorStore } from "./mirror-store";

const SEARCH_WINDOW = 2000;

export interface MirrorSearchQuery {
  q: string;
  from?: string;
  before?: number;
  after?: number;
  hasFile?: boolean;
  limit: number;
}

export function searchCopy(store: MirrorStore, q: MirrorSearchQuery): SearchHit[] {
  const compiled = compileQuery(q.q);
  if (!compiled) return [];
  const hits = store.search(compiled.match, SEARCH_WINDOW);
  const bySeq = store.bySeq(hits.map((h) => h.seq));
  const out: SearchHit[] = [];
  for (const h of hits.sort((a, b) => a.score - b.score || b.seq - a.seq)) {
    const m = bySeq.get(h.seq);
    if (!m || m.deletedAt !== null) continue;
    if (q.from !== undefined && m.senderId !== q.from) continue;
    if (q.before !== undefined && !(m.createdAt < q.before)) continue;
    if (q.after !== undefined && !(m.createdAt > q.after)) continue;
    if (q.hasFile && m.attachments.length === 0) continue;
    out.push({ message: m, snippet: snippet(m.text, compiled.terms), score: h.score });
    if (out.length >= Math.min(Math.max(q.limit, 1), 200)) break;
  }
  return out;
}
