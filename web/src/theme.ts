/** Light, dark, or the system's choice; set as a class on <html> (CSS only, no inline styles). */
import { safeGet, safeSet } from "./i18n";

export type Theme = "light" | "dark" | "system";

export function currentTheme(): Theme {
  const t = safeGet("outpost.theme");
  return t === "light" || t === "dark" ? t : "system";
}

export function applyTheme(theme: Theme = currentTheme()): void {
  safeSet("outpost.theme", theme);
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.classList.toggle("dark", dark);
}
