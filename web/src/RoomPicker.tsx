/**
 * Pick a room of this node for a legal hold (Compliance.tsx): every room homed
 * here — the node's directory of rooms (`GET /api/v1/admin/rooms`), private
 * rooms and direct messages the admin is not in included, searched by name in
 * any script — or a pasted room id (from the audit trail or an export). Rooms
 * homed on other nodes are left out: a hold covers this node's rooms only, and
 * the node refuses any other.
 */
import { ROOM_ID_RE, homeNode } from "../../protocol/ids";
import type { AdminRoomPage } from "../../sdk/index";
import { api, state } from "./store";
import { t } from "./i18n";
import { tc } from "./compliance-strings";
import { useSearchedPages } from "./searched-pages";

export interface PickedRoom {
  id: string;
  name: string;
}

type Found = PickedRoom & Partial<Pick<AdminRoomPage["rooms"][number], "kind" | "visibility">>;

export function RoomPicker({ pick }: { pick: (r: PickedRoom) => void }) {
  const here = (id: string) => !!state.me && homeNode(id) === homeNode(state.me.id);
  // useSearchedPages shows only the answer for what the box says now (a late answer to an earlier
  // search is dropped), and an error until the next answer; a pasted id needs no directory.
  const list = useSearchedPages<Found>(async (text) => {
    if (text && ROOM_ID_RE.test(text)) return { items: here(text) ? [{ id: text, name: text }] : [], nextCursor: null };
    const page = await api.adminRooms({ q: text, limit: 20 });
    return { items: page.rooms.map((r) => ({ id: r.id, name: r.name, kind: r.kind, visibility: r.visibility })), nextCursor: null };
  });
  const found = list.items;
  const error = list.error;
  return (
    <div class="picker">
      <input type="search" name="holdRoomSearch" aria-label={tc("searchRoomsOrId")} placeholder={tc("searchRoomsOrId")} value={list.q} onInput={(e) => list.setQ(e.currentTarget.value)} />
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
