/**
 * The signed-in app (rooms, messages, the composer) is a chunk of its own: the sign-in screen does not
 * fetch it (its JavaScript budget, test/browser/budget.test.ts). It is fetched when someone signs in
 * (Login.tsx, beside the sign-in request), beside the session check when the session's hint cookie says
 * someone may be signed in (main.tsx), and at the latest when the app is to be shown (App.tsx). A fetch
 * that fails (the node restarting) is tried again 2 s later.
 */
import type { Shell } from "./Shell";
import { changed } from "./store";

let shell: typeof Shell | null = null;
let loading: Promise<void> | null = null;

export function loadShell(): Promise<void> {
  loading ??= import("./Shell").then(
    (m) => {
      shell = m.Shell;
      changed();
    },
    () => {
      loading = null;
      setTimeout(changed, 2000);
    },
  );
  return loading;
}

/** The signed-in app once it is here, else null. */
export function loadedShell(): typeof Shell | null {
  return shell;
}
