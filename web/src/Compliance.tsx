/**
 * Retention and legal holds (node administrators; its own chunk, loaded when
 * opened, like People and the audit trail): the node's default retention
 * (keep forever, or N days, with what that deletes said before it is saved),
 * and the node's legal holds (what, why, who, when), placed on a person or a
 * room and released after a confirmation. A room's own policy is set in its
 * settings (RoomRetention.tsx); erasing a person in People (EraseAccount.tsx).
 * Every rule is the node's (docs/OPERATIONS.md "Retention, legal hold and
 * erasure"): the screen shows what it answered.
 */
import { useEffect, useState } from "preact/hooks";
import { ComplianceClient, type LegalHold } from "../../sdk/compliance";
import type { User } from "../../sdk/index";
import { api, lookupUsers, nameOf, roomTitle, state } from "./store";
import { formatShort, t } from "./i18n";
import { Panel } from "./Panel";
import { errorText } from "./server-errors";
import { PeoplePicker } from "./Dialogs";
import { policyText, tc } from "./compliance-strings";
export { ready } from "./compliance-strings";
import { RoomPicker, type PickedRoom } from "./RoomPicker";
import { DaysField, parseDays } from "./DaysField";

export const compliance = new ComplianceClient(api);

/**
 * Names of rooms this screen has seen (picked ones), for a hold the node's
 * answer did not name (an older node): the node names every hold's target
 * (`targetName`), also rooms the admin is not in.
 */
const roomNames = new Map<string, string>();
const roomName = (id: string) => roomNames.get(id) ?? (state.device?.rooms.get(id) ? roomTitle(state.device.rooms.get(id)!) : id);

export function CompliancePanel({ onClose }: { onClose: () => void }) {
  return (
    <Panel title={tc("complianceTitle")} onClose={onClose} testId="compliance-panel">
      <RetentionDefault />
      <Holds />
    </Panel>
  );
}

function RetentionDefault() {
  const [current, setCurrent] = useState<number | null | undefined>(undefined);
  const [forever, setForever] = useState(true);
  const [days, setDays] = useState("365");
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    compliance.retentionDefault().then(
      (d) => {
        setCurrent(d);
        setForever(d === null);
        if (d !== null) setDays(String(d));
      },
      (err) => setError(errorText(err)),
    );
  }, []);
  const n = parseDays(days);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setNote(null);
    if (!forever && n === null) return setError(tc("daysInvalid"));
    const next = forever ? null : n;
    // Keeping forever deletes nothing; a period deletes for good, so it is confirmed.
    if (next !== null && !confirm(tc("retentionConfirm", { days: next }))) return;
    try {
      const saved = await compliance.setRetentionDefault(next);
      setCurrent(saved);
      setNote(tc("retentionSaved", { policy: policyText(saved) }));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="retention-default-title" data-testid="retention-default">
      <h3 id="retention-default-title">{tc("retentionDefaultTitle")}</h3>
      <p class="muted small">{tc("retentionDefaultHint")}</p>
      {current !== undefined && <p class="small" data-testid="retention-in-force">{tc("retentionInForce", { policy: policyText(current) })}</p>}
      <form class="settings-form" onSubmit={(e) => void save(e)}>
        <fieldset class="row wrap">
          <label class="inline">
            <input type="radio" name="defaultRetention" value="forever" checked={forever} onChange={() => setForever(true)} /> {tc("keepForever")}
          </label>
          <label class="inline">
            <input type="radio" name="defaultRetention" value="days" checked={!forever} onChange={() => setForever(false)} /> {tc("deleteOlderThan")}
          </label>
          <DaysField name="defaultDays" value={days} disabled={forever} onInput={setDays} />
        </fieldset>
        {!forever && n !== null && <p class="warn small" role="note" data-testid="retention-warning">{tc("retentionWarning", { days: n })}</p>}
        {error && <p class="error" role="alert">{error}</p>}
        {note && <p class="ok small" role="status">{note}</p>}
        <div class="row end">
          <button type="submit" class="primary">{t("save")}</button>
        </div>
      </form>
    </section>
  );
}

/** "Room: Board minutes": the node's name for the target when it gave one, else what this client knows, else the id. */
const describe = (h: Pick<LegalHold, "kind" | "targetId" | "targetName">) =>
  h.kind === "room" ? tc("holdOnRoom", { name: h.targetName ?? roomName(h.targetId) }) : tc("holdOnPerson", { name: h.targetName ?? nameOf(h.targetId) });

function Holds() {
  const [holds, setHolds] = useState<LegalHold[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const load = async () => {
    try {
      const list = await compliance.holds();
      lookupUsers(list.flatMap((h) => (h.kind === "user" ? [h.targetId, h.createdBy] : [h.createdBy])));
      setHolds(list);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), []);
  const release = async (h: LegalHold) => {
    setError(null);
    setNote(null);
    if (!confirm(tc("releaseConfirm", { what: describe(h) }))) return;
    try {
      await compliance.releaseHold(h.id);
      setNote(tc("holdReleased", { what: describe(h) }));
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="holds-title" data-testid="holds">
      <h3 id="holds-title">{tc("holdsTitle")}</h3>
      <p class="muted small">{tc("holdsHint")}</p>
      {holds?.length === 0 && <p class="muted empty">{tc("noHolds")}</p>}
      {!!holds?.length && (
        <div class="audit-scroll">
          <table class="audit" data-testid="hold-list">
            <thead>
              <tr>
                <th scope="col">{tc("holdWhat")}</th>
                <th scope="col">{tc("holdReason")}</th>
                <th scope="col">{tc("holdBy")}</th>
                <th scope="col">{tc("holdAt")}</th>
                <th scope="col"><span class="sr-only">{tc("releaseHold")}</span></th>
              </tr>
            </thead>
            <tbody>
              {holds.map((h) => (
                <tr key={h.id} data-hold-id={h.id} data-target-id={h.targetId}>
                  <td dir="auto" title={h.targetId} data-testid="hold-target-name">{describe(h)}</td>
                  <td dir="auto">{h.reason}</td>
                  <td dir="auto">{nameOf(h.createdBy)}</td>
                  <td><time dateTime={new Date(h.createdAt).toISOString()}>{formatShort(h.createdAt)}</time></td>
                  <td>
                    <button type="button" class="link danger" aria-label={tc("releaseHoldOf", { what: describe(h) })} onClick={() => void release(h)}>{tc("releaseHold")}</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {note && <p class="ok small" role="status">{note}</p>}
      <PlaceHold
        placed={async (h) => {
          setNote(tc("holdPlaced", { what: describe(h) }));
          await load();
        }}
      />
    </section>
  );
}

type Target = { kind: "user"; user: User } | { kind: "room"; room: PickedRoom };

function PlaceHold({ placed }: { placed: (h: LegalHold) => Promise<void> }) {
  const [kind, setKind] = useState<"user" | "room">("user");
  const [target, setTarget] = useState<Target | null>(null);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!target) return setError(tc("pickTargetFirst"));
    setBusy(true);
    try {
      if (target.kind === "room") roomNames.set(target.room.id, target.room.name);
      const hold = await compliance.placeHold(target.kind === "room" ? { roomId: target.room.id } : { userId: target.user.id }, reason.trim());
      setTarget(null);
      setReason("");
      await placed(hold);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const chosen = target && (target.kind === "user" ? `${target.user.displayName} (@${target.user.username})` : target.room.name);
  return (
    <form class="new-person" aria-label={tc("placeHoldTitle")} onSubmit={(e) => void submit(e)} data-testid="place-hold">
      <h4>{tc("placeHoldTitle")}</h4>
      <fieldset class="row">
        <label class="inline">
          <input type="radio" name="holdKind" checked={kind === "user"} onChange={() => { setKind("user"); setTarget(null); }} /> {tc("holdKindPerson")}
        </label>
        <label class="inline">
          <input type="radio" name="holdKind" checked={kind === "room"} onChange={() => { setKind("room"); setTarget(null); }} /> {tc("holdKindRoom")}
        </label>
      </fieldset>
      {chosen ? (
        <p class="row" data-testid="hold-target">
          <span dir="auto">{tc("holdTarget", { name: chosen })}</span>
          <button type="button" class="link" onClick={() => setTarget(null)}>{tc("changeTarget")}</button>
        </p>
      ) : kind === "user" ? (
        <PeoplePicker pick={(user) => setTarget({ kind: "user", user })} />
      ) : (
        <RoomPicker pick={(room) => setTarget({ kind: "room", room })} />
      )}
      <label>
        {tc("holdReasonLabel")}
        <input name="holdReason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row end">
        <button type="submit" class="primary" disabled={busy}>{tc("placeHold")}</button>
      </div>
    </form>
  );
}
