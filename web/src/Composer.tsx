/**
 * The composer: Enter sends, Shift+Enter is a new line (and Enter while an IME
 * is composing Chinese is left to the IME); a draft per room survives switching
 * rooms and reloads; @ opens mention suggestions from the room's members.
 */
import { Avatar } from "./Avatar";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Message } from "../../sdk/index";
import { api, changed, nameOf, state } from "./store";
import { sendMessage, type RoomView } from "./room-view";
import { formatSize, safeGet, safeSet, t } from "./i18n";
import { addFiles, busy, notes, removeUpload, roomUploads, takeReady } from "./uploads";

export type ComposerMode = { kind: "new" } | { kind: "reply"; message: Message } | { kind: "edit"; message: Message };

const draftKey = (roomId: string) => `outpost.draft.${roomId}`;

/** Put `text` in a room's composer (a failed send handed back to be edited); the draft is replaced. */
let fill: { roomId: string; text: string; n: number } | null = null;
export function fillComposer(roomId: string, text: string): void {
  safeSet(draftKey(roomId), text);
  fill = { roomId, text, n: (fill?.n ?? 0) + 1 };
  changed();
}

const encoder = new TextEncoder();
/** UTF-8 bytes of the text as it will be sent (trimmed), counted as the node counts (durable-objects/room/validate.ts). */
export function textBytes(text: string): number {
  return encoder.encode(text.trim()).length;
}

/**
 * An "@" being typed before the caret: after a space, the start, or punctuation (not inside a
 * word or an e-mail address), followed by anything but spaces — so Chinese names match (`@陈`).
 */
const MENTION_QUERY = /(?:^|[^\p{L}\p{N}._-]|\p{Script=Han})@([^\s@]*)$/u;

export function Composer({ view, title, mode, setMode }: { view: RoomView; title: string; mode: ComposerMode; setMode: (m: ComposerMode) => void }) {
  const [text, setText] = useState(() => safeGet(draftKey(view.roomId)) ?? "");
  const [suggest, setSuggest] = useState<{ query: string; index: number } | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const files = roomUploads(view.roomId);
  const uploading = busy(view.roomId);
  const lastTyping = useRef(0);
  const fillN = fill && fill.roomId === view.roomId ? fill.n : 0;
  useEffect(() => {
    if (!fill || fill.n !== fillN) return;
    setText(fill.text);
    fill = null; // taken: switching rooms and back shows the draft as it is then
    area.current?.focus();
  }, [fillN]);
  const bytes = mode.kind === "edit" && !text ? 0 : textBytes(text);
  const max = state.limits.maxTextBytes;
  const tooLong = bytes > max;

  useEffect(() => {
    if (mode.kind === "edit") setText(mode.message.text);
    area.current?.focus();
  }, [mode]);

  const update = (value: string) => {
    setText(value);
    if (mode.kind !== "edit") safeSet(draftKey(view.roomId), value);
    const caret = area.current?.selectionStart ?? value.length;
    const m = MENTION_QUERY.exec(value.slice(0, caret));
    setSuggest(m && m[1].length <= 32 ? { query: m[1].toLowerCase(), index: 0 } : null);
    if (value && Date.now() - lastTyping.current > 2000) {
      lastTyping.current = Date.now();
      view.socket.typing();
    }
  };

  const candidates = suggest
    ? [...view.members.filter((m) => m.userId !== state.me?.id).map((m) => ({ username: m.username, label: m.displayName, userId: m.userId as string | null })), { username: "all", label: "all", userId: null }]
        // Usernames by their start; display names anywhere, case-folded (陈梅 for "@陈", "梅" too).
        .filter((c) => c.username.startsWith(suggest.query) || c.label.toLocaleLowerCase().includes(suggest.query))
        .slice(0, 8)
    : [];

  const complete = (username: string) => {
    const el = area.current!;
    const caret = el.selectionStart;
    const before = text.slice(0, caret).replace(/@([^\s@]*)$/u, `@${username} `);
    update(before + text.slice(caret));
    setSuggest(null);
    requestAnimationFrame(() => {
      el.selectionStart = el.selectionEnd = before.length;
      el.focus();
    });
  };

  const submit = () => {
    const value = text.trim();
    if (mode.kind !== "edit" && uploading) return;
    const ready = mode.kind === "edit" ? [] : takeReady(view.roomId);
    if (!value && !ready.length) return;
    // Refused before it leaves: the node would refuse it anyway (the warning under the box says why).
    if (tooLong) return;
    if (mode.kind === "edit") {
      if (value !== mode.message.text && !view.socket.edit(mode.message.id, value)) void api.edit(view.roomId, mode.message.id, value).catch(() => {});
      setMode({ kind: "new" });
      setText(safeGet(draftKey(view.roomId)) ?? "");
      return;
    }
    sendMessage(value, mode.kind === "reply" ? mode.message.id : undefined, ready);
    lastTyping.current = 0; // the next keystroke starts a new "typing" burst
    setText("");
    safeSet(draftKey(view.roomId), "");
    if (mode.kind === "reply") setMode({ kind: "new" });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (candidates.length && suggest) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = candidates.length;
        setSuggest({ ...suggest, index: (suggest.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n });
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        complete(candidates[suggest.index % candidates.length].username);
        return;
      }
      if (e.key === "Escape") {
        setSuggest(null);
        return;
      }
    }
    if (e.key === "Escape" && mode.kind !== "new") {
      setMode({ kind: "new" });
      if (mode.kind === "edit") setText(safeGet(draftKey(view.roomId)) ?? "");
      return;
    }
    if (e.key === "ArrowUp" && !text) {
      const mine = [...view.messages].reverse().find((m) => m.senderId === state.me?.id && m.deletedAt === null);
      if (mine) {
        e.preventDefault();
        setMode({ kind: "edit", message: mine });
      }
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };

  const onPaste = (e: ClipboardEvent) => {
    const list = e.clipboardData?.files;
    if (!list || list.length === 0 || mode.kind === "edit") return;
    e.preventDefault(); // a pasted screenshot is a file, not text
    addFiles(view.roomId, list);
  };

  return (
    <form class="composer" onSubmit={(e) => (e.preventDefault(), submit())}>
      {(files.length > 0 || notes.has(view.roomId)) && (
        <ul class="uploads" aria-label={t("attachments")} data-testid="uploads">
          {files.map((u) => (
            <li key={u.key} class={`upload ${u.status}`} data-status={u.status}>
              {u.preview ? <img class="upload-thumb" src={u.preview} alt="" /> : <span class="upload-icon" aria-hidden="true">📄</span>}
              <span class="upload-text">
                <span class="upload-name" dir="auto">{u.name}</span>
                {u.status === "error" ? (
                  <span class="error small" role="alert">{u.error}</span>
                ) : (
                  <span class="muted small">
                    {formatSize(u.size)}
                    {u.status === "uploading" && <progress max={u.size || 1} value={u.loaded} aria-label={t("uploadProgress", { name: u.name })} />}
                  </span>
                )}
              </span>
              <button type="button" class="icon" aria-label={t("removeFile", { name: u.name })} title={t("removeFile", { name: u.name })} onClick={() => removeUpload(u)}>×</button>
            </li>
          ))}
          {notes.has(view.roomId) && <li class="error small" role="alert">{notes.get(view.roomId)}</li>}
        </ul>
      )}
      {mode.kind !== "new" && (
        <div class="composer-mode small">
          <span dir="auto">{mode.kind === "edit" ? t("editing") : t("replyingTo", { name: nameOf(mode.message.senderId) })}</span>
          <button type="button" class="icon" aria-label={t("cancelReply")} onClick={() => setMode({ kind: "new" })}>×</button>
        </div>
      )}
      {candidates.length > 0 && (
        <ul class="suggest" role="listbox" aria-label={t("mentionSuggestions")}>
          {candidates.map((c, i) => (
            <li key={c.username} role="option" aria-selected={i === suggest!.index % candidates.length} class={i === suggest!.index % candidates.length ? "on" : ""} onMouseDown={(e) => (e.preventDefault(), complete(c.username))}>
              <Avatar userId={c.userId} name={c.label} />
              <span dir="auto">{c.label}</span> <span class="muted">@{c.username}</span>
            </li>
          ))}
        </ul>
      )}
      {(tooLong || bytes > max * 0.9) && (
        <p class={tooLong ? "error small limit" : "muted small limit"} role={tooLong ? "alert" : undefined} data-testid="text-limit">
          {tooLong ? t("tooLongWarning", { used: bytes.toLocaleString(), max: max.toLocaleString() }) : t("nearLimit", { used: bytes.toLocaleString(), max: max.toLocaleString() })}
        </p>
      )}
      <div class="composer-row">
        <button type="button" class="icon attach" aria-label={t("attach")} title={t("attach")} disabled={mode.kind === "edit"} onClick={() => picker.current?.click()}>📎</button>
        <input
          ref={picker}
          type="file"
          multiple
          class="sr-only"
          tabIndex={-1}
          aria-label={t("attach")}
          data-testid="file-input"
          onChange={(e) => {
            const input = e.currentTarget;
            if (input.files) addFiles(view.roomId, input.files);
            input.value = ""; // the same file can be picked again
          }}
        />
        <textarea
          ref={area}
          rows={1}
          aria-label={t("composerLabel")}
          placeholder={t("composerPlaceholder", { room: title })}
          value={text}
          onInput={(e) => update(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
        <button type="submit" class="primary" disabled={(mode.kind !== "edit" && uploading) || tooLong} title={mode.kind !== "edit" && uploading ? t("waitForUploads") : undefined}>
          {mode.kind === "edit" ? t("save") : t("send")}
        </button>
      </div>
    </form>
  );
}
