/** Signed in: the room list beside the open room (one or the other below 720 px). */
import { useEffect, useState } from "preact/hooks";
import type { FunctionComponent } from "preact";
import { state, roomTitle, signOut, nameOf, connectionState, changed, api, peerPresence } from "./store";
import { go, startRouter, type Route } from "./router";
import { closeRoom, openRoom } from "./room-view";
import { unreachableNodes } from "./cluster-status";
import { formatShort, nodeLabel, t } from "./i18n";
import { Prefs } from "./Prefs";
import { Chat } from "./Chat";
import { Avatar } from "./Avatar";
import type { InboxRoom } from "../../sdk/index";
import { dismissPrompt, askPermission, shouldPrompt, updateTitle } from "./notify";

type Panel = "people" | "directory" | "audit" | "compliance";
const PANELS: Record<Panel, () => Promise<FunctionComponent<{ onClose: () => void }>>> = {
  // People and Compliance show the compliance strings (compliance-strings.ts): drawn once they are here.
  people: () => import("./People").then((m) => m.ready.then(() => m.PeoplePanel)),
  directory: () => import("./Directory").then((m) => m.DirectoryPanel),
  audit: () => import("./Audit").then((m) => m.AuditPanel),
  compliance: () => import("./Compliance").then((m) => m.ready.then(() => m.CompliancePanel)),
};

export function Shell() {
  // The new-room and new-DM dialogs are a chunk of their own, fetched on first use.
  const [Dialog, setDialogView] = useState<FunctionComponent<{ onClose: () => void }> | null>(null);
  const setDialog = (which: "room" | "dm") => void import("./Dialogs").then((m) => setDialogView(() => (which === "room" ? m.NewRoomDialog : m.NewDmDialog)));
  // Settings are not part of the first screen: loaded when opened.
  const [SettingsPanel, setSettingsPanel] = useState<FunctionComponent<{ onClose: () => void }> | null>(null);
  const openSettings = () => void import("./Settings").then((m) => setSettingsPanel(() => m.Settings));
  const [prompt, setPrompt] = useState(shouldPrompt);
  useEffect(updateTitle);
  const [query, setQuery] = useState("");
  // The results list is loaded on first use: it is not part of the first screen.
  const [Results, setResults] = useState<FunctionComponent<{ q: string }> | null>(null);
  const wantSearch = () => {
    if (!Results) void import("./Search").then((m) => setResults(() => m.SearchResults));
  };
  const searching = query.trim().length > 0;
  // People administration and the room directory: their own chunks, loaded when first opened.
  // The audit trail likewise (admins; beside People, where they administer the node), and retention and legal holds.
  const [panel, setPanel] = useState<{ which: Panel; View: FunctionComponent<{ onClose: () => void }> } | null>(null);
  const openPanel = (which: Panel) => void PANELS[which]().then((View) => setPanel({ which, View }));
  // The address bar and Back/Forward (router.ts): applied now (a deep link, a reload) and on every popstate.
  useEffect(() => startRouter(applyRoute), []);
  const d = state.device;
  const rooms = d ? d.sortedRooms() : [];
  const conn = connectionState();
  return (
    <div class={state.view ? "shell has-room" : "shell"}>
      {conn !== "ok" && (
        <div class="banner" role="status" aria-live="polite" data-testid="conn-banner">
          {conn === "offline" ? t("offlineBanner") : t("reconnecting")}
        </div>
      )}
      {conn === "ok" &&
        unreachableNodes().map((n) => (
          <div class="banner" role="status" aria-live="polite" data-testid="node-banner" key={n.node}>
            {t("nodeUnreachable", { node: nodeLabel(n.node), since: formatShort(n.since) })}
          </div>
        ))}
      {prompt && (
        <div class="banner notify-prompt" role="region" aria-label={t("notifications")} data-testid="notify-prompt">
          {t("notifyPrompt")}{" "}
          <button type="button" class="link" onClick={() => void askPermission().then(() => setPrompt(false))}>{t("notifyEnable")}</button>
          <button type="button" class="link" onClick={() => { dismissPrompt(); setPrompt(false); }}>{t("notNow")}</button>
        </div>
      )}
      <nav class="sidebar" aria-label={t("roomList")}>
        <header class="side-head">
          <strong class="me" dir="auto">{state.me?.displayName}</strong>
          <button type="button" class="link" data-testid="open-settings" onClick={openSettings}>{t("settings")}</button>
          <button type="button" class="link" onClick={() => void signOut()}>{t("signOut")}</button>
        </header>
        <div class="side-actions">
          <button type="button" onClick={() => setDialog("dm")}>{t("newDm")}</button>
          <button type="button" onClick={() => setDialog("room")}>{t("newRoom")}</button>
          <button type="button" data-testid="browse-rooms" onClick={() => openPanel("directory")}>{t("browseRooms")}</button>
          {state.me?.isAdmin && <button type="button" data-testid="open-people" onClick={() => openPanel("people")}>{t("people")}</button>}
          {state.me?.isAdmin && <button type="button" data-testid="open-audit" onClick={() => openPanel("audit")}>{t("auditTrail")}</button>}
          {state.me?.isAdmin && <button type="button" data-testid="open-compliance" onClick={() => openPanel("compliance")}>{t("compliance")}</button>}
        </div>
        <form class="search-box" role="search" onSubmit={(e) => e.preventDefault()}>
          <input
            type="search"
            name="q"
            aria-label={t("searchMessages")}
            placeholder={t("searchMessages")}
            value={query}
            maxLength={256}
            onFocus={wantSearch}
            onInput={(e) => {
              wantSearch();
              setQuery(e.currentTarget.value);
            }}
            onKeyDown={(e) => e.key === "Escape" && setQuery("")}
          />
          {searching && <button type="button" class="icon" aria-label={t("clearSearch")} onClick={() => setQuery("")}>×</button>}
        </form>
        {searching ? (
          Results ? <Results q={query.trim()} /> : <p class="muted small">{t("searching")}</p>
        ) : (
          <ul class="rooms" aria-label={t("rooms")}>
            {d?.ready && rooms.length === 0 && <li class="muted empty">{t("noRooms")}</li>}
            {rooms.map((r) => <RoomItem key={r.roomId} room={r} />)}
          </ul>
        )}
        <Prefs />
      </nav>
      <main class="main">
        {state.view ? <Chat key={state.view.roomId} /> : <div class="center muted">{t("pickRoom")}</div>}
      </main>
      {Dialog && <Dialog onClose={() => setDialogView(null)} />}
      {panel && <panel.View onClose={() => setPanel(null)} />}
      {SettingsPanel && <SettingsPanel onClose={() => setSettingsPanel(null)} />}
    </div>
  );
}

function RoomItem({ room }: { room: InboxRoom }) {
  const active = state.view?.roomId === room.roomId;
  // The open room never shows a badge: what arrives there is on screen, or counted on its "new messages ↓".
  const unread = active ? 0 : room.unread;
  const mentions = active ? 0 : room.mentions;
  const presence = room.peerId ? peerPresence(room.peerId) : null;
  const last = room.lastMessage;
  const title = roomTitle(room);
  const preview = last ? (last.deleted ? t("recalled") : `${last.senderId === state.me?.id ? t("you") : nameOf(last.senderId)}: ${last.preview || "📎"}`) : "";
  return (
    <li>
      <button
        type="button"
        class={active ? "room active" : "room"}
        aria-current={active ? "page" : undefined}
        data-room-id={room.roomId}
        onClick={() => {
          if (active) return;
          openRoom(room.roomId);
        }}
        onKeyDown={(e) => {
          // Arrow keys move between rooms.
          if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
          e.preventDefault();
          const li = (e.currentTarget.parentElement as HTMLElement)[e.key === "ArrowDown" ? "nextElementSibling" : "previousElementSibling"];
          (li?.querySelector("button") as HTMLButtonElement | null)?.focus();
        }}
      >
        <Avatar userId={room.peerId} name={title}>
          {presence && <span class={`dot ${presence}`} data-testid="presence" />}
        </Avatar>
        <span class="room-text">
          <span class="room-line">
            <span class="room-name" dir="auto">{title}</span>
            {/* The button's name is its text (WCAG 2.5.3: what is seen is what voice control can say); what only shows as colour or a number is spelled out here. */}
            {presence && <span class="sr-only">, {t(presence)}</span>}
            {last && <time class="muted small">{formatShort(last.createdAt)}</time>}
          </span>
          <span class="room-line">
            <span class="preview muted" dir="auto">{preview}</span>
            {room.muted && <span class="muted small" data-testid="muted-mark" aria-hidden="true">🔕</span>}
            {room.muted && <span class="sr-only">, {t("muted")}</span>}
            {mentions > 0 && !room.muted && <span class="badge mention-badge" data-testid="mention-badge" aria-hidden="true">@{mentions}</span>}
            {mentions > 0 && !room.muted && <span class="sr-only">, {t("mentionCount", { n: mentions })}</span>}
            {/* A muted room's count is shown, but without the badge's emphasis. */}
            {unread > 0 && <span class={room.muted ? "badge quiet" : "badge"} data-testid="unread-badge" aria-hidden="true">{unread}</span>}
            {unread > 0 && <span class="sr-only">, {t("unreadCount", { n: unread })}</span>}
          </span>
        </span>
      </button>
    </li>
  );
}

export function backToList(): void {
  closeRoom();
  go({ kind: "home" });
  changed();
}

/** Show what a URL names: the room list, a room, or a room at one message (its history loaded around it). */
async function applyRoute(route: Route): Promise<void> {
  if (route.kind === "home") {
    if (state.view) {
      closeRoom();
      changed();
    }
    return;
  }
  const { roomId, messageId } = route;
  if (!messageId) return openRoom(roomId);
  const known = state.view?.roomId === roomId ? state.view.byId.get(messageId) : undefined;
  if (known) return openRoom(roomId, { id: known.id, seq: known.seq });
  try {
    // Its seq says where in the history it is; the room then loads the pages around it.
    const m = await api.message(roomId, messageId);
    openRoom(roomId, { id: m.id, seq: m.seq });
  } catch {
    // Gone, or not ours to see: the room itself (the node says the same for both).
    openRoom(roomId, undefined, { replace: true });
  }
}
