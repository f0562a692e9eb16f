/**
 * Browse rooms (loaded on demand): the node's public rooms by name, with their
 * topic and member count, searched as you type (any script: "上海" finds
 * "上海分行"), a page at a time. A room you are in says "Open"; any other
 * "Join", which joins and opens it in one click.
 */
import { useState } from "preact/hooks";
import type { PublicRoom } from "../../sdk/index";
import { api, state } from "./store";
import { openRoom } from "./room-view";
import { t } from "./i18n";
import { Panel } from "./Panel";
import { errorText } from "./server-errors";
import { useSearchedPages } from "./searched-pages";

export function DirectoryPanel({ onClose }: { onClose: () => void }) {
  const { q, setQ, items: rooms, cursor, error, setError, more } = useSearchedPages(async (query, from) => {
    const page = await api.publicRooms({ q: query, limit: 30, cursor: from });
    return { items: page.rooms, nextCursor: page.nextCursor };
  });
  const [busy, setBusy] = useState<string | null>(null);

  const open = (id: string) => {
    onClose();
    openRoom(id);
  };
  const join = async (room: PublicRoom) => {
    setBusy(room.id);
    try {
      await api.joinRoom(room.id);
      open(room.id);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Panel title={t("browseRooms")} onClose={onClose} testId="directory-panel">
      <div class="panel-tools">
        <input type="search" name="roomSearch" maxLength={80} aria-label={t("searchPublicRooms")} placeholder={t("searchPublicRooms")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="directory" aria-label={t("browseRooms")} data-testid="public-rooms">
        {rooms?.length === 0 && <li class="muted empty">{t("noPublicRooms")}</li>}
        {rooms?.map((r) => {
          const member = !!state.device?.rooms.has(r.id);
          return (
            <li key={r.id} class="public-room" data-room-id={r.id}>
              <span class="avatar" aria-hidden="true">{[...r.name][0]?.toUpperCase() ?? "#"}</span>
              <span class="public-room-text">
                <span class="room-name" dir="auto">{r.name}</span>
                {r.topic && <span class="topic muted small" dir="auto">{r.topic}</span>}
                {r.memberCount !== null && <span class="muted small">{r.memberCount === 1 ? t("memberCountOne") : t("memberCountN", { n: r.memberCount })}</span>}
              </span>
              {member ? (
                <button type="button" aria-label={`${t("open")} ${r.name}`} onClick={() => open(r.id)}>{t("open")}</button>
              ) : (
                <button type="button" class="primary" disabled={busy === r.id} aria-label={`${t("join")} ${r.name}`} onClick={() => void join(r)}>{t("join")}</button>
              )}
            </li>
          );
        })}
        {cursor && (
          <li>
            <button type="button" class="more" onClick={more}>{t("moreRooms")}</button>
          </li>
        )}
      </ul>
    </Panel>
  );
}
