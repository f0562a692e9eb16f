import { useState } from "preact/hooks";
import { OutpostApiError } from "../../sdk/index";
import { api, signedIn, state } from "./store";
import { t } from "./i18n";
import { Prefs } from "./Prefs";
import { errorText } from "./error-messages";

export function Login() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.login(username.trim(), password);
      signedIn(r.user);
    } catch (err) {
      setError(err instanceof OutpostApiError && err.status === 401 ? t("signInFailed") : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="auth">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">{t("appName")}</h1>
        {state.signedOutByServer && <p class="notice" role="status" data-testid="signed-out-notice">{t("signedOutByServer")}</p>}
        <label>
          {t("username")}
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>{t("signIn")}</button>
        <Prefs />
      </form>
    </main>
  );
}
