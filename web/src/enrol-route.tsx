/** The enrolment page for an administrator who must turn on two-factor sign-in (loaded on first use: TwoFactor.tsx). */
import { useEffect, useState } from "preact/hooks";
import type { FunctionComponent } from "preact";
import { signedIn, state } from "./store";
import { t } from "./i18n";

export function EnrolRoute() {
  const [Page, setPage] = useState<FunctionComponent<{ onDone: () => void }> | null>(null);
  useEffect(() => void import("./TwoFactor").then((m) => setPage(() => m.EnrolRequired)), []);
  if (!Page) return <div class="center muted" role="status">{t("loading")}</div>;
  return <Page onDone={() => state.me && signedIn(state.me)} />;
}
