/**
 * The address bar and the browser's Back/Forward. One screen is one URL:
 *
 *   /                      the room list (on a phone) or no room open
 *   /r/<room>              a room
 *   /r/<room>/m/<message>  a room scrolled to one message, highlighted
 *
 * Moving to another screen pushes a history entry (`go`), so Back returns to
 * the room before; Back/Forward and a page load (a deep link, a reload) are
 * applied by `startRouter`'s handler. While a history entry is being applied
 * nothing is pushed (it would cut the Forward list).
 *
 * Other screens get a URL by adding a `Route` kind, its line in `parseRoute`
 * and `routePath`, and a case in the handler given to `startRouter`
 * (Shell.tsx). Dialogs and panels stay off the history: closing one with Back
 * would surprise more than it helps.
 */
export type Route = { kind: "home" } | { kind: "room"; roomId: string; messageId?: string };

/** `/r/<room>` or `/r/<room>/m/<message>` (ids URL-encoded), anything else the room list. */
export function parseRoute(pathname: string): Route {
  const m = /^\/r\/([^/]+)(?:\/m\/([^/]+))?\/?$/.exec(pathname);
  if (!m) return { kind: "home" };
  try {
    const roomId = decodeURIComponent(m[1]);
    return m[2] ? { kind: "room", roomId, messageId: decodeURIComponent(m[2]) } : { kind: "room", roomId };
  } catch {
    return { kind: "home" }; // a malformed %-escape: treat as no address
  }
}

export function routePath(route: Route): string {
  if (route.kind === "home") return "/";
  const room = `/r/${encodeURIComponent(route.roomId)}`;
  return route.messageId ? `${room}/m/${encodeURIComponent(route.messageId)}` : room;
}

let applying = false;

/**
 * Show `route` in the address bar: a new history entry, or (`replace`) in place
 * of the current one. Does not open anything itself: callers open the screen,
 * then say where they are.
 */
export function go(route: Route, options: { replace?: boolean } = {}): void {
  if (applying || typeof history === "undefined") return;
  const path = routePath(route);
  if (location.pathname === path) return;
  if (options.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
}

/** Apply the current URL now and on every Back/Forward; returns the function that stops listening. */
export function startRouter(apply: (route: Route) => void | Promise<void>): () => void {
  const run = () => {
    applying = true;
    try {
      void apply(parseRoute(location.pathname));
    } finally {
      applying = false;
    }
  };
  addEventListener("popstate", run);
  run();
  return () => removeEventListener("popstate", run);
}
