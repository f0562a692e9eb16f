/** The one-time setup page, loaded only at /setup (not part of the first screen). */
import { useEffect, useState } from "preact/hooks";
import type { FunctionComponent } from "preact";
import { t } from "./i18n";

export function SetupRoute() {
  const [Page, setPage] = useState<FunctionComponent | null>(null);
  useEffect(() => void import("./Setup").then((m) => setPage(() => m.Setup)), []);
  return Page ? <Page /> : <div class="center muted" role="status">{t("loading")}</div>;
}
