/**
 * The UI's language: English or Simplified Chinese. The language comes from
 * navigator.language (zh* → zh-CN) unless the person picked one (kept in this
 * browser, and with the account). Each language's strings are a chunk of their
 * own (strings-en.ts, strings-zh.ts) loaded before the first render: a browser
 * downloads one language, not both (the first screen's budget, docs/PERFORMANCE.md).
 * Dates and times go through Intl with the same locale.
 */
import type { ErrorCode } from "../../protocol/errors";
import type en from "./strings-en";

export type StringKey = keyof typeof en;
export type Strings = Record<StringKey, string>;
export type ErrorTable = Record<ErrorCode | "network", string>;
type Language = { default: Strings; errors: ErrorTable };

export type Locale = "en" | "zh-CN";
export const LOCALES: { id: Locale; label: string }[] = [
  { id: "en", label: "English" },
  { id: "zh-CN", label: "简体中文" },
];
const LOADERS: Record<Locale, () => Promise<Language>> = { en: () => import("./strings-en"), "zh-CN": () => import("./strings-zh") };
const loaded: Partial<Record<Locale, Language>> = {};

/** Fetch a language's strings (once); call before showing anything in it. */
export async function loadLocale(l: Locale): Promise<void> {
  loaded[l] ??= await LOADERS[l]();
}

function initialLocale(): Locale {
  const saved = safeGet("outpost.locale");
  if (saved === "en" || saved === "zh-CN") return saved;
  if (typeof navigator === "undefined") return "en"; // Node (unit tests)
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export let locale: Locale = initialLocale();

/** Switch the UI's language once its strings are here; the caller re-renders after. */
export async function setLocale(l: Locale): Promise<void> {
  await loadLocale(l);
  locale = l;
  safeSet("outpost.locale", l);
  if (typeof document !== "undefined") document.documentElement.lang = l;
}

/** Branch node names people know (the cluster file's names are lower-case ids). */
const NODE_LABELS: Record<string, { en: string; zh: string }> = {
  beijing: { en: "Beijing", zh: "北京" },
  shanghai: { en: "Shanghai", zh: "上海" },
  shenzhen: { en: "Shenzhen", zh: "深圳" },
  guangzhou: { en: "Guangzhou", zh: "广州" },
};

/** A node's name as people say it, in the UI's language (the node's own name when it is not a known city). */
export function nodeLabel(node: string): string {
  const known = NODE_LABELS[node];
  return known ? (locale === "zh-CN" ? known.zh : known.en) : node;
}

/** Translate `key`, filling `{name}` placeholders from `vars`. */
export function t(key: StringKey, vars: Record<string, string | number> = {}): string {
  // Before the first render the language is loaded (main.tsx), so the key is a fallback only.
  return (loaded[locale]?.default[key] ?? key).replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}

/** The error sentences of the UI's language (web/src/error-messages.ts). */
export function errorTable(): ErrorTable | null {
  return loaded[locale]?.errors ?? null;
}

export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(ms);
}

export function formatDay(ms: number, now = Date.now()): string {
  const day = (x: number) => new Date(x).toDateString();
  if (day(ms) === day(now)) return t("today");
  if (day(ms) === day(now - 86_400_000)) return t("yesterday");
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric", weekday: "short" }).format(ms);
}

/** A moment to the second, with its date, in the user's locale ("12/02/2026, 04:47:02 AM", "2026/12/02 04:47:02"): for records read later, like the audit trail. */
export function formatDateTime(ms: number): string {
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(ms);
}

export function formatShort(ms: number, now = Date.now()): string {
  return new Date(ms).toDateString() === new Date(now).toDateString() ? formatTime(ms) : new Intl.DateTimeFormat(locale, { month: "short", day: "numeric" }).format(ms);
}

/** A file size in the user's locale: "820 B", "1.4 MB". */
export function formatSize(bytes: number): string {
  // Intl's short "byte" unit reads "599 byte" in English: bytes are written "599 B" by hand.
  if (bytes < 1024) return `${new Intl.NumberFormat(locale).format(bytes)} B`;
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let i = 0;
  let n = bytes;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return new Intl.NumberFormat(locale, { style: "unit", unit: units[i], unitDisplay: "short", maximumFractionDigits: i === 0 ? 0 : 1 }).format(n);
}

export function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
export function safeSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}
