/**
 * The strings of the administrators' compliance screens (retention, legal
 * holds, erasure): a chunk of their own per language, fetched by the screens
 * that use them (Compliance.tsx, RoomRetention.tsx, EraseAccount.tsx), never by
 * the first screen. Most people never see these sentences, and the first
 * screen's JavaScript has a 60 KB budget (docs/PERFORMANCE.md), which the
 * language's main strings (strings-en.ts) count against.
 *
 * A screen's loader waits for `ready` (the current language's table), so the
 * screen renders with its strings at once; a language picked later is
 * fetched then, and the screen re-renders.
 */
import { changed } from "./store";
import { locale, t, type Locale } from "./i18n";
import type en from "./compliance-strings-en";

export type ComplianceKey = keyof typeof en;
type Table = Record<ComplianceKey, string>;

const LOADERS: Record<Locale, () => Promise<{ default: Table }>> = {
  en: () => import("./compliance-strings-en"),
  "zh-CN": () => import("./compliance-strings-zh"),
};
const loaded: Partial<Record<Locale, Table>> = {};
const loading: Partial<Record<Locale, Promise<void>>> = {};

function load(l: Locale): Promise<void> {
  return (loading[l] ??= LOADERS[l]().then(
    (m) => void (loaded[l] = m.default),
    (err) => {
      delete loading[l]; // asked again on the next render
      throw err;
    },
  ));
}

/**
 * Resolves once the UI language's table is here: the loaders of the screens that use these
 * strings wait for it before the first render. (Not a top-level await: one of those here
 * made the bundler split preact's shared helpers out of the first screen's chunk.)
 */
export const ready: Promise<void> = load(locale);

/** Translate `key` like i18n's `t` (`{name}` placeholders from `vars`), in the UI's language. */
export function tc(key: ComplianceKey, vars: Record<string, string | number> = {}): string {
  const table = loaded[locale];
  // The person switched language while a compliance screen was open: fetch it, then draw again.
  if (!table) load(locale).then(changed, () => {});
  return ((table ?? loaded.en ?? loaded["zh-CN"])?.[key] ?? key).replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}

/** A retention policy in words: "Messages are kept forever." / "Messages older than 30 days are removed." */
export function policyText(days: number | null): string {
  return days === null ? t("retentionForever") : days === 1 ? t("retentionOneDay") : t("retentionDays", { days });
}
