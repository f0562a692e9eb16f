/**
 * The node's structured log: one JSON object per line on workerd's stdout
 * (console.log; `npm start` passes stdout through untouched), so a log shipper
 * reads it without a parser of ours. JSON.stringify escapes every control
 * character, so a line is always one line, whatever a field holds.
 *
 * Fields are chosen by the caller, never copied wholesale from a request:
 * no passwords, tokens, cookies, message text or file names (file names can be
 * personal data) ever reach the log. Errors are logged by their message only
 * (`errorText`), without stacks, cut to a bounded length.
 *
 * docs/OPERATIONS.md ("Logs") lists the fields.
 *
 * @example
 *   log("error", "storage.error", { room: roomId, error: errorText(err) });
 *   // {"t":"2026-11-30T21:15:28.123Z","level":"error","event":"storage.error","room":"r_…@local","error":"…"}
 */

export type LogLevel = "info" | "warn" | "error";

export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ t: new Date().toISOString(), level, event, ...fields }));
}

/** An error as one short string: its message (no stack, no cause chain), at most 300 characters. */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name === "Error" ? "" : `${err.name}: `}${err.message}` : String(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
