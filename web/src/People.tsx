/**
 * People administration (administrators only; loaded on demand, outside the
 * first screen's JavaScript): this node's accounts in every state, searched
 * and paged; add a person with a password or a one-time invite link; make or
 * unmake an administrator, deactivate and reactivate, reset a password, see
 * and end sessions; erase a person's data (EraseAccount.tsx). Every rule is the node's (password policy, last admin):
 * the screen shows what the node answered.
 */
import { Avatar } from "./Avatar";
import { useEffect, useState } from "preact/hooks";
import type { Account, Invite, Session } from "../../sdk/index";
import { api, remember, state } from "./store";
import { formatShort, t } from "./i18n";
import { Panel } from "./Panel";
import { errorText } from "./server-errors";
import { useSearchedPages } from "./searched-pages";
import { ExportButton } from "./ExportButton";
import { EraseAccount, isErased } from "./EraseAccount";
import { tc } from "./compliance-strings";
export { ready } from "./compliance-strings";

const PAGE = 50;

export function PeoplePanel({ onClose }: { onClose: () => void }) {
  const { q, setQ, items: accounts, setItems: setAccounts, cursor, error, more } = useSearchedPages(
    async (query, from) => {
      const page = await api.accounts({ q: query, limit: PAGE, cursor: from });
      return { items: page.accounts, nextCursor: page.nextCursor };
    },
    // Names and avatars for the rest of the client (a room's member list, a sender) as the screen shows them.
    (shown) => {
      for (const a of shown) remember(a.id, a.displayName, a.username, a.avatar ?? null);
    },
  );
  const [adding, setAdding] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const replace = (a: Account) => setAccounts((list) => list?.map((x) => (x.id === a.id ? a : x)) ?? null);

  return (
    <Panel title={t("peopleTitle")} onClose={onClose} testId="people-panel">
      <div class="panel-tools">
        <input type="search" name="accountSearch" aria-label={t("searchAccounts")} placeholder={t("searchAccounts")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button type="button" class="primary" aria-expanded={adding} onClick={() => setAdding(!adding)}>{t("addPerson")}</button>
      </div>
      {adding && (
        <NewPerson
          onCreated={(a) => {
            setAccounts((list) => [a, ...(list ?? []).filter((x) => x.id !== a.id)]);
            setOpen(a.id);
          }}
        />
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="accounts" aria-label={t("people")} data-testid="accounts">
        {accounts?.length === 0 && <li class="muted empty">{t("noAccounts")}</li>}
        {accounts?.map((a) => (
          <AccountRow key={a.id} account={a} open={open === a.id} toggle={() => setOpen(open === a.id ? null : a.id)} changed={replace} />
        ))}
        {cursor && (
          <li>
            <button type="button" class="more" onClick={more}>{t("moreAccounts")}</button>
          </li>
        )}
      </ul>
    </Panel>
  );
}

function Badges({ a }: { a: Account }) {
  return (
    <>
      {a.isAdmin && <span class="tag">{t("adminBadge")}</span>}
      {isErased(a) ? <span class="tag warn">{tc("erasedBadge")}</span> : !a.active && <span class="tag warn">{t("deactivatedBadge")}</span>}
      {a.active && !a.passwordSet && <span class="tag">{t("invitedBadge")}</span>}
    </>
  );
}

/** A link for `invite` (the web client's /invite/<token> on this origin), with copy. */
function InviteLink({ invite, name }: { invite: Invite; name: string }) {
  const link = `${location.origin}/invite/${invite.token}`;
  const [copied, setCopied] = useState(false);
  return (
    <div class="invite-link" data-testid="invite-link">
      <p class="small">{t("inviteLinkHint", { name, date: new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "medium" }).format(invite.expiresAt) })}</p>
      <div class="row">
        <input readOnly value={link} aria-label={t("inviteLink")} onFocus={(e) => e.currentTarget.select()} />
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(link);
              setCopied(true);
            } catch {
              // no clipboard permission (plain http): the field is selected for a manual copy
            }
          }}
        >
          {copied ? t("copied") : t("copyLink")}
        </button>
      </div>
    </div>
  );
}

function NewPerson({ onCreated }: { onCreated: (a: Account) => void }) {
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [how, setHow] = useState<"invite" | "password">("invite");
  const [password, setPassword] = useState("");
  const [isAdmin, setIsAdmin] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ name: string; invite: Invite | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const name = username.trim().toLowerCase();
    try {
      const user = await api.createUser({ username: name, displayName: displayName.trim() || name, isAdmin, ...(how === "password" ? { password } : {}) });
      // Created first, link second: if the link fails, the person's row offers a new one.
      const invite = how === "invite" ? await api.createInvite(user.id) : null;
      onCreated({ ...user, createdAt: Date.now(), passwordSet: how === "password" });
      setDone({ name: user.displayName, invite });
      setUsername("");
      setDisplayName("");
      setPassword("");
    } catch (err) {
      setError(errorText(err, password, name));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="new-person" onSubmit={submit} aria-label={t("newPerson")}>
      <div class="grid2">
        <label>
          {t("username")}
          <input name="newUsername" required autocomplete="off" pattern="[a-z0-9][a-z0-9._\-]{1,31}" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          {t("displayName")}
          <input name="newDisplayName" required maxLength={64} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
        </label>
      </div>
      <fieldset class="row">
        <label class="inline">
          <input type="radio" name="how" checked={how === "invite"} onChange={() => setHow("invite")} /> {t("sendInviteLink")}
        </label>
        <label class="inline">
          <input type="radio" name="how" checked={how === "password"} onChange={() => setHow("password")} /> {t("setPasswordNow")}
        </label>
        <label class="inline">
          <input type="checkbox" name="newIsAdmin" checked={isAdmin} onChange={(e) => setIsAdmin(e.currentTarget.checked)} /> {t("makeAdminOnCreate")}
        </label>
      </fieldset>
      {how === "password" && (
        <label>
          {t("password")}
          <input name="newPassword" type="password" autocomplete="new-password" required minLength={10} aria-describedby="new-pw-hint" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <small id="new-pw-hint" class="muted">{t("passwordHint")}</small>
        </label>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {done && (
        <div role="status">
          <p class="ok small">{t("personCreated", { name: done.name })}</p>
          {done.invite && <InviteLink invite={done.invite} name={done.name} />}
        </div>
      )}
      <div class="row end">
        <button type="submit" class="primary" disabled={busy}>{t("create")}</button>
      </div>
    </form>
  );
}

function AccountRow({ account: a, open, toggle, changed }: { account: Account; open: boolean; toggle: () => void; changed: (a: Account) => void }) {
  return (
    <li class="account" data-username={a.username} data-user-id={a.id}>
      <div class="account-line">
        <span class="account-name">
          <Avatar userId={a.id} name={a.displayName} />
          <span dir="auto">{a.displayName}</span> <span class="muted">@{a.username}</span>
        </span>
        <Badges a={a} />
        <button type="button" class="link" aria-expanded={open} aria-label={`${t("manage")} ${a.displayName}`} onClick={toggle}>{t("manage")}</button>
      </div>
      {open && <AccountDetails a={a} changed={changed} />}
    </li>
  );
}

function AccountDetails({ a, changed }: { a: Account; changed: (a: Account) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [invite, setInvite] = useState<Invite | null>(null);
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState("");
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const self = a.id === state.me?.id;
  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    setNote(null);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err, password, a.username));
    }
  };
  const loadSessions = () => run(async () => setSessions((await api.userSessions(a.id)).sessions));
  // Kept fresh while open (every 5 s), so a sign-in elsewhere shows without a reload.
  useEffect(() => {
    void loadSessions();
    const timer = setInterval(() => void api.userSessions(a.id).then((r) => setSessions(r.sessions), () => {}), 5000);
    return () => clearInterval(timer);
  }, [a.id, a.active]);
  const merge = (u: { isAdmin: boolean; active: boolean; displayName: string }) => changed({ ...a, ...u });
  return (
    <div class="account-details">
      <div class="row wrap">
        <button type="button" onClick={() => run(async () => merge(await api.updateUser(a.id, { isAdmin: !a.isAdmin })))}>{a.isAdmin ? t("removeAdmin") : t("makeAdmin")}</button>
        {a.active ? (
          !self && (
            <button type="button" class="danger" onClick={() => confirm(t("deactivateConfirm", { name: a.displayName })) && run(async () => merge(await api.deactivateUser(a.id)))}>
              {t("deactivate")}
            </button>
          )
        ) : (
          <button type="button" onClick={() => run(async () => merge(await api.reactivateUser(a.id)))}>{t("reactivate")}</button>
        )}
        {!self && <button type="button" aria-expanded={resetting} onClick={() => setResetting(!resetting)}>{t("resetPassword")}</button>}
        {!self && a.active && <button type="button" onClick={() => run(async () => setInvite(await api.createInvite(a.id)))}>{t("newInviteLink")}</button>}
      </div>
      {resetting && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await api.resetPassword(a.id, password);
              setPassword("");
              setResetting(false);
              setNote(t("passwordReset", { name: a.displayName }));
              changed({ ...a, passwordSet: true });
              await loadSessions();
            });
          }}
        >
          <input name="resetPassword" type="password" autocomplete="new-password" aria-label={t("newPassword")} placeholder={t("newPassword")} required minLength={10} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <button type="submit" class="primary">{t("save")}</button>
        </form>
      )}
      {invite && <InviteLink invite={invite} name={a.displayName} />}
      {error && <p class="error" role="alert">{error}</p>}
      {note && <p class="ok small" role="status">{note}</p>}
      <h3 class="small">{t("sessions")}</h3>
      <ul class="sessions" aria-label={t("sessions")}>
        {sessions?.length === 0 && <li class="muted small">{t("noSessions")}</li>}
        {sessions?.map((s) => (
          <li key={s.id} class="session small">
            <span class="muted">{t("sessionLine", { agent: agentName(s.userAgent), since: formatShort(s.createdAt), used: formatShort(s.lastUsedAt) })}</span>
            <button type="button" class="link" onClick={() => run(async () => { await api.endUserSession(a.id, s.id); await loadSessions(); })}>{t("endSession")}</button>
          </li>
        ))}
      </ul>
      {!!sessions?.length && (
        <button type="button" class="danger" onClick={() => run(async () => { await api.endUserSessions(a.id); await loadSessions(); })}>{t("endAllSessions")}</button>
      )}
      {/* A GDPR access request: everything of this person on this node (worker/export/user-export.ts). */}
      <h3 class="small">{t("exportUserData")}</h3>
      <ExportButton query={{ user: a.id }} label="exportUserData" />
      {/* Also for an erased account: pressing again resumes an erasure that was cut off. */}
      {!self && <EraseAccount a={a} changed={changed} />}
    </div>
  );
}

/** A short name for a browser or client from its User-Agent ("Chrome on Linux", else the start of the string). */
function agentName(ua: string): string {
  if (!ua) return "API";
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : null;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : null;
  return browser ? (os ? `${browser} · ${os}` : browser) : ua.slice(0, 40);
}
