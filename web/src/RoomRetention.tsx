/**
 * A room's own retention policy, in its settings, for node administrators and
 * rooms homed on this node (room owners only see the policy: retention is the
 * organisation's rule, docs/OPERATIONS.md): follow the node default, keep
 * forever, or N days, with what a period deletes said before it is saved.
 *
 * The node tells the policy in force, not whether it is the room's own or the
 * default; the choice shown at first is "node default" when the two agree. A
 * room whose own policy happens to equal the default then reads as following
 * it: the same messages go either way until the default changes, and saving
 * "node default" makes it so.
 */
import { useEffect, useState } from "preact/hooks";
import { ComplianceClient } from "../../sdk/compliance";
import { api, changed, state } from "./store";
import { t } from "./i18n";
import { errorText } from "./server-errors";
import { policyText, tc } from "./compliance-strings";
export { ready } from "./compliance-strings";
import { DaysField, parseDays } from "./DaysField";

type Choice = "default" | "forever" | "days";

export function RoomRetention({ roomId }: { roomId: string }) {
  const view = state.view!;
  const inForce = view.retentionDays;
  const [nodeDefault, setNodeDefault] = useState<number | null | undefined>(undefined);
  const [choice, setChoice] = useState<Choice | null>(null);
  const [days, setDays] = useState(typeof inForce === "number" ? String(inForce) : "365");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const admin = new ComplianceClient(api);
  useEffect(() => {
    admin.retentionDefault().then(
      (d) => {
        setNodeDefault(d);
        // A node that says whose policy it is decides; an older one leaves "equal to the default" as following it.
        const own = view.retentionOwn ?? (inForce !== undefined && inForce !== d);
        setChoice(inForce === undefined || !own ? "default" : inForce === null ? "forever" : "days");
      },
      (err) => setError(errorText(err)),
    );
  }, [roomId]);
  const n = parseDays(days);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    if (!choice) return;
    if (choice === "days" && n === null) return setError(tc("daysInvalid"));
    const body = choice === "default" ? "default" : choice === "forever" ? null : n;
    const after = choice === "default" ? nodeDefault : body;
    if (typeof after === "number" && !confirm(tc("roomRetentionConfirm", { days: after }))) return;
    try {
      const room = await admin.setRoomRetention(roomId, body as number | null | "default");
      if (state.view?.roomId === roomId) {
        state.view.retentionDays = room.retentionDays;
        state.view.retentionOwn = room.retentionOwn;
        changed();
      }
      setSaved(true);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const radio = (value: Choice, label: string) => (
    <label class="inline">
      <input type="radio" name="roomRetention" value={value} checked={choice === value} onChange={() => { setChoice(value); setSaved(false); }} /> {label}
    </label>
  );
  const warnDays = choice === "days" ? n : choice === "default" && typeof nodeDefault === "number" ? nodeDefault : null;
  return (
    <form class="settings-form" onSubmit={(e) => void save(e)} data-testid="room-retention-form" aria-labelledby="room-retention-title">
      <h3 id="room-retention-title">{tc("roomRetentionTitle")}</h3>
      <fieldset class="row wrap">
        {radio("default", tc("roomFollowDefault", { policy: nodeDefault === undefined ? "…" : policyText(nodeDefault) }))}
        {radio("forever", tc("roomKeepForever"))}
        {radio("days", tc("roomDeleteAfter"))}
        <DaysField name="roomDays" value={days} disabled={choice !== "days"} onInput={(v) => { setDays(v); setSaved(false); }} />
      </fieldset>
      {warnDays !== null && <p class="warn small" role="note">{tc("roomRetentionWarning", { days: warnDays })}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row end">
        {saved && <span class="muted small" role="status">{t("saved")}</span>}
        <button type="submit" class="primary" disabled={!choice}>{t("save")}</button>
      </div>
    </form>
  );
}
