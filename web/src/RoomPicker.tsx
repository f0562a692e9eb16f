/**
 * Pick a room of this node for a legal hold (Compliance.tsx): every room homed
 * here — the node's directory of rooms (`GET /api/v1/admin/rooms`), private
 * rooms and direct messages the admin is not in included, searched by name in
 * any script — or a pasted room id (from the audit trail or an export). Rooms
 * homed on other nodes are left out: a hold covers this node's rooms only, and
 * the node refuses any other.
 */
import { useEffect, useState } from "preact/hooks";
import { ROOM_ID_RE, homeNode } from "../../protocol/ids";
import type { AdminRoomPage } from "../../sdk/index";
import { api, state } from "./store";
import { t } from "./i18n";
import { tc } from "./compliance-strings";
import { errorText } from "./server-errors";

export interface PickedRoom {
  id: string;
  name: string;
}

export function RoomPicker({ pick }: { pick: (r: PickedRoom) => void }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<(PickedRoom & Partial<Pick<AdminRoomPage["rooms"][number], "kind" | "visibility">>)[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const here = (id: string) => !!state.me && homeNode(id) === homeNode(state.me.id);
  useEffect(() => {
    const text = q.trim();
    let stale = false;
    const timer = setTimeout(async () => {
      if (ROOM_ID_RE.test(text)) return setFound(here(text) ? [{ id: text, name: text }] : []);
      try {
        const page = await api.adminRooms({ q: text || undefined, limit: 20 });
        if (stale) return;
        setFound(page.rooms.map((r) => ({ id: r.id, name: r.name, kind: r.kind, visibility: r.visibility })));
        setError(null);
      } catch (err) {
        // a pasted id still works without the directory
        if (!stale) setError(errorText(err));
      }
    }, 150);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [q]);
  return (
    <div class="picker">
      <input type="search" name="holdRoomSearch" aria-label={tc("searchRoomsOrId")} placeholder={tc("searchRoomsOrId")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      {error && <p class="error small" role="alert">{error}</p>}
      <ul class="people">
        {found?.length === 0 && <li class="muted">{tc("noRoomsFound")}</li>}
        {found?.map((r) => (
          <li key={r.id}>
            <button type="button" class="person" data-room-id={r.id} onClick={() => pick(r)}>
              <span dir="auto">{r.name}</span>
              {r.kind === "dm" ? <span class="muted small"> {t("directMessage")}</span> : r.visibility === "private" && <span class="muted small"> {t("private")}</span>}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
