/** First run: `/setup#token=…`. The token is in the fragment so it never reaches logs or Referer headers. */
import { useState } from "preact/hooks";
import { OutpostApiError } from "../../sdk/index";
import { api, signedIn } from "./store";
import { t } from "./i18n";
import { Prefs } from "./Prefs";

export function Setup() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
  const [username, setUsername] = useState("admin");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(token ? null : t("setupNoToken"));
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.setup({ token, username: username.trim(), password, ...(displayName.trim() ? { displayName: displayName.trim() } : {}) });
      history.replaceState(null, "", "/");
      signedIn(r.user);
    } catch (err) {
      setError(err instanceof OutpostApiError && err.code === "setup_done" ? t("setupDone") : t("error", { message: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="auth">
      <form class="card" onSubmit={submit} aria-labelledby="setup-title">
        <h1 id="setup-title">{t("setupTitle")}</h1>
        <p class="muted">{t("setupIntro")}</p>
        <label>
          {t("username")}
          <input name="username" autocomplete="username" required pattern="[a-z0-9][a-z0-9._\-]{1,31}" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          {t("displayName")}
          <input name="displayName" value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" autocomplete="new-password" minLength={8} required aria-describedby="pw-hint" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <small id="pw-hint" class="muted">{t("passwordHint")}</small>
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy || !token}>{t("createAdmin")}</button>
        <Prefs />
      </form>
    </main>
  );
}
