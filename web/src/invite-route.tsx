/** The invite page, loaded only when someone opens an invite link (not part of the first screen). */
import { useEffect, useState } from "preact/hooks";
import type { FunctionComponent } from "preact";
import { t } from "./i18n";

export function InviteRoute() {
  const [Page, setPage] = useState<FunctionComponent | null>(null);
  useEffect(() => void import("./Invite").then((m) => setPage(() => m.InvitePage)), []);
  return Page ? <Page /> : <div class="center muted" role="status">{t("loading")}</div>;
}
