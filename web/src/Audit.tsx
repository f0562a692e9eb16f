/**
 * The node's audit trail (administrators only; its own chunk, loaded when
 * opened, like People): newest first, filtered by user, room, action and
 * days, paged with "More", and exported as CSV.
 *
 * The room filter picks from every room of the node (AuditRoomFilter.tsx),
 * not from the admin's own rooms: an auditor is usually not in the rooms they
 * look into.
 *
 * The CSV is built here from the same API pages (GET /api/v1/admin/audit),
 * following the cursor to the end of the filter: one source of truth for what
 * the screen shows and what the file holds, and no second endpoint to keep in
 * step. Action names stay the stable codes (`room.renamed`): an auditor's
 * tooling matches on them, in either language.
 */
import { useEffect, useState } from "preact/hooks";
import type { AuditPage, AuditParams } from "../../sdk/index";
import { AUDIT_ACTIONS } from "../../protocol/audit";
import { api, remember, roomTitle, state } from "./store";
import { formatDateTime, formatSize, t } from "./i18n";
import { Panel } from "./Panel";
import { AuditRoomFilter } from "./AuditRoomFilter";
import { errorText } from "./server-errors";

type AuditRecord = AuditPage["records"][number];
const PAGE = 100;
/** Pages an export follows at most (500 records each): 100,000 records; past that, narrow the filter. */
const EXPORT_PAGES = 200;

interface Filter {
  username: string;
  room: string;
  action: string;
  from: string;
  to: string;
}

const EMPTY: Filter = { username: "", room: "", action: "", from: "", to: "" };

/** The API query for a filter; the username is looked up to its id (null: no such user). */
async function toQuery(f: Filter): Promise<AuditParams | null> {
  const q: AuditParams = {};
  const name = f.username.trim().toLowerCase();
  if (name) {
    if (/^u_/.test(name)) q.user = f.username.trim();
    else {
      const page = await api.accounts({ q: name, limit: 100 });
      const found = page.accounts.find((a) => a.username === name);
      if (!found) return null;
      q.user = found.id;
    }
  }
  if (f.room) q.room = f.room;
  if (f.action) q.action = f.action as AuditParams["action"];
  // Whole days in the admin's own time zone: "to" includes its day.
  if (f.from) q.from = new Date(`${f.from}T00:00:00`).getTime();
  if (f.to) q.to = new Date(`${f.to}T00:00:00`).getTime() + 86_400_000;
  return q;
}

export function AuditPanel({ onClose }: { onClose: () => void }) {
  const [draft, setDraft] = useState<Filter>(EMPTY);
  const [query, setQuery] = useState<AuditParams | null>({});
  const [records, setRecords] = useState<AuditRecord[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exporting, setExporting] = useState<number | null>(null);
  /** The room field holds text that is no picked room: filtering would silently mean "any room". */
  const [roomPending, setRoomPending] = useState(false);

  const load = async (q: AuditParams, from: string | null) => {
    try {
      const page = await api.auditTrail({ ...q, limit: PAGE, cursor: from ?? undefined });
      await learnNames(page);
      setRecords((old) => (from && old ? [...old, ...page.records] : page.records));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    if (query) void load(query, null);
  }, [query]);

  const apply = async (e: Event) => {
    e.preventDefault();
    if (roomPending) return setError(t("auditChooseRoom"));
    try {
      const q = await toQuery(draft);
      if (!q) {
        setRecords([]);
        setCursor(null);
        setError(t("auditNoSuchUser", { name: draft.username.trim() }));
        return;
      }
      setQuery(q);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const exportCsv = async () => {
    if (!query) return;
    const all: AuditRecord[] = [];
    let next: string | null = null;
    try {
      for (let i = 0; i < EXPORT_PAGES; i++) {
        setExporting(all.length);
        const page: AuditPage = await api.auditTrail({ ...query, limit: 500, cursor: next ?? undefined });
        all.push(...page.records);
        await learnNames(page);
        next = page.nextCursor;
        if (!next) break;
      }
      download(`outpost-audit-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(all));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setExporting(null);
    }
  };

  const set = (k: keyof Filter) => (e: Event) => setDraft({ ...draft, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <Panel title={t("auditTitle")} onClose={onClose} testId="audit-panel">
      <form class="audit-filters" onSubmit={(e) => void apply(e)}>
        <label>
          {t("auditUser")}
          <input name="auditUser" value={draft.username} maxLength={120} onInput={set("username")} autocomplete="off" />
        </label>
        <AuditRoomFilter
          onChange={(room, pending) => {
            setDraft((d) => ({ ...d, room }));
            setRoomPending(pending);
          }}
        />
        <label>
          {t("auditAction")}
          <select name="auditAction" value={draft.action} onChange={set("action")}>
            <option value="">{t("auditAnyAction")}</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          {t("auditFrom")}
          <input type="date" name="auditFrom" value={draft.from} onInput={set("from")} />
        </label>
        <label>
          {t("auditTo")}
          <input type="date" name="auditTo" value={draft.to} onInput={set("to")} />
        </label>
        <div class="panel-tools">
          <button type="submit" class="primary">{t("auditApply")}</button>
          <button type="button" data-testid="audit-export" disabled={exporting !== null} onClick={() => void exportCsv()}>{t("auditExport")}</button>
        </div>
      </form>
      {exporting !== null && <p class="muted small" role="status">{t("auditExporting", { count: exporting })}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {/* Focusable, so a keyboard can scroll a table wider than the screen (long details). */}
      <div class="audit-scroll" tabIndex={0} role="region" aria-label={t("auditTitle")}>
        <table class="audit" data-testid="audit-records">
          <thead>
            <tr>
              <th scope="col">{t("auditTime")}</th>
              <th scope="col">{t("auditActor")}</th>
              <th scope="col">{t("auditAction")}</th>
              <th scope="col">{t("auditRoom")}</th>
              <th scope="col">{t("auditTarget")}</th>
              <th scope="col">{t("auditDetail")}</th>
            </tr>
          </thead>
          <tbody>
            {records?.map((r) => (
              <tr key={`${r.object}/${r.seq}`} data-action={r.action}>
                <td><time dateTime={new Date(r.at).toISOString()}>{formatDateTime(r.at)}</time></td>
                <td dir="auto">{who(r.actor)}</td>
                <td><code>{r.action}</code></td>
                <td dir="auto" title={r.roomId ?? undefined} data-room-id={r.roomId ?? undefined}>{r.roomId ? roomName(r.roomId) : ""}</td>
                <td dir="auto" title={r.userId ?? undefined}>{r.userId ? who(r.userId) : ""}</td>
                <td class="audit-detail" dir="auto">{detailText(r.detail)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {records?.length === 0 && !error && <p class="muted empty">{t("auditNoRecords")}</p>}
      </div>
      {cursor && query && (
        <button type="button" class="more" onClick={() => void load(query, cursor)}>{t("auditMore")}</button>
      )}
    </Panel>
  );
}

/**
 * Names of the rooms and people the pages mention, as the node gave them with
 * each page (`names`): also rooms the admin is not a member of. Kept across
 * pages ("More", the export), since a later page names only its own ids.
 */
const pageNames = new Map<string, string>();

/**
 * Learn a page's names. An older node sends none: then one request for the
 * people not yet known, as before (rooms: only the admin's own).
 */
async function learnNames(page: AuditPage): Promise<void> {
  if (page.names) {
    for (const { id, name } of page.names) pageNames.set(id, name);
    return;
  }
  const ids = new Set<string>();
  for (const r of page.records) for (const id of [r.actor, r.userId]) if (id && id.startsWith("u_") && !state.users.has(id)) ids.add(id);
  const list = [...ids].slice(0, 200);
  if (list.length === 0) return;
  const { users } = await api.usersByIds(list);
  for (const u of users) remember(u.id, u.displayName, u.username, u.avatar ?? null);
}

function who(id: string): string {
  // "system", "anonymous", or a person this node no longer knows: the id itself.
  return pageNames.get(id) ?? state.users.get(id)?.displayName ?? id;
}

function roomName(id: string): string {
  const named = pageNames.get(id);
  if (named) return named;
  const r = state.device?.sortedRooms().find((x) => x.roomId === id);
  return r ? roomTitle(r) : id;
}

function detailText(json: string): string {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${detailValue(k, v)}`)
    .join(", ");
}

/**
 * A detail as a reader wants it: a moment (`expiresAt` and any other `…At`, in ms) as a
 * date and time in their locale, a size (`size`, `…Bytes`) as "2.1 kB"; the rest as
 * recorded. The CSV export keeps the recorded JSON, for machines.
 */
function detailValue(key: string, v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) {
    if (key.endsWith("At")) return formatDateTime(v);
    if (key === "size" || key.endsWith("Bytes")) return formatSize(v);
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** RFC 4180: every field quoted, quotes doubled; a leading =+-@ is prefixed so a spreadsheet never runs it as a formula. */
function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return `"${safe.replace(/"/g, '""')}"`;
}

export function toCsv(records: AuditRecord[]): string {
  // room_name last, after the columns the file always had, so tools reading them by position keep working.
  const head = ["time", "actor", "actor_name", "action", "room", "user", "user_name", "detail", "object", "seq", "hash", "room_name"];
  const rows = records.map((r) =>
    [new Date(r.at).toISOString(), r.actor, who(r.actor), r.action, r.roomId ?? "", r.userId ?? "", r.userId ? who(r.userId) : "", r.detail, r.object, String(r.seq), r.hash, r.roomId ? roomName(r.roomId) : ""]
      .map(csvField)
      .join(","),
  );
  // A BOM so spreadsheet programs read the UTF-8 (Chinese names) right.
  return "\ufeff" + [head.join(","), ...rows].join("\r\n") + "\r\n";
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
