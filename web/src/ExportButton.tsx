/**
 * "Export data" (a person, People administration) and "Export history" (a
 * room, room settings): node administrators only, as the node decides. The
 * download code is loaded on the first click (export-download.ts), so the
 * screens that show the button stay as small as they were.
 */
import { useState } from "preact/hooks";
import { t, type StringKey } from "./i18n";
import { errorText } from "./error-messages";

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

export function ExportButton({ query, label }: { query: { room: string } | { user: string }; label: StringKey }) {
  const [status, setStatus] = useState<{ busy: boolean; text: string | null; error: string | null }>({ busy: false, text: null, error: null });
  const run = async (format: "zip" | "csv") => {
    setStatus({ busy: true, text: t("exportStarting"), error: null });
    try {
      const { downloadExport } = await import("./export-download");
      await downloadExport(query, format, (p) =>
        setStatus({ busy: true, text: p.messages === null ? t("exportProgress", { mb: mb(p.bytes) }) : t("exportProgressMessages", { mb: mb(p.bytes), messages: String(p.messages) }), error: null }),
      );
      setStatus({ busy: false, text: t("exportDone"), error: null });
    } catch (err) {
      setStatus({ busy: false, text: null, error: errorText(err) });
    }
  };
  return (
    <div class="export-button">
      <div class="row wrap">
        <button type="button" disabled={status.busy} onClick={() => void run("zip")}>{t(label)}</button>
        <button type="button" class="link" disabled={status.busy} onClick={() => void run("csv")}>{t("exportCsv")}</button>
      </div>
      {status.text && <p class="muted small" role="status" aria-live="polite" data-testid="export-status">{status.text}</p>}
      {status.error && <p class="error" role="alert">{status.error}</p>}
    </div>
  );
}
