import "./csp-safe-zod";
import { render } from "preact";
import "./styles.css";
import { App } from "./App";
import { loadShell } from "./load-shell";
import { applyTheme } from "./theme";
import { locale, setLocale } from "./i18n";
import { boot, maybeSignedIn } from "./store";

applyTheme();
// Someone may be signed in here: their app is fetched beside the strings and the session check, not after.
if (maybeSignedIn()) void loadShell();
// The language's strings first (one small chunk), then the first render.
void setLocale(locale).then(() => {
  render(<App />, document.getElementById("app")!);
  if (!location.pathname.startsWith("/setup")) void boot();
});
