/**
 * Room settings (loaded on demand from the room's header): name, topic, mute,
 * members with their roles, leave. What the node allows decides what is
 * offered: the name is for room admins and the owner, the topic for anyone,
 * roles for the owner, removing for admins (members) and the owner (anyone).
 * The node checks all of it again (durable-objects/room/members.ts).
 */
import { useEffect, useState } from "preact/hooks";
import type { FunctionComponent } from "preact";
import type { Member } from "../../sdk/index";
import type { Role } from "../../protocol/models";
import { NAME_LIMITS } from "../../protocol/names";
import { api, changed, state } from "./store";
import { closeRoom } from "./room-view";
import { go } from "./router";
import { t, type StringKey } from "./i18n";
import { Modal } from "./Modal";
import { NameField, nameLength } from "./NameField";
import { Avatar } from "./Avatar";
import { ExportButton } from "./ExportButton";
import { homeNode } from "../../protocol/ids";

/** A room kept on this node: its id names the node the signed-in person (an account of this node) is on. */
const isHere = (roomId: string) => !!state.me && homeNode(roomId) === homeNode(state.me.id);

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };
const roleLabel = (r: Role) => t(`role${r[0].toUpperCase()}${r.slice(1)}` as StringKey);

export function RoomSettings({ onClose }: { onClose: () => void }) {
  const view = state.view!;
  const room = view.room;
  const inbox = state.device?.rooms.get(view.roomId);
  const me = state.me!.id;
  const myRole: Role = view.members.find((m) => m.userId === me)?.role ?? "member";
  const group = room?.kind === "group";
  const [name, setName] = useState(room?.name ?? "");
  const [topic, setTopic] = useState(room?.topic ?? "");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    }
  };
  const canRename = group && myRole !== "member";
  const tooLong = nameLength(name) > NAME_LIMITS.roomName || nameLength(topic) > NAME_LIMITS.topic;
  const save = async (e: Event) => {
    e.preventDefault();
    if (tooLong) return;
    const set: { name?: string; topic?: string } = {};
    if (canRename && name.trim() !== room?.name) set.name = name;
    if (topic.trim() !== (room?.topic ?? "")) set.topic = topic;
    if (!set.name && set.topic === undefined) return;
    if (await run(async () => { view.room = await api.updateRoom(view.roomId, set); changed(); })) setSaved(true);
  };
  // Node administrators set a room's own retention here (rooms kept on this node): a chunk of its own, with
  // its strings, fetched for them only.
  const [Retention, setRetention] = useState<FunctionComponent<{ roomId: string }> | null>(null);
  const retentionAdmin = !!state.me?.isAdmin && isHere(view.roomId);
  useEffect(() => {
    if (retentionAdmin) void import("./RoomRetention").then((m) => m.ready.then(() => setRetention(() => m.RoomRetention)));
  }, [retentionAdmin]);
  const sorted = [...view.members].sort((a, b) => RANK[b.role] - RANK[a.role] || a.displayName.localeCompare(b.displayName));
  return (
    <Modal title={t("roomSettings")} onClose={onClose}>
      {group && (
        <form class="settings-form" onSubmit={save} data-testid="room-settings-form">
          <NameField label={t("roomName")} name="roomName" value={name} limit={NAME_LIMITS.roomName} onInput={(v) => { setName(v); setSaved(false); }} required disabled={!canRename} />
          {!canRename && <p class="muted small">{t("renameAdminsOnly")}</p>}
          <NameField label={t("topic")} name="topic" value={topic} limit={NAME_LIMITS.topic} onInput={(v) => { setTopic(v); setSaved(false); }} />
          <div class="row end">
            {saved && <span class="muted small" role="status">{t("saved")}</span>}
            <button type="submit" class="primary" disabled={tooLong}>{t("save")}</button>
          </div>
        </form>
      )}
      {inbox && (
        <label class="inline toggle">
          <input
            type="checkbox"
            name="muted"
            checked={inbox.muted}
            onChange={(e) => {
              const muted = e.currentTarget.checked;
              void run(async () => {
                // Shown at once; the device socket brings the node's copy right after.
                state.device?.rooms.set(view.roomId, await api.setRoomMuted(view.roomId, muted));
                changed();
              });
            }}
          />{" "}
          {t("muteRoom")}
          <span class="muted small"> — {t("muteRoomHint")}</span>
        </label>
      )}
      {view.retentionDays !== undefined && (
        // Set by node administrators (docs/OPERATIONS.md): shown, not edited, here.
        <p class="muted small" data-testid="room-retention">
          {t("retentionPolicy")}: {view.retentionDays === null ? t("retentionForever") : view.retentionDays === 1 ? t("retentionOneDay") : t("retentionDays", { days: view.retentionDays })}
        </p>
      )}
      {Retention && <Retention roomId={view.roomId} />}
      <h3>{t("members")} ({view.members.length})</h3>
      <ul class="people member-list" aria-label={t("members")}>
        {sorted.map((m) => (
          <MemberRow key={m.userId} m={m} myRole={myRole} me={me} group={group} run={run} />
        ))}
      </ul>
      {/* Node administrators, for rooms kept on this node (another node's room is exported there). */}
      {state.me?.isAdmin && isHere(view.roomId) && (
        <>
          <h3>{t("exportRoomHistory")}</h3>
          <ExportButton query={{ room: view.roomId }} label="exportRoomHistory" />
        </>
      )}
      {group && (
        <div class="row end">
          <button
            type="button"
            class="danger"
            onClick={async () => {
              if (!confirm(t("leaveConfirm"))) return;
              if (await run(() => api.leaveRoom(view.roomId))) {
                onClose();
                closeRoom();
                go({ kind: "home" }, { replace: true }); // Back must not lead into a room we left
                changed();
              }
            }}
          >
            {t("leave")}
          </button>
        </div>
      )}
      {error && <p class="error" role="alert">{t("error", { message: error })}</p>}
    </Modal>
  );
}

function MemberRow({ m, myRole, me, group, run }: { m: Member; myRole: Role; me: string; group: boolean; run: (fn: () => Promise<unknown>) => Promise<boolean> }) {
  const view = state.view!;
  const canRemove = group && m.userId !== me && myRole !== "member" && RANK[myRole] > RANK[m.role];
  const canSetRole = group && myRole === "owner" && m.role !== "owner";
  return (
    <li class="member-row" data-user-id={m.userId}>
      <Avatar userId={m.userId} name={m.displayName} />
      <span class="member-name">
        <span dir="auto">{m.displayName}</span> <span class="muted small">@{m.username}</span>
      </span>
      {canSetRole ? (
        <select
          aria-label={t("roleOf", { name: m.displayName })}
          value={m.role}
          onChange={(e) => {
            const role = e.currentTarget.value as "admin" | "member";
            void run(async () => {
              const updated = await api.setRole(view.roomId, m.userId, role);
              view.members = view.members.map((x) => (x.userId === updated.userId ? updated : x));
              changed();
            });
          }}
        >
          <option value="admin">{roleLabel("admin")}</option>
          <option value="member">{roleLabel("member")}</option>
        </select>
      ) : (
        <span class="muted small role">{roleLabel(m.role)}</span>
      )}
      {canRemove && (
        <button
          type="button"
          class="link danger"
          aria-label={`${t("remove")} ${m.displayName}`}
          onClick={() => {
            if (!confirm(t("removeConfirm", { name: m.displayName }))) return;
            void run(async () => {
              await api.removeMember(view.roomId, m.userId);
              view.members = view.members.filter((x) => x.userId !== m.userId);
              changed();
            });
          }}
        >
          {t("remove")}
        </button>
      )}
    </li>
  );
}
