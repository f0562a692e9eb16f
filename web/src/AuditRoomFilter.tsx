/**
 * The audit screen's room filter: a combobox over every room of the node
 * (GET /api/v1/admin/rooms), not the admin's own room list — an auditor is
 * usually not a member of the rooms they look into. Type to search (names in
 * any script; a DM by its two people, "A & B"; or a pasted room id), pick
 * with the mouse or the arrow keys and Enter; Escape closes the list, an
 * empty field means any room. What the filter sends is the picked room's id.
 *
 * The ARIA 1.2 combobox pattern (input + listbox, the active option by
 * aria-activedescendant), so focus stays in the field while the list moves.
 * Part of the audit screen's chunk (Audit.tsx imports it): nothing of it
 * loads for someone who never opens the audit trail.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { AdminRoomPage } from "../../sdk/index";
import { api } from "./store";
import { t } from "./i18n";
import { errorText } from "./server-errors";

type Room = AdminRoomPage["rooms"][number];
const PAGE = 20;
/** Typing settles this long before the node is asked. */
const DEBOUNCE_MS = 200;

/**
 * `onChange(id, pending)`: `id` the picked room ("" for any room); `pending`
 * true while the field holds text that is not a picked room (the screen says
 * so instead of filtering by nothing).
 */
export function AuditRoomFilter({ onChange }: { onChange: (id: string, pending: boolean) => void }) {
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<Room | null>(null);
  const [open, setOpen] = useState(false);
  const [rooms, setRooms] = useState<Room[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [active, setActive] = useState(-1);
  const [error, setError] = useState<string | null>(null);
  /** Answers to an older search are dropped: only the newest request's counts. */
  const asked = useRef(0);

  const fetchPage = async (q: string, from: string | null) => {
    const n = ++asked.current;
    try {
      const page = await api.adminRooms({ q: q || undefined, limit: PAGE, cursor: from ?? undefined });
      if (n !== asked.current) return;
      setRooms((old) => (from && old ? [...old, ...page.rooms] : page.rooms));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      if (n === asked.current) setError(errorText(err));
    }
  };

  // Search as the admin types (not for the name a pick puts in the field).
  useEffect(() => {
    if (!open || picked) return;
    const timer = setTimeout(() => void fetchPage(text.trim(), null), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, open, picked]);

  const choose = (r: Room) => {
    setPicked(r);
    setText(r.name);
    setOpen(false);
    setActive(-1);
    onChange(r.id, false);
  };
  const type = (value: string) => {
    setText(value);
    setPicked(null);
    setOpen(true);
    setActive(-1);
    onChange("", value.trim() !== "");
  };
  // The options the keys move through: the rooms, then "More rooms" when there are more.
  const count = (rooms?.length ?? 0) + (cursor ? 1 : 0);
  const more = () => cursor && void fetchPage(text.trim(), cursor);
  const activate = (i: number) => (rooms && i < rooms.length ? choose(rooms[i]) : more());

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!open) return setOpen(true);
      if (count) setActive((i) => (e.key === "ArrowDown" ? Math.min(i + 1, count - 1) : Math.max(i - 1, 0)));
    } else if (e.key === "Enter" && open && active >= 0 && active < count) {
      e.preventDefault(); // pick, not submit the filter form
      activate(active);
    } else if (e.key === "Escape" && open) {
      e.stopPropagation(); // close the list, not the audit screen
      setOpen(false);
      setActive(-1);
    }
  };

  const optionId = (i: number) => `audit-room-option-${i}`;
  // Expanded only while there is a list to point at (not while the first answer is on its way).
  const shown = open && count > 0;
  return (
    <div class="audit-room">
      <label for="audit-room">{t("auditRoom")}</label>
      <input
        id="audit-room"
        name="auditRoom"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={shown}
        aria-controls={shown ? "audit-room-options" : undefined}
        aria-activedescendant={shown && active >= 0 ? optionId(active) : undefined}
        placeholder={t("auditAnyRoom")}
        value={text}
        maxLength={120}
        autocomplete="off"
        onInput={(e) => type(e.currentTarget.value)}
        onFocus={() => !picked && setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      {shown && (
        <ul id="audit-room-options" role="listbox" aria-label={t("auditRoom")}>
          {rooms?.map((r, i) => (
            // mousedown, not click: the field keeps focus (a blur would close the list first)
            <li key={r.id} id={optionId(i)} role="option" aria-selected={i === active} class={i === active ? "on" : ""} data-room-id={r.id} onMouseDown={(e) => (e.preventDefault(), choose(r))}>
              <span dir="auto">{r.name}</span>
              {r.kind === "dm" ? <span class="muted small">{t("directMessage")}</span> : r.visibility === "private" && <span class="muted small">{t("private")}</span>}
            </li>
          ))}
          {cursor && (
            <li id={optionId(rooms?.length ?? 0)} role="option" aria-selected={active === (rooms?.length ?? 0)} class={active === (rooms?.length ?? 0) ? "on more" : "more"} onMouseDown={(e) => (e.preventDefault(), more())}>
              {t("auditMoreRooms")}
            </li>
          )}
        </ul>
      )}
      {/* outside the listbox, whose children may only be options */}
      {open && rooms?.length === 0 && !cursor && !error && <p class="muted small" role="status">{t("auditNoRooms")}</p>}
      {open && error && <p class="error small" role="alert">{error}</p>}
    </div>
  );
}
