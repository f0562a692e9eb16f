import "./csp-safe-zod";
import { render } from "preact";
import "./styles.css";
import { App } from "./App";
import { applyTheme } from "./theme";
import { locale, setLocale } from "./i18n";
import { boot } from "./store";

applyTheme();
// The language's strings first (one small chunk), then the first render.
void setLocale(locale).then(() => {
  render(<App />, document.getElementById("app")!);
  if (!location.pathname.startsWith("/setup")) void boot();
});
