/** First run: `/setup#token=…`. The token is in the fragment so it never reaches logs or Referer headers. */
import { useState } from "preact/hooks";
import { OutpostApiError } from "../../sdk/index";
import { api, signedIn } from "./store";
import { t } from "./i18n";
import { Prefs } from "./Prefs";
import { errorText } from "./error-messages";

/** The node's password policy (durable-objects/shared/password-policy.mjs); its common-password list stays on the node. */
const MIN_PASSWORD_LENGTH = 10;

/**
 * Which rule a `weak_password` answer is about, in the UI's language. The node's
 * message is English; the rules are cheap to tell apart here, in the node's order
 * (length, then username, then the common list — which also covers a repeated
 * character), without shipping the list to the browser.
 */
export function weakPasswordMessage(password: string, username: string): string {
  if ([...password].length < MIN_PASSWORD_LENGTH) return t("weakPasswordShort");
  const name = username.trim().toLowerCase();
  const lower = password.toLowerCase();
  if (name && (lower === name || (name.length >= 3 && lower.includes(name)))) return t("weakPasswordUsername");
  return t("weakPasswordCommon");
}

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
      setError(
        err instanceof OutpostApiError && err.code === "setup_done"
          ? t("setupDone")
          : err instanceof OutpostApiError && err.code === "weak_password"
            ? weakPasswordMessage(password, username)
            : errorText(err),
      );
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
          <input name="password" type="password" autocomplete="new-password" minLength={MIN_PASSWORD_LENGTH} required aria-describedby="pw-hint" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <small id="pw-hint" class="muted">{t("passwordHint")}</small>
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy || !token}>{t("createAdmin")}</button>
        <Prefs />
      </form>
    </main>
  );
}
