import { useStore, state } from "./store";
import { SetupRoute } from "./setup-route";
import { Login } from "./Login";
import { loadShell, loadedShell } from "./load-shell";
import { t } from "./i18n";
import { InviteRoute } from "./invite-route";
import { EnrolRoute } from "./enrol-route";

export function App() {
  useStore();
  if (location.pathname.startsWith("/setup") && state.phase !== "signedIn") return <SetupRoute />;
  if (location.pathname.startsWith("/invite/") && state.phase !== "signedIn") return <InviteRoute />;
  if (state.phase === "loading") return <div class="center muted" role="status">{t("loading")}</div>;
  if (state.phase === "signedOut") return <Login />;
  if (state.mustEnrol) return <EnrolRoute />;
  const Shell = loadedShell();
  if (!Shell) {
    void loadShell();
    return <div class="center muted" role="status">{t("loading")}</div>;
  }
  return <Shell />;
}
