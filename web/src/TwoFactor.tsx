/**
 * Two-factor sign-in in Settings (and the enrolment page an administrator is
 * sent to when the node requires it): set up (a secret from the node, shown as
 * a QR code of its `otpauth://` URI and as text), confirm with a current code,
 * then the ten recovery codes, shown once; turn off with the password.
 *
 * Loaded with Settings, never on the first screen: the QR encoder (uqr,
 * ~8 KB gzip) is only needed here. The QR code is drawn as SVG paths from the
 * encoder's matrix, so nothing is injected as markup (the CSP allows no inline
 * anything).
 */
import { useEffect, useState } from "preact/hooks";
import { encode } from "uqr";
import { api } from "./store";
import { t } from "./i18n";
import { errorText } from "./error-messages";

function QrCode({ text }: { text: string }) {
  const { data, size } = encode(text, { ecc: "M", border: 2 });
  let d = "";
  data.forEach((row, y) => row.forEach((on, x) => (d += on ? `M${x} ${y}h1v1h-1z` : "")));
  return (
    <svg class="qr" viewBox={`0 0 ${size} ${size}`} width={size * 5} height={size * 5} role="img" aria-label={t("twoFactorScan")} shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

type Status = { enabled: boolean; recoveryCodesLeft: number; required: boolean };

export function TwoFactor({ onEnabled }: { onEnabled?: () => void }) {
  const [status, setStatus] = useState<Status | null>(null);
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const refresh = () => api.mfaStatus().then(setStatus, (err) => setError(errorText(err)));
  useEffect(() => void refresh(), []);
  const act = (fn: () => Promise<void>) => async (e?: Event) => {
    e?.preventDefault();
    setError(null);
    setNote(null);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="settings-section" data-testid="two-factor">
      <h3>{t("twoFactor")}</h3>
      {status && !enrolment && !codes && <p class="muted small">{status.enabled ? t("twoFactorOnHint", { n: status.recoveryCodesLeft }) : t("twoFactorOffHint")}</p>}
      {status && !status.enabled && !enrolment && !codes && (
        <button type="button" onClick={act(async () => setEnrolment(await api.mfaEnrol()))}>{t("twoFactorSetUp")}</button>
      )}
      {enrolment && (
        <form onSubmit={act(async () => {
          const { recoveryCodes } = await api.mfaConfirm(code.trim());
          setEnrolment(null);
          setCode("");
          setCodes(recoveryCodes);
          await refresh();
        })}>
          <p>{t("twoFactorScan")}</p>
          <QrCode text={enrolment.uri} />
          <p><code data-testid="mfa-secret">{enrolment.secret}</code></p>
          <label>
            {t("mfaCodeLabel")}
            <input name="mfaCode" autocomplete="one-time-code" inputMode="numeric" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary">{t("twoFactorTurnOn")}</button>
        </form>
      )}
      {codes && (
        <div>
          <p>{t("recoveryCodesHint")}</p>
          <ul class="recovery-codes" data-testid="recovery-codes">{codes.map((c) => <li><code>{c}</code></li>)}</ul>
          <button type="button" class="primary" onClick={() => { setCodes(null); onEnabled?.(); }}>{t("twoFactorContinue")}</button>
        </div>
      )}
      {status?.enabled && !codes && (
        <form onSubmit={act(async () => {
          await api.mfaDisable({ password });
          setPassword("");
          setNote(t("twoFactorOffDone"));
          await refresh();
        })}>
          <label>
            {t("password")}
            <input type="password" name="mfaDisablePassword" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <button type="submit">{t("twoFactorTurnOff")}</button>
        </form>
      )}
      {note && <p class="notice" role="status">{note}</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </section>
  );
}

/** The page an administrator sees first when the node requires 2FA and they have none (App.tsx). */
export function EnrolRequired({ onDone }: { onDone: () => void }) {
  return (
    <main class="auth">
      <div class="card">
        <h1>{t("twoFactor")}</h1>
        <p>{t("twoFactorRequired")}</p>
        <TwoFactor onEnabled={onDone} />
      </div>
    </main>
  );
}
