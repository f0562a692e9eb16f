/**
 * `/invite/<token>`: a new colleague's one-time link. Says whose invite it is
 * (or why the link cannot be used), takes a password under the node's policy,
 * and signs in. The token leaves the address bar once used.
 */
import { useEffect, useState } from "preact/hooks";
import type { InviteInfo } from "../../sdk/index";
import { api, signedIn } from "./store";
import { t } from "./i18n";
import { Prefs } from "./Prefs";
import { errorText } from "./server-errors";

export function InvitePage() {
  const token = decodeURIComponent(location.pathname.slice("/invite/".length));
  const [info, setInfo] = useState<InviteInfo | null>(null);
  const [fatal, setFatal] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api.inviteInfo(token).then(setInfo, (err) => setFatal(errorText(err)));
  }, [token]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.acceptInvite(token, password);
      history.replaceState(null, "", "/");
      signedIn(r.user);
    } catch (err) {
      setError(errorText(err, password, info?.username ?? ""));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="auth">
      <form class="card" onSubmit={submit} aria-labelledby="invite-title">
        <h1 id="invite-title">{t("inviteTitle")}</h1>
        {fatal ? (
          <>
            <p class="error" role="alert">{fatal}</p>
            <a href="/" class="button-link">{t("goToSignIn")}</a>
          </>
        ) : info ? (
          <>
            <p>{t("inviteGreeting", { name: info.displayName, username: info.username })}</p>
            {/* for password managers: the account this password belongs to */}
            <input type="text" name="username" autocomplete="username" value={info.username} readOnly hidden />
            <label>
              {t("password")}
              <input name="password" type="password" autocomplete="new-password" minLength={10} required aria-describedby="invite-pw-hint" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
              <small id="invite-pw-hint" class="muted">{t("passwordHint")}</small>
            </label>
            {error && <p class="error" role="alert">{error}</p>}
            <button type="submit" class="primary" disabled={busy}>{t("choosePassword")}</button>
          </>
        ) : (
          <p class="muted" role="status">{t("loading")}</p>
        )}
        <Prefs />
      </form>
    </main>
  );
}
