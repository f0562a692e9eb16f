/**
 * The sentence a person reads for an error, in the UI's language: the tables
 * are in strings-en.ts / strings-zh.ts (one per language, loaded with it), never
 * the node's English `message`, which is for operators and logs.
 * test/web/error-messages.test.ts fails when a code has no sentence. Codes a
 * newer node adds fall back to the HTTP status's meaning, then to a generic sentence.
 */
import { errorTable, type ErrorTable } from "./i18n";

const BY_STATUS: Record<number, keyof ErrorTable> = { 400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "storage_error" };

/** The sentence for an error (an OutpostApiError, a refused send), in the UI's language. */
export function errorText(err: unknown): string {
  const table = errorTable();
  if (!table) return "Error"; // strings not loaded yet: nothing is shown before they are (main.tsx)
  const e = err as { code?: unknown; status?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (code in table) return table[code as keyof ErrorTable];
  const byStatus = typeof e?.status === "number" ? BY_STATUS[e.status] : undefined;
  if (byStatus) return table[byStatus];
  return table.internal;
}
