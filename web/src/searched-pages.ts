/**
 * A list searched as you type and read a page at a time, as browse rooms
 * (Directory.tsx) and people administration (People.tsx) show one; the people
 * picker of the room dialogs and the legal-hold form (Dialogs.tsx) is one page.
 *
 * The search waits for a 200 ms pause in typing, then asks for the first page
 * again; an answer to a query the user has typed past is dropped (`alive`), so
 * a slow early answer never overwrites a later one. "More" appends the next
 * page of the query as it stands. An error is shown until the next page that
 * arrives.
 *
 * @example
 *   const list = useSearchedPages(async (query, from) => {
 *     const page = await api.publicRooms({ q: query, limit: 30, cursor: from });
 *     return { items: page.rooms, nextCursor: page.nextCursor };
 *   });
 *   <input value={list.q} onInput={(e) => list.setQ(e.currentTarget.value)} />
 *   {list.cursor && <button onClick={list.more}>…</button>}
 */
import { useEffect, useState } from "preact/hooks";
import { errorText } from "./server-errors";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * `fetchPage` gets the trimmed query (undefined when blank) and the cursor of
 * the page (undefined for the first); `received` sees each page that is shown,
 * before it is.
 */
export function useSearchedPages<T>(fetchPage: (q: string | undefined, cursor: string | undefined) => Promise<Page<T>>, received?: (items: T[]) => void) {
  const [q, setQ] = useState("");
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async (query: string, from: string | null, alive: () => boolean = () => true) => {
    try {
      const page = await fetchPage(query.trim() || undefined, from ?? undefined);
      if (!alive()) return;
      received?.(page.items);
      setItems((old) => (from && old ? [...old, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      if (alive()) setError(errorText(err));
    }
  };
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => void load(q, null, () => live), 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [q]);

  return { q, setQ, items, setItems, cursor, error, setError, more: () => void load(q, cursor) };
}
