/**
 * "Erase personal data" for a person of this node (People, administrators):
 * GDPR art. 17 (docs/OPERATIONS.md "Erasure"). It cannot be undone, so the
 * button waits for the person's username typed in full, the way GitHub guards
 * deleting a repository. The node answers once every room is done; meanwhile
 * the screen reads the job (GET …/erase) each second and shows its rooms done
 * of all. A job cut off midway (a lost connection, the node restarting) shows
 * as unfinished when the person is opened, and is resumed by pressing again
 * (the endpoint resumes it) or by the node itself. A legal hold refuses it (409 `under_legal_hold`): said in words
 * with what to do, not as a bare error.
 */
import { useEffect, useState } from "preact/hooks";
import { ComplianceClient, type Erasure } from "../../sdk/compliance";
import { OutpostApiError, type Account } from "../../sdk/index";
import { api, remember } from "./store";
import { formatShort } from "./i18n";
import { errorText } from "./server-errors";
import { tc } from "./compliance-strings";

/** An erased account's placeholder username (durable-objects/directory/erasure.ts): `deleted-` and its id's random part. */
export const isErased = (a: Pick<Account, "id" | "username">) => a.username === `deleted-${a.id.slice(2, 18)}`;

export function EraseAccount({ a, changed }: { a: Account; changed: (a: Account) => void }) {
  const [typed, setTyped] = useState("");
  const [running, setRunning] = useState(false);
  const [job, setJob] = useState<Erasure | null>(null);
  const [error, setError] = useState<string | null>(null);
  const client = new ComplianceClient(api);
  // A job begun before (finished, or cut off and waiting to be resumed).
  useEffect(() => {
    let live = true;
    client.erasure(a.id).then((j) => live && j && setJob(j), () => {});
    return () => {
      live = false;
    };
  }, [a.id]);
  const erase = async (e: Event) => {
    e.preventDefault();
    if (typed.trim() !== a.username || running) return;
    setRunning(true);
    setError(null);
    let finished = false;
    const progress = setInterval(() => void client.erasure(a.id).then((j) => !finished && j?.state === "running" && setJob(j), () => {}), 1000);
    try {
      const done = await client.eraseUser(a.id);
      finished = true;
      setJob(done);
      // The account as it is now: the placeholder name, inactive, not an administrator.
      const user = await api.user(a.id).catch(() => null);
      if (user) {
        remember(user.id, user.displayName, user.username, null);
        changed({ ...a, username: user.username, displayName: user.displayName, avatar: null, active: false, isAdmin: false, passwordSet: false });
      }
    } catch (err) {
      if (err instanceof OutpostApiError && err.code === "under_legal_hold") setError(tc("eraseHeld", { name: a.displayName }));
      else setError(tc("eraseInterrupted", { reason: errorText(err) }));
    } finally {
      finished = true;
      clearInterval(progress);
      setRunning(false);
    }
  };
  return (
    <form class="erase" onSubmit={(e) => void erase(e)} data-testid="erase-account">
      <h3 class="small">{tc("eraseTitle")}</h3>
      <p class="muted small">{tc("eraseHint", { name: a.displayName })}</p>
      <label>
        {tc("eraseTypeUsername", { username: a.username })}
        <input name="eraseConfirm" autocomplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
      </label>
      {running && <p class="muted small" role="status">{job?.state === "running" ? tc("eraseProgress", { done: job.roomsDone, total: job.roomsTotal }) : tc("eraseRunning")}</p>}
      {job && !running && (
        <p class="ok small" role="status" data-testid="erase-state">
          {job.state === "done" ? tc("eraseDone", { total: job.roomsTotal, at: formatShort(job.finishedAt ?? Date.now()) }) : tc("eraseNotFinished", { done: job.roomsDone, total: job.roomsTotal })}
        </p>
      )}
      {job && job.state === "running" && job.nodesPending.length > 0 && <p class="muted small">{tc("eraseNodesPending", { nodes: job.nodesPending.join(", ") })}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row end">
        <button type="submit" class="danger" disabled={typed.trim() !== a.username || running}>{tc("eraseButton")}</button>
      </div>
    </form>
  );
}
