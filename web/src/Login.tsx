import { useEffect, useState } from "preact/hooks";
import { MfaRequiredError, OutpostApiError } from "../../sdk/index";
import { api, signedIn, state } from "./store";
import { t } from "./i18n";
import { Prefs } from "./Prefs";
import { errorText } from "./error-messages";
import { loadShell } from "./load-shell";

/** `/?sso_error=<code>`: the SSO callback's refusal (worker/routes/sso.ts), shown once in the person's language. */
function ssoErrorFromUrl(): string | null {
  const code = new URLSearchParams(location.search).get("sso_error");
  if (!code) return null;
  history.replaceState(null, "", location.pathname);
  return errorText({ code: code.slice(0, 40) });
}

export function Login() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(ssoErrorFromUrl);
  const [busy, setBusy] = useState(false);
  // The second step of a two-factor sign-in: the challenge the password earned.
  const [challenge, setChallenge] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [sso, setSso] = useState<{ enabled: boolean; displayName?: string; passwordSignIn: boolean } | null>(null);
  useEffect(() => {
    api.ssoInfo().then(setSso, () => setSso(null));
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    void loadShell(); // the app's own chunk, beside the sign-in request
    try {
      const r = challenge ? await api.loginMfa(challenge, code.trim()) : await api.login(username.trim(), password);
      signedIn(r.user);
    } catch (err) {
      if (err instanceof MfaRequiredError) {
        setChallenge(err.challenge);
      } else if (err instanceof OutpostApiError && err.code === "mfa_challenge_invalid") {
        setChallenge(null);
        setCode("");
        setError(errorText(err));
      } else {
        setError(err instanceof OutpostApiError && err.status === 401 && !challenge ? t("signInFailed") : errorText(err));
      }
    } finally {
      setBusy(false);
    }
  };
  const passwordForm = !sso || sso.passwordSignIn;
  return (
    <main class="auth">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">{t("appName")}</h1>
        {state.signedOutByServer && <p class="notice" role="status" data-testid="signed-out-notice">{t("signedOutByServer")}</p>}
        {sso?.enabled && !challenge && (
          <a class="button-link primary" href="/api/v1/auth/sso/start" data-testid="sso-button">
            {t("signInWith", { name: sso.displayName ?? "SSO" })}
          </a>
        )}
        {sso?.enabled && passwordForm && !challenge && <p class="muted small">{t("orPassword")}</p>}
        {challenge ? (
          <label>
            {t("mfaCodeLabel")}
            <input name="code" autocomplete="one-time-code" inputMode="numeric" required autoFocus value={code} onInput={(e) => setCode(e.currentTarget.value)} />
            <span class="muted small">{t("mfaCodeHint")}</span>
          </label>
        ) : (
          passwordForm && (
            <>
              <label>
                {t("username")}
                <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
              </label>
              <label>
                {t("password")}
                <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
              </label>
            </>
          )
        )}
        {error && <p class="error" role="alert">{error}</p>}
        {(passwordForm || challenge) && <button type="submit" class="primary" disabled={busy}>{challenge ? t("verify") : t("signIn")}</button>}
        <Prefs />
      </form>
    </main>
  );
}
