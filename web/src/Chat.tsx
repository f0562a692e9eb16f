/** The open room: header, virtualised messages, typing line, composer. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Attachment, Message } from "../../sdk/index";
import { api, changed, nameOf, peerPresence, roomTitle, state } from "./store";
import { errorText } from "./error-messages";
import { dropFailed, failedIn, retryFailed, type FailedSend } from "./failed-sends";
import { fillComposer } from "./Composer";
import { routePath } from "./router";
import { focusMessage, loadNewer, loadOlder, markRead, type RoomView } from "./room-view";
import { roomUnreachable } from "./cluster-status";
import { formatDay, formatShort, formatSize, formatTime, nodeLabel, t } from "./i18n";
import { addFiles } from "./uploads";
import { Markdown } from "./Markdown";
import { Avatar } from "./Avatar";
import { VirtualList, type Row } from "./MessageList";
import { Composer, type ComposerMode } from "./Composer";
import { backToList } from "./Shell";
import type { FunctionComponent } from "preact";

const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "👀"];
/** The layout without hover (styles.css switches at the same width). */
const PHONE = typeof matchMedia === "undefined" ? ({ matches: false } as MediaQueryList) : matchMedia("(max-width: 720px)");

export function Chat() {
  const view = state.view!;
  const [mode, setMode] = useState<ComposerMode>({ kind: "new" });
  // The members dialog is a chunk of its own (Dialogs.tsx), fetched on first use.
  const [Members, setMembersView] = useState<FunctionComponent<{ onClose: () => void }> | null>(null);
  const setMembers = (open: boolean) => (open ? void import("./Dialogs").then((m) => setMembersView(() => m.MembersDialog)) : setMembersView(null));
  // Room settings are loaded when first opened (not part of the first screen).
  const [RoomSettingsPanel, setRoomSettingsPanel] = useState<FunctionComponent<{ onClose: () => void }> | null>(null);
  const openRoomSettings = () => void import("./RoomSettings").then((m) => setRoomSettingsPanel(() => m.RoomSettings));
  const [dropping, setDropping] = useState(false);
  // On a phone there is no hover: a tap (or a long press) on a message opens its actions inside the row.
  const [selected, setSelected] = useState<string | null>(null);
  const [toBottom, setToBottom] = useState(0);
  const inbox = state.device?.rooms.get(view.roomId);
  const title = inbox ? roomTitle(inbox) : view.room?.name ?? "";
  // A room homed on a branch node this node cannot reach: what shows is as of the last sync.
  const away = roomUnreachable(view.roomId);
  const me = state.me!;

  useEffect(() => {
    markRead();
  });

  // Page back until the original is loaded (or the beginning is reached), then point at it.
  const jumpTo = (id: string) => void focusMessage(view, id);

  const myRole = view.members.find((m) => m.userId === me.id)?.role ?? "member";
  // The node lets a group room's owner and admins recall anyone's message (durable-objects/room/messages.ts).
  const canModerate = view.room?.kind !== "dm" && myRole !== "member";
  const rows = buildRows(view, me.id, me.username, { setMode, jumpTo, highlight: view.highlight, selected, select: setSelected, canModerate });
  const last = view.messages[view.messages.length - 1];
  if (view.atBottom && !view.hasNewer && last && view.seenSeq < last.seq) view.seenSeq = last.seq;
  // Arrived while scrolled up, from others: the count on the "new messages ↓" button.
  const unseen = view.atBottom ? 0 : view.messages.filter((m) => m.seq > view.seenSeq && m.senderId !== me.id).length;
  const typers = [...view.typing].filter(([id, until]) => until > Date.now() && id !== me.id).map(([id]) => nameOf(id));
  const presence = inbox?.peerId ? peerPresence(inbox.peerId) : null;

  return (
    <section
      class={dropping ? "chat dropping" : "chat"}
      aria-label={title}
      onDragOver={(e) => {
        if (!e.dataTransfer?.types.includes("Files")) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
        if (!dropping) setDropping(true);
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDropping(false);
      }}
      onDrop={(e) => {
        setDropping(false);
        if (!e.dataTransfer?.files.length) return;
        e.preventDefault();
        addFiles(view.roomId, e.dataTransfer.files);
      }}
    >
      {dropping && <div class="drop-hint" aria-hidden="true">{t("dropFiles")}</div>}
      <header class="chat-head">
        <button type="button" class="icon back" aria-label={t("back")} onClick={backToList}>‹</button>
        <div class="chat-titles">
          <h1 dir="auto" class="chat-title">{title}</h1>
          {view.room?.topic && <p class="chat-topic muted small" dir="auto" data-testid="room-topic">{view.room.topic}</p>}
        </div>
        {presence && <span class="muted small"><span class={`dot inline ${presence}`} aria-hidden="true" /> {t(presence)}</span>}
        <button type="button" class="link" onClick={() => setMembers(true)}>{t("members")} ({view.members.length || view.room?.memberCount || ""})</button>
        <button type="button" class="icon" aria-label={t("roomSettings")} title={t("roomSettings")} data-testid="open-room-settings" onClick={openRoomSettings}>⚙</button>
      </header>
      {away && (
        <div class="stale muted small" role="status" data-testid="room-stale">
          {t("roomStale", { node: nodeLabel(away.node), at: away.lastContactAt ? formatShort(away.lastContactAt) : "—" })}
        </div>
      )}
      <VirtualList
        rows={rows}
        label={t("messageList")}
        jumpTo={view.jump}
        follow={!view.hasNewer}
        onNearTop={() => void loadOlder()}
        onAtBottom={markRead}
        onNearEnd={() => void loadNewer()}
        onBottom={(at) => {
          if (view.atBottom === at) return;
          view.atBottom = at;
          changed();
        }}
        toBottom={toBottom}
      />
      {unseen > 0 && (
        <button type="button" class="new-below" data-testid="new-messages" onClick={() => setToBottom((n) => n + 1)}>
          {t("newMessagesCount", { n: unseen })}
        </button>
      )}
      <div class="typing muted small" aria-live="polite" data-testid="typing">
        {typers.length === 1 ? t("typingOne", { a: typers[0] }) : typers.length === 2 ? t("typingTwo", { a: typers[0], b: typers[1] }) : typers.length > 2 ? t("typingMany") : ""}
      </div>
      <Composer view={view} title={title} mode={mode} setMode={setMode} />
      {Members && <Members onClose={() => setMembers(false)} />}
      {RoomSettingsPanel && <RoomSettingsPanel onClose={() => setRoomSettingsPanel(null)} />}
    </section>
  );
}

interface RowCtx {
  setMode: (m: ComposerMode) => void;
  jumpTo: (id: string) => void;
  highlight: string | null;
  /** the message whose actions are open (phone) */
  selected: string | null;
  select: (id: string | null) => void;
  /** may recall others' messages (a group room's owner or admin) */
  canModerate: boolean;
}

function buildRows(view: RoomView, myId: string, myUsername: string, ctx: RowCtx): Row[] {
  const rows: Row[] = [];
  rows.push({
    key: "top",
    estimate: 40,
    anchor: false,
    render: () => (
      <div class="list-top muted small" data-testid="history-top">
        {view.loadingOlder ? t("loadingOlder") : view.hasMore ? "" : view.retention ? t("retentionRemoved", { date: `${formatDay(view.retention.before)} ${formatTime(view.retention.before)}` }) : t("beginning")}
      </div>
    ),
  });
  let prevDay = "";
  let dividerPlaced = false;
  // A failed send keeps its place: after the message that was newest when it was written.
  const failed = failedIn(view.roomId).sort((a, b) => a.afterSeq - b.afterSeq);
  let nextFailed = 0;
  for (const m of view.messages) {
    while (nextFailed < failed.length && failed[nextFailed].afterSeq < m.seq) rows.push(failedRow(failed[nextFailed++], myUsername));
    const day = new Date(m.createdAt).toDateString();
    if (day !== prevDay) {
      prevDay = day;
      rows.push({ key: `day:${day}`, estimate: 36, anchor: false, render: () => <div class="day" role="separator"><span>{formatDay(m.createdAt)}</span></div> });
    }
    if (!dividerPlaced && view.dividerSeq !== null && m.seq >= view.dividerSeq && m.senderId !== myId) {
      dividerPlaced = true;
      rows.push({ key: "divider", estimate: 30, anchor: false, render: () => <div class="divider" role="separator" data-testid="unread-divider"><span>{t("newMessages")}</span></div> });
    }
    rows.push({ key: m.id, estimate: 60, render: () => <MessageRow m={m} view={view} myId={myId} myUsername={myUsername} ctx={ctx} /> });
  }
  if (!view.hasNewer) while (nextFailed < failed.length) rows.push(failedRow(failed[nextFailed++], myUsername));
  if (view.hasNewer) rows.push({ key: "bottom", estimate: 40, anchor: false, render: () => <div class="list-top muted small">{t("loadingNewer")}</div> });
  const last = view.hasNewer ? undefined : view.messages[view.messages.length - 1];
  if (last) {
    const seen = [...view.receipts].filter(([id, seq]) => id !== myId && id !== last.senderId && seq >= last.seq).map(([id]) => nameOf(id));
    if (seen.length) rows.push({ key: `seen:${last.id}:${seen.join(",")}`, estimate: 22, render: () => <div class="seen muted small" data-testid="receipts">{t("seenBy", { names: seen.join(", ") })}</div> });
  }
  for (const p of state.queue?.pending(view.roomId) ?? []) {
    rows.push({
      key: `pending:${p.clientId}`,
      estimate: 60,
      render: () => (
        <div class={p.atNode ? "msg mine pending queued" : "msg mine pending"} data-testid="pending">
          <div class="meta small muted">{p.atNode ? t("queuedForNode", { node: nodeLabel(p.roomId.slice(p.roomId.lastIndexOf("@") + 1)) }) : t("pending")}</div>
          {p.text && <Markdown text={p.text} me={myUsername} />}
          {p.attachments?.length ? <PendingFiles clientId={p.clientId} n={p.attachments.length} /> : null}
        </div>
      ),
    });
  }
  return rows;
}

/** A send the node refused: why (translated), and retry / edit / discard. */
function failedRow(f: FailedSend, myUsername: string): Row {
  const p = f.message;
  return {
    key: `failed:${p.clientId}`,
    estimate: 90,
    render: () => (
      <div class="msg mine failed" data-testid="failed" data-client-id={p.clientId}>
        <div class="meta small error" role="alert">{t("failedBecause", { reason: errorText({ code: f.code }) })}</div>
        {p.text && <Markdown text={p.text.length > 2000 ? `${p.text.slice(0, 2000)}…` : p.text} me={myUsername} />}
        {p.attachments?.length ? <PendingFiles clientId={p.clientId} n={p.attachments.length} /> : null}
        <div class="failed-actions">
          <button type="button" class="link" onClick={() => retryFailed(p.clientId)}>{t("retry")}</button>
          <button
            type="button"
            class="link"
            onClick={() => {
              dropFailed(p.clientId);
              fillComposer(p.roomId, p.text);
            }}
          >
            {t("edit")}
          </button>
          <button type="button" class="link" onClick={() => dropFailed(p.clientId)}>{t("discard")}</button>
        </div>
      </div>
    ),
  };
}

function PendingFiles({ clientId, n }: { clientId: string; n: number }) {
  const files = state.pendingFiles.get(clientId);
  return <p class="small muted" dir="auto">📎 {files ? files.map((f) => f.name).join(", ") : t("fileCount", { n })}</p>;
}

/** Images as previews (served inline by the node), anything else as a card with a download link. */
function Attachments({ list }: { list: Attachment[] }) {
  return (
    <ul class="attachments" aria-label={t("attachments")}>
      {list.map((a) => {
        const url = api.fileUrl(a.id);
        return /^image\/(png|jpeg|gif|webp)$/.test(a.contentType) ? (
          <li key={a.id} class="att-image">
            <a href={url} target="_blank" rel="noopener" aria-label={t("openImage", { name: a.name })}>
              <img src={url} alt={a.name} loading="lazy" decoding="async" />
            </a>
          </li>
        ) : (
          <li key={a.id} class="att-file">
            <a href={url} download={a.name} class="file-card" aria-label={t("downloadFile", { name: a.name, size: formatSize(a.size) })}>
              <span class="file-icon" aria-hidden="true">📄</span>
              <span class="file-text">
                <span class="file-name" dir="auto">{a.name}</span>
                <span class="muted small">{formatSize(a.size)}</span>
              </span>
              <span class="file-dl small">{t("download")}</span>
            </a>
          </li>
        );
      })}
    </ul>
  );
}

function MessageRow({ m, view, myId, myUsername, ctx }: { m: Message; view: RoomView; myId: string; myUsername: string; ctx: RowCtx }) {
  const mine = m.senderId === myId;
  const pointed = ctx.highlight === m.id;
  const el = useRef<HTMLElement>(null);
  useEffect(() => {
    if (pointed) el.current?.focus({ preventScroll: true });
  }, [pointed]);
  const original = m.replyTo ? view.byId.get(m.replyTo) : undefined;
  const recalled = m.deletedAt !== null;
  const open = ctx.selected === m.id;
  const send = (fn: () => boolean, rest: () => Promise<unknown>) => {
    if (!fn()) void rest().catch((err) => alert(errorText(err)));
  };
  return (
    <article
      ref={el}
      tabIndex={pointed ? -1 : undefined}
      class={`msg${mine ? " mine" : ""}${pointed ? " highlight" : ""}${open ? " selected" : ""}`}
      data-id={m.id}
      data-seq={m.seq}
      aria-label={`${nameOf(m.senderId)} ${formatTime(m.createdAt)}`}
      onContextMenu={(e) => {
        // A long press on a phone (and a right click) opens the actions inside the row, not the browser's menu.
        if (recalled || (e.target as HTMLElement).closest("a, img")) return;
        e.preventDefault();
        ctx.select(open ? null : m.id);
      }}
      onClick={(e) => {
        if (!PHONE.matches || recalled || (e.target as HTMLElement).closest("a, button, img")) return;
        ctx.select(open ? null : m.id);
      }}
    >
      <div class="meta small">
        <Avatar userId={m.senderId} name={nameOf(m.senderId)} />
        <strong dir="auto" class="sender">{nameOf(m.senderId)}</strong> <time class="muted" dateTime={new Date(m.createdAt).toISOString()}>{formatTime(m.createdAt)}</time>
        {m.editedAt && !recalled && <span class="muted"> · {t("edited")}</span>}
      </div>
      {m.replyTo && (
        <button type="button" class="quote" aria-label={t("jumpToOriginal")} onClick={() => ctx.jumpTo(m.replyTo!)}>
          {original ? (
            <>
              <strong dir="auto">{nameOf(original.senderId)}</strong>: <span dir="auto">{original.deletedAt ? t("recalled") : original.text.slice(0, 140) || `📎 ${original.attachments.map((a) => a.name).join(", ")}`}</span>
            </>
          ) : (
            t("originalUnavailable")
          )}
        </button>
      )}
      {recalled ? <p class="tombstone muted" data-testid="tombstone">{t("recalled")}</p> : m.text || !m.attachments.length ? <Markdown text={m.text} me={myUsername} /> : null}
      {!recalled && m.attachments.length > 0 && <Attachments list={m.attachments} />}
      {m.reactions.length > 0 && (
        <div class="reactions">
          {m.reactions.map((r) => (
            <button
              type="button"
              class={r.users.includes(myId) ? "reaction on" : "reaction"}
              aria-pressed={r.users.includes(myId)}
              // Named by what it shows ("👍 2", WCAG 2.5.3); who reacted is its description, and a tooltip.
              title={t("reactionBy", { emoji: r.emoji, names: r.users.map(nameOf).join(", ") })}
              onClick={() => send(() => view.socket.react(m.id, r.emoji), () => api.react(view.roomId, m.id, r.emoji))}
            >
              {r.emoji} {r.users.length}
            </button>
          ))}
        </div>
      )}
      {!recalled && (
        <div class="actions" role="toolbar" aria-label={t("messageActions")}>
          <button type="button" class="icon" aria-label={t("reply")} title={t("reply")} onClick={() => ctx.setMode({ kind: "reply", message: m })}>↩</button>
          {QUICK_REACTIONS.map((e) => (
            <button type="button" class="icon" aria-label={`${t("react")} ${e}`} onClick={() => send(() => view.socket.react(m.id, e), () => api.react(view.roomId, m.id, e))}>{e}</button>
          ))}
          {mine && <button type="button" class="icon" aria-label={t("edit")} title={t("edit")} onClick={() => ctx.setMode({ kind: "edit", message: m })}>✎</button>}
          {(mine || ctx.canModerate) && (
            <button type="button" class="icon" aria-label={t("recall")} title={t("recall")} onClick={() => confirm(t("recallConfirm")) && send(() => view.socket.recall(m.id), () => api.recall(view.roomId, m.id))}>⌫</button>
          )}
          <button
            type="button"
            class="icon"
            aria-label={t("copyLink")}
            title={t("copyLink")}
            onClick={() => void navigator.clipboard?.writeText(location.origin + routePath({ kind: "room", roomId: view.roomId, messageId: m.id })).catch(() => {})}
          >
            🔗
          </button>
        </div>
      )}
    </article>
  );
}

export { changed };
