/**
 * Pick a room of this node for a legal hold (Compliance.tsx): the admin's own
 * group rooms and the public room directory, searched by name, or a pasted
 * room id — the way to name a private room the admin is not in (ids show in
 * the audit trail and in exports). Rooms homed on other nodes are left out: a
 * hold covers this node's rooms only, and the node refuses any other.
 */
import { useEffect, useState } from "preact/hooks";
import { ROOM_ID_RE, homeNode } from "../../protocol/ids";
import { api, roomTitle, state } from "./store";
import { tc } from "./compliance-strings";

export interface PickedRoom {
  id: string;
  name: string;
}

export function RoomPicker({ pick }: { pick: (r: PickedRoom) => void }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<PickedRoom[] | null>(null);
  const here = (id: string) => !!state.me && homeNode(id) === homeNode(state.me.id);
  useEffect(() => {
    const text = q.trim();
    const timer = setTimeout(async () => {
      if (ROOM_ID_RE.test(text)) return setFound(here(text) ? [{ id: text, name: text }] : []);
      const mine = (state.device?.sortedRooms() ?? [])
        .filter((r) => r.kind === "group" && here(r.roomId) && r.name.toLowerCase().includes(text.toLowerCase()))
        .map((r) => ({ id: r.roomId, name: roomTitle(r) }));
      let listed: PickedRoom[] = [];
      try {
        listed = (await api.publicRooms({ q: text || undefined, limit: 20 })).rooms.filter((r) => here(r.id)).map((r) => ({ id: r.id, name: r.name }));
      } catch {
        // the directory did not answer: the admin's own rooms, and a pasted id, still work
      }
      const seen = new Set(mine.map((r) => r.id));
      setFound([...mine, ...listed.filter((r) => !seen.has(r.id))].slice(0, 20));
    }, 150);
    return () => clearTimeout(timer);
  }, [q]);
  return (
    <div class="picker">
      <input type="search" name="holdRoomSearch" aria-label={tc("searchRoomsOrId")} placeholder={tc("searchRoomsOrId")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      <ul class="people">
        {found?.length === 0 && <li class="muted">{tc("noRoomsFound")}</li>}
        {found?.map((r) => (
          <li key={r.id}>
            <button type="button" class="person" data-room-id={r.id} onClick={() => pick(r)}>
              <span dir="auto">{r.name}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
