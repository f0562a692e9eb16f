/**
 * "Settings" (loaded on demand from the sidebar): the person's own account and
 * preferences. Where each one is kept, and why:
 *
 * - read receipts and language: on the node (PATCH /api/v1/me/settings), so
 *   they follow the person to every browser; receipts are enforced by the
 *   node (others never receive the position), not merely hidden here;
 * - password: on the node; a change signs out every other session (as Slack
 *   does on a password reset: a changed password usually means "someone else
 *   may have it");
 * - two-factor sign-in: on the node (TwoFactor.tsx);
 * - display name and avatar: on the node (ProfileEditor.tsx), shown to everyone;
 * - theme, desktop notifications and sound: in this browser only. The theme
 *   suits the screen and the room it is in (a dark office monitor, a bright
 *   phone); notifications need this browser's own permission anyway.
 */
import { useEffect, useState } from "preact/hooks";
import { OutpostApiError } from "../../sdk/index";
import { api, changed, state } from "./store";
import { LOCALES, locale, setLocale, t, type Locale } from "./i18n";
import { applyTheme, currentTheme, type Theme } from "./theme";
import { Modal } from "./Modal";
import { ProfileEditor } from "./ProfileEditor";
import { TwoFactor } from "./TwoFactor";
import { askPermission, notificationsOn, permission, setNotifications, setSound, soundOn } from "./notify";

export function Settings({ onClose }: { onClose: () => void }) {
  const [receipts, setReceipts] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [, rerender] = useState(0);
  useEffect(() => {
    api.settings().then((s) => setReceipts(s.sendReceipts), (err) => setError((err as Error).message));
  }, []);
  const perm = permission();
  return (
    <Modal title={t("settings")} onClose={onClose}>
      <ProfileEditor />

      <section class="settings-section">
        <h3>{t("preferences")}</h3>
        <label class="inline toggle">
          <input
            type="checkbox"
            name="sendReceipts"
            disabled={receipts === null}
            checked={receipts ?? true}
            onChange={async (e) => {
              const on = e.currentTarget.checked;
              try {
                setReceipts((await api.updateSettings({ sendReceipts: on })).sendReceipts);
              } catch (err) {
                setError((err as Error).message);
              }
            }}
          />{" "}
          {t("sendReceipts")}
          <span class="muted small"> — {t("sendReceiptsHint")}</span>
        </label>
        <label>
          {t("language")}
          <select
            name="language"
            value={locale}
            onChange={(e) => {
              const l = e.currentTarget.value as Locale;
              void setLocale(l).then(changed);
              void api.updateSettings({ language: l === "zh-CN" ? "zh" : "en" }).catch(() => {});
            }}
          >
            {LOCALES.map((l) => <option value={l.id}>{l.label}</option>)}
          </select>
        </label>
        <label>
          {t("theme")}
          <select name="theme" value={currentTheme()} onChange={(e) => { applyTheme(e.currentTarget.value as Theme); changed(); }}>
            <option value="system">{t("themeSystem")}</option>
            <option value="light">{t("themeLight")}</option>
            <option value="dark">{t("themeDark")}</option>
          </select>
        </label>
      </section>

      <section class="settings-section">
        <h3>{t("notifications")}</h3>
        {perm === "unsupported" && <p class="muted small">{t("notifyUnsupported")}</p>}
        {perm === "denied" && <p class="muted small">{t("notifyDenied")}</p>}
        {perm === "default" && (
          <button type="button" onClick={() => void askPermission().then(() => rerender((n) => n + 1))}>{t("notifyEnable")}</button>
        )}
        {perm === "granted" && (
          <label class="inline toggle">
            <input type="checkbox" name="desktopNotifications" checked={notificationsOn()} onChange={(e) => { setNotifications(e.currentTarget.checked); rerender((n) => n + 1); }} /> {t("notifyDesktop")}
          </label>
        )}
        <label class="inline toggle">
          <input type="checkbox" name="notifySound" checked={soundOn()} onChange={(e) => { setSound(e.currentTarget.checked); rerender((n) => n + 1); }} /> {t("notifySound")}
        </label>
      </section>

      <PasswordForm />
      <TwoFactor />
      {error && <p class="error" role="alert">{t("error", { message: error })}</p>}
    </Modal>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api.changePassword(current, next);
      setCurrent("");
      setNext("");
      setStatus({ ok: true, text: t("passwordChanged") });
    } catch (err) {
      const code = err instanceof OutpostApiError ? err.code : "";
      setStatus({ ok: false, text: code === "forbidden" ? t("currentPasswordWrong") : t("error", { message: (err as Error).message }) });
    }
  };
  return (
    <form class="settings-section" onSubmit={submit} aria-label={t("changePassword")}>
      <h3>{t("changePassword")}</h3>
      <label>
        {t("currentPassword")}
        <input type="password" name="currentPassword" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </label>
      <label>
        {t("newPassword")}
        <input type="password" name="newPassword" autocomplete="new-password" required minLength={10} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </label>
      <p class="muted small">{t("passwordHint")} {t("passwordOthersSignedOut")}</p>
      {status && <p class={status.ok ? "muted" : "error"} role={status.ok ? "status" : "alert"}>{status.text}</p>}
      <div class="row end">
        <button type="submit" class="primary">{t("changePassword")}</button>
      </div>
    </form>
  );
}
