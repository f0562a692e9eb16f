/**
 * Changes to this node's accounts as the directory makes them: each write
 * (accounts.ts, invites.ts) with its audit record in one transaction
 * (directory-audit.ts), and then the user's own object told (`provision`), so
 * a new name, a lost admin flag or a deactivation reaches the person's
 * sessions and sockets.
 */
import type { User } from "../../protocol/models";
import type { AuditEntry } from "../shared/audit";
import { AppError } from "../shared/app-error";
import type { Env } from "../shared/env";
import { storedUser } from "../shared/objects";
import type { Accounts, NewAccount } from "./accounts";
import type { DirectoryAudit } from "./directory-audit";
import type { Invites } from "./invites";

export class AccountChanges {
  constructor(
    private readonly env: Env,
    private readonly accounts: Accounts,
    private readonly invites: Invites,
    private readonly audit: DirectoryAudit,
  ) {}

  async insertUser(input: NewAccount, actor = "system"): Promise<User> {
    const user = this.audit.audited(
      () => this.accounts.insert(input),
      (u) => [{ actor, action: "user.created", userId: u.id, detail: { username: u.username, isAdmin: u.isAdmin } }],
    );
    // The user's own object must know them before they can sign in.
    await storedUser(this.env, user.id).provision({ userId: user.id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
    return user;
  }

  /** Admin flag or display name (the last active admin keeps the flag: `last_admin`); the user object hears of it. */
  async updateUser(id: string, change: { isAdmin?: boolean; displayName?: string }, actor = "system"): Promise<User> {
    const before = this.accounts.byId(id);
    const user = this.audit.audited(
      () => this.accounts.update(id, change),
      (u): AuditEntry[] => [
        ...(before && before.isAdmin !== u.isAdmin ? [{ actor, action: "user.role_changed" as const, userId: id, detail: { isAdmin: u.isAdmin } }] : []),
        ...(before && before.displayName !== u.displayName ? [{ actor, action: "user.renamed" as const, userId: id, detail: { displayName: u.displayName.slice(0, 200) } }] : []),
      ],
    );
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: user.active });
    return user;
  }

  /** A new one-time invite link for an account of this node (older ones end). */
  async issueInvite(userId: string, createdBy: string): Promise<{ token: string; expiresAt: number }> {
    if (!this.accounts.byId(userId)) throw new AppError("not_found", "no such user");
    const invite = await this.invites.issue(userId, createdBy);
    // Recorded after the invite row (issue awaits a hash): a failed record refuses the answer, so the
    // token never leaves the node unrecorded; the unused row expires in 7 days.
    this.audit.audited(() => null, () => [{ actor: createdBy, action: "user.invited", userId, detail: { expiresAt: invite.expiresAt } }]);
    return invite;
  }

  /** Use an invite: its account gets `passwordHash`, the link is used up. */
  async acceptInvite(token: string, passwordHash: string): Promise<User> {
    const user = await this.invites.accept(token, passwordHash, Date.now(), (userId) =>
      this.audit.recordOwn({ actor: userId, action: "password.changed", userId, detail: { via: "invite" } }),
    );
    this.audit.signLater();
    return user;
  }

  async deactivate(id: string, actor = "system"): Promise<User> {
    const user = this.audit.audited(() => this.accounts.setActive(id, false), () => [{ actor, action: "user.deactivated", userId: id }]);
    // Ends every session and closes every socket of the user.
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: false });
    return user;
  }

  async reactivate(id: string, actor = "system"): Promise<User> {
    const user = this.audit.audited(() => this.accounts.setActive(id, true), () => [{ actor, action: "user.reactivated", userId: id }]);
    await storedUser(this.env, id).provision({ userId: id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin, active: true });
    return user;
  }

  /** A password set (by its owner or an administrator): open invite links of the account end. */
  setPasswordHash(id: string, passwordHash: string, actor = "system"): void {
    this.audit.audited(
      () => {
        this.accounts.setPasswordHash(id, passwordHash);
        this.invites.endFor(id);
      },
      () => [{ actor, action: "password.changed", userId: id, detail: { by: actor === id ? "self" : "admin" } }],
    );
  }
}
