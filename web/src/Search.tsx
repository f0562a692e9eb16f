/**
 * Message search results (loaded on first use, outside the first screen's
 * JavaScript): hits from every room the user is in, with the matched words
 * marked. The snippet's highlight ranges become <mark> VNodes around plain
 * text; nothing is ever parsed as HTML. A hit opens its room at the message.
 */
import { useEffect, useState } from "preact/hooks";
import type { JSX } from "preact";
import { OutpostApiError, type SearchHit } from "../../sdk/index";
import { api, lookupUser, nameOf, roomTitle, state } from "./store";
import { openRoom } from "./room-view";
import { formatShort, t } from "./i18n";
import { plainSnippet } from "./plain-snippet";
import { errorText } from "./error-messages";

/** `text` with the [start, end) ranges wrapped in <mark>. */
export function highlighted(text: string, ranges: [number, number][]): (string | JSX.Element)[] {
  const out: (string | JSX.Element)[] = [];
  let pos = 0;
  for (const [s0, e0] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const s = Math.max(pos, Math.min(s0, text.length));
    const e = Math.min(Math.max(e0, s), text.length);
    if (e <= s) continue;
    if (s > pos) out.push(text.slice(pos, s));
    out.push(<mark key={s}>{text.slice(s, e)}</mark>);
    pos = e;
  }
  if (pos < text.length) out.push(text.slice(pos));
  return out;
}

export function SearchResults({ q }: { q: string }) {
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = async (query: string, from: string | null, alive: () => boolean) => {
    setLoading(true);
    try {
      const res = await api.search({ q: query, limit: 20, ...(from ? { cursor: from } : {}) });
      if (!alive()) return;
      for (const h of res.hits) if (!state.users.has(h.message.senderId)) void lookupUser(h.message.senderId);
      setHits((old) => (from && old ? [...old, ...res.hits] : res.hits));
      setCursor(res.cursor);
      setError(null);
    } catch (err) {
      if (!alive()) return;
      // A query with nothing searchable in it (only punctuation) is simply no result.
      if (err instanceof OutpostApiError && err.code === "invalid_request") {
        setHits([]);
        setCursor(null);
      } else setError(errorText(err));
    } finally {
      if (alive()) setLoading(false);
    }
  };

  useEffect(() => {
    let live = true;
    // Nothing searchable (only punctuation or symbols): no results, and no request the node would refuse.
    if (!/[\p{L}\p{N}]/u.test(q)) {
      setHits([]);
      setCursor(null);
      setError(null);
      setLoading(false);
      return;
    }
    const timer = setTimeout(() => void load(q, null, () => live), 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [q]);

  return (
    <div class="search-results-wrap" aria-busy={loading}>
      <p class="sr-only" role="status" aria-live="polite">
        {loading ? t("searching") : hits && hits.length === 0 ? t("noMessagesFound") : ""}
      </p>
      {error && <p class="error small" role="alert">{error}</p>}
      <ul class="search-results" aria-label={t("searchResults")} data-testid="search-results">
        {hits === null && loading && <li class="muted empty small">{t("searching")}</li>}
        {hits?.length === 0 && !loading && <li class="muted empty small">{t("noMessagesFound")}</li>}
        {hits?.map((h) => <Hit key={h.message.id} hit={h} />)}
        {cursor && (
          <li>
            <button type="button" class="more" disabled={loading} onClick={() => void load(q, cursor, () => true)}>
              {t("moreResults")}
            </button>
          </li>
        )}
      </ul>
    </div>
  );
}

function Hit({ hit }: { hit: SearchHit }) {
  const m = hit.message;
  const inbox = state.device?.rooms.get(m.roomId);
  const room = inbox ? roomTitle(inbox) : m.roomId;
  const sender = nameOf(m.senderId);
  const snippet = plainSnippet(hit.snippet.text, hit.snippet.highlights);
  return (
    <li>
      <button
        type="button"
        class="hit"
        data-message-id={m.id}
        onClick={() => openRoom(m.roomId, { id: m.id, seq: m.seq })}
      >
        {/* Read as a sentence ("Alice in Notes, 10:02: …"); the head shows the same words, so the
            name still holds all the visible text (WCAG 2.5.3), which an aria-label over it did not. */}
        <span class="sr-only">{t("searchHit", { sender, room, time: formatShort(m.createdAt) })}: </span>
        <span class="hit-head" aria-hidden="true">
          <span class="hit-room" dir="auto">{room}</span>
          <span class="hit-sender muted" dir="auto">{sender}</span>
          <time class="muted small" dateTime={new Date(m.createdAt).toISOString()}>{formatShort(m.createdAt)}</time>
        </span>
        <span class="hit-text" dir="auto">{highlighted(snippet.text, snippet.highlights)}</span>
      </button>
    </li>
  );
}
