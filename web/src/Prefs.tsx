/** Language and theme switchers (on the sign-in screens and in the sidebar). */
import { LOCALES, locale, setLocale, t, type Locale } from "./i18n";
import { applyTheme, currentTheme, type Theme } from "./theme";
import { api, changed, state } from "./store";

export function Prefs() {
  return (
    <div class="prefs">
      <label>
        <span class="sr-only">{t("language")}</span>
        <select aria-label={t("language")} value={locale} onChange={(e) => {
          const l = e.currentTarget.value as Locale;
          void setLocale(l).then(changed);
          // Signed in: the choice follows the person to their other browsers.
          if (state.me) void api.updateSettings({ language: l === "zh-CN" ? "zh" : "en" }).catch(() => {});
        }}>
          {LOCALES.map((l) => <option value={l.id}>{l.label}</option>)}
        </select>
      </label>
      <label>
        <span class="sr-only">{t("theme")}</span>
        <select aria-label={t("theme")} value={currentTheme()} onChange={(e) => { applyTheme(e.currentTarget.value as Theme); changed(); }}>
          <option value="system">{t("themeSystem")}</option>
          <option value="light">{t("themeLight")}</option>
          <option value="dark">{t("themeDark")}</option>
        </select>
      </label>
    </div>
  );
}
