/** Modal dialogs: new room, new direct message, members (invite, remove, leave). Loaded when first opened (not part of the first screen). */
import { Avatar } from "./Avatar";
import { useState } from "preact/hooks";
import { OutpostApiError, type User } from "../../sdk/index";
import { errorText } from "./error-messages";
import { go } from "./router";
import { api, changed, remember, state } from "./store";
import { closeRoom, openRoom } from "./room-view";
import { t, type StringKey } from "./i18n";
import { NameField, nameLength } from "./NameField";
import { NAME_LIMITS } from "../../protocol/names";
import { Modal } from "./Modal";
import { useSearchedPages } from "./searched-pages";

/** Search people (debounced); `pick` is called with the chosen one. Also the legal-hold form's (Compliance.tsx). */
export function PeoplePicker({ pick, exclude = [] }: { pick: (u: User) => void; exclude?: string[] }) {
  // useSearchedPages shows only the answer for what the box says now: an earlier search answered
  // late (say the empty one, which lists everyone) must not replace it, or the rows move under the
  // pointer as the person clicks. A search that fails says why instead of "no results".
  const list = useSearchedPages<User>(async (q) => {
    const { users } = await api.searchUsers(q ?? "");
    for (const u of users) remember(u.id, u.displayName, u.username, u.avatar ?? null);
    return { items: users.filter((u) => u.id !== state.me?.id && !exclude.includes(u.id)), nextCursor: null };
  });
  const found = list.items;
  return (
    <div class="picker">
      <input type="search" aria-label={t("searchPeople")} placeholder={t("searchPeople")} value={list.q} onInput={(e) => list.setQ(e.currentTarget.value)} />
      {list.error && <p class="error" role="alert">{list.error}</p>}
      <ul class="people">
        {!list.error && found?.length === 0 && <li class="muted">{t("noResults")}</li>}
        {found?.map((u) => (
          <li key={u.id}>
            <button type="button" class="person" data-username={u.username} onClick={() => pick(u)}>
              <Avatar userId={u.id} name={u.displayName} />
              <span dir="auto">{u.displayName}</span> <span class="muted">@{u.username}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function NewDmDialog({ onClose }: { onClose: () => void }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal title={t("newDm")} onClose={onClose}>
      <PeoplePicker
        pick={async (u) => {
          try {
            const room = await api.openDm(u.id);
            onClose();
            openRoom(room.id);
          } catch (err) {
            setError(errorText(err));
          }
        }}
      />
      {error && <p class="error" role="alert">{error}</p>}
    </Modal>
  );
}

export function NewRoomDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState("");
  const [visibility, setVisibility] = useState<"public" | "private">("private");
  const [members, setMembers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  // The node names the field at fault (`field` in its error): the message goes under that input.
  const [nameError, setNameError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (nameLength(name) > NAME_LIMITS.roomName) return; // the counter says why
    try {
      const room = await api.createRoom({ name: name.trim(), visibility, members: members.map((m) => m.id) });
      onClose();
      openRoom(room.id);
    } catch (err) {
      if (err instanceof OutpostApiError && err.code === "invalid_request" && err.field === "name") {
        setError(null);
        setNameError(name.trim() === "" ? t("roomNameEmpty") : t("fieldInvalid", { reason: errorText(err) }));
        (document.querySelector('input[name="roomName"]') as HTMLInputElement | null)?.focus();
      } else {
        setNameError(null);
        setError(errorText(err));
      }
    }
  };
  return (
    <Modal title={t("newRoom")} onClose={onClose}>
      <form onSubmit={submit}>
        <NameField
          label={t("roomName")}
          name="roomName"
          required
          value={name}
          limit={NAME_LIMITS.roomName}
          error={nameError}
          onInput={(v) => {
            setName(v);
            setNameError(null);
          }}
        />
        <fieldset class="row">
          {(["private", "public"] as const).map((v) => (
            <label class="inline">
              <input type="radio" name="visibility" value={v} checked={visibility === v} onChange={() => setVisibility(v)} /> {t(v as StringKey)}
            </label>
          ))}
        </fieldset>
        <ul class="chips">
          {members.map((m) => (
            <li key={m.id}>
              <span dir="auto">{m.displayName}</span>
              <button type="button" class="icon" aria-label={`${t("remove")} ${m.displayName}`} onClick={() => setMembers(members.filter((x) => x.id !== m.id))}>×</button>
            </li>
          ))}
        </ul>
        <PeoplePicker exclude={members.map((m) => m.id)} pick={(u) => setMembers([...members, u])} />
        {error && <p class="error" role="alert">{error}</p>}
        <div class="row end">
          <button type="button" onClick={onClose}>{t("cancel")}</button>
          <button type="submit" class="primary">{t("create")}</button>
        </div>
      </form>
    </Modal>
  );
}

export function MembersDialog({ onClose }: { onClose: () => void }) {
  const view = state.view!;
  const [error, setError] = useState<string | null>(null);
  const myRole = view.members.find((m) => m.userId === state.me?.id)?.role ?? "member";
  const canManage = view.room?.kind === "group" && myRole !== "member";
  const run = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      const { members } = await api.members(view.roomId);
      view.members = members;
      changed();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Modal title={t("members")} onClose={onClose}>
      <ul class="people" aria-label={t("members")}>
        {view.members.map((m) => (
          <li key={m.userId} class="member-row">
            <span dir="auto">{m.displayName}</span> <span class="muted">@{m.username} · {t(`role${m.role[0].toUpperCase()}${m.role.slice(1)}` as StringKey)}</span>
            {canManage && m.userId !== state.me?.id && m.role !== "owner" && (
              <button type="button" class="link" aria-label={`${t("remove")} ${m.displayName}`} onClick={() => run(() => api.removeMember(view.roomId, m.userId))}>{t("remove")}</button>
            )}
          </li>
        ))}
      </ul>
      {view.room?.kind === "group" && (
        <>
          <h3>{t("invite")}</h3>
          <PeoplePicker exclude={view.members.map((m) => m.userId)} pick={(u) => run(() => api.addMember(view.roomId, u.id))} />
          <div class="row end">
            <button
              type="button"
              class="danger"
              onClick={async () => {
                if (!confirm(t("leaveConfirm"))) return;
                try {
                  await api.leaveRoom(view.roomId);
                  onClose();
                  closeRoom();
                  go({ kind: "home" }, { replace: true }); // Back must not lead into a room we left
                  changed();
                } catch (err) {
                  setError(errorText(err));
                }
              }}
            >
              {t("leave")}
            </button>
          </div>
        </>
      )}
      {error && <p class="error" role="alert">{error}</p>}
    </Modal>
  );
}
