/**
 * The message list, virtualised: only the rows near the viewport are in the
 * DOM, positioned absolutely inside a spacer as tall as all rows together.
 * Row heights are measured after render and cached by key (estimates until
 * then). The scroll position is anchored either to the bottom (following new
 * messages) or to the first visible row, so loading older pages above and
 * rows changing height never make the view jump.
 */
import type { JSX } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";

export interface Row {
  key: string;
  estimate: number;
  render: () => JSX.Element;
  /**
   * false: a row that moves when rows are added next to it (the list's head and foot, a day's separator
   * keyed by its day, the unread line): never what the view holds on to, or the view would move with it.
   */
  anchor?: false;
}

const OVERSCAN_PX = 800;
/** Closer than this to the top (the end), the list asks for an older (a newer) page. */
const NEAR_EDGE_PX = 400;

/**
 * `onNearTop`: the list shows its top (an older page may be due); `onAtBottom`: scrolled to the end;
 * `onNearEnd`: the list shows its end (a newer page may be due, in a window of older history). The list
 * calls onNearTop and onNearEnd whenever it renders there, not only on a scroll: they decide whether a page
 * is due. `follow`: stay at the bottom as rows are added there (false while the rows are a window of older history).
 * `onBottom`: told whether the list is scrolled to its end, whenever that changes. `toBottom`: scroll to the
 * end (and follow again) whenever this number changes.
 */
export function VirtualList({ rows, onNearTop, onAtBottom, onNearEnd, jumpTo, label, follow = true, onBottom, toBottom = 0 }: { rows: Row[]; onNearTop: () => void; onAtBottom: () => void; onNearEnd?: () => void; jumpTo: { key: string; n: number } | null; label: string; follow?: boolean; onBottom?: (atBottom: boolean) => void; toBottom?: number }) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const stick = useRef(true);
  const anchor = useRef<{ key: string; delta: number } | null>(null);
  const [, rerender] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(800);

  // Offsets of every row (prefix sums): O(n) per render, fine for tens of thousands.
  const offsets = new Array<number>(rows.length + 1);
  offsets[0] = 0;
  const index = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) {
    index.set(rows[i].key, i);
    offsets[i + 1] = offsets[i] + (heights.current.get(rows[i].key) ?? rows[i].estimate);
  }
  const total = offsets[rows.length];
  const first = Math.max(0, upperBound(offsets, scrollTop - OVERSCAN_PX) - 1);
  const last = Math.min(rows.length, upperBound(offsets, scrollTop + viewport + OVERSCAN_PX));

  const onScroll = () => {
    const el = scroller.current!;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
    stick.current = atBottom && follow;
    onBottom?.(atBottom);
    // Older pages arrive under the list's head; a day's separator and the unread line move up with the
    // first message of theirs. A view held by one of those would move with it while a page arrives and
    // show that page's oldest messages, 100 away from where the reader was: it holds on to the first row
    // from the top of the view that stays put (a negative delta when that row starts below the top), or
    // at the end of the list the last one above.
    const top = Math.max(0, upperBound(offsets, el.scrollTop) - 1);
    let i = top;
    while (rows[i]?.anchor === false) i++;
    if (i >= rows.length) for (i = top; rows[i]?.anchor === false; ) i--;
    anchor.current = rows[i] ? { key: rows[i].key, delta: el.scrollTop - offsets[i] } : null;
    setScrollTop(el.scrollTop);
    if (el.scrollTop < NEAR_EDGE_PX) onNearTop();
    if (el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_EDGE_PX) onNearEnd?.();
    if (atBottom) onAtBottom();
  };

  useLayoutEffect(() => {
    const el = scroller.current!;
    // 1. measure what is rendered; re-render once if any estimate was wrong
    let moved = false;
    for (const child of el.querySelectorAll<HTMLElement>("[data-row]")) {
      const key = child.dataset.row!;
      const h = child.offsetHeight;
      if (h && heights.current.get(key) !== h) {
        heights.current.set(key, h);
        moved = true;
      }
    }
    if (el.clientHeight !== viewport) setViewport(el.clientHeight);
    if (moved) {
      rerender((x) => x + 1);
      return;
    }
    // 2. restore the anchor
    if (stick.current) {
      if (Math.abs(el.scrollTop - (el.scrollHeight - el.clientHeight)) > 1) el.scrollTop = el.scrollHeight;
    } else if (anchor.current && index.has(anchor.current.key)) {
      const want = offsets[index.get(anchor.current.key)!] + anchor.current.delta;
      if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want;
    }
    if (el.scrollTop !== scrollTop) setScrollTop(el.scrollTop);
    // Still near the top after this render (a page that failed to load, rows shorter than the screen):
    // ask again. A scroll event does not come by itself there: at scrollTop 0, nothing scrolls.
    // onNearTop decides whether a page is due (one at a time, none past the beginning, retries paced).
    if (el.scrollTop < NEAR_EDGE_PX && rows.length > 1) onNearTop();
    // The same at the end of a window of older history (newer pages wait on the node).
    if (!follow && el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_EDGE_PX && rows.length > 1) onNearEnd?.();
  });

  useLayoutEffect(() => {
    if (!jumpTo || !index.has(jumpTo.key)) return;
    const el = scroller.current!;
    stick.current = false;
    const i = index.get(jumpTo.key)!;
    anchor.current = { key: jumpTo.key, delta: -Math.max(0, el.clientHeight / 3) };
    el.scrollTop = Math.max(0, offsets[i] - el.clientHeight / 3);
    setScrollTop(el.scrollTop);
  }, [jumpTo?.n]);

  useLayoutEffect(() => {
    if (!toBottom) return;
    const el = scroller.current!;
    stick.current = true;
    el.scrollTop = el.scrollHeight;
    setScrollTop(el.scrollTop);
  }, [toBottom]);

  // A row that changes height on its own (an image loads, a phone's action menu opens inside it) is
  // measured again: without this the rows below keep their old offsets and overlap it or leave a gap.
  // An element starts being observed with a first report of its size: a row just drawn, already measured
  // by the render's own pass. Only a size that differs from what the list knows renders again (a scroll
  // step drew ~35 new rows and rendered the whole window once more for their first reports).
  const ro = useRef<ResizeObserver | null>(null);
  const known = useRef({ heights: heights.current, viewport });
  known.current.viewport = viewport;
  useLayoutEffect(() => {
    ro.current = new ResizeObserver((entries) => {
      const stale = entries.some(({ target }) => {
        const el = target as HTMLElement;
        const key = el.dataset.row;
        return key === undefined ? el.clientHeight !== known.current.viewport : known.current.heights.get(key) !== el.offsetHeight;
      });
      if (stale) rerender((x) => x + 1);
    });
    ro.current.observe(scroller.current!);
    return () => ro.current?.disconnect();
  }, []);
  const observed = useRef(new Set<HTMLElement>());
  useLayoutEffect(() => {
    for (const el of observed.current) if (!el.isConnected) (ro.current?.unobserve(el), observed.current.delete(el));
    for (const child of scroller.current!.querySelectorAll<HTMLElement>("[data-row]")) {
      if (observed.current.has(child)) continue;
      observed.current.add(child);
      ro.current?.observe(child);
    }
  });

  const visible: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    const row = rows[i];
    visible.push(
      <div key={row.key} data-row={row.key} class="vrow" style={{ top: `${offsets[i]}px` }}>
        {row.render()}
      </div>,
    );
  }
  return (
    <div class="scroller" ref={scroller} onScroll={onScroll} role="log" aria-label={label} aria-live="polite" tabIndex={0} data-testid="message-list">
      <div class="spacer" style={{ height: `${total}px` }}>
        {visible}
      </div>
    </div>
  );
}

/** First index whose value is > x (offsets are ascending). */
function upperBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
