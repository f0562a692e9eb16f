import "./csp-safe-zod";
import { render } from "preact";
import "./styles.css";
import { App } from "./App";
import { applyTheme } from "./theme";
import { locale, setLocale } from "./i18n";
import { boot } from "./store";

applyTheme();
setLocale(locale);
render(<App />, document.getElementById("app")!);
if (!location.pathname.startsWith("/setup")) void boot();
