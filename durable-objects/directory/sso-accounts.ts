/**
 * Which account a single sign-on signs in to, decided from the verified ID
 * token's claims and the node's `oidc` policy. Pure, so every rule is tested
 * without a provider.
 *
 * The rules, in order:
 * 1. `allowedDomains` / `allowedGroups`, when set, are checked on every
 *    sign-in, linked or not: someone removed from the group at the provider
 *    loses the node at their next sign-in.
 * 2. A subject already linked signs in to its account (`iss` + `sub`: the
 *    username or e-mail the provider also sends can be renamed or reassigned).
 * 3. An unlinked subject whose username names an existing account is linked to
 *    it only when the operator said the provider's usernames are the
 *    organisation's own (`linkExisting`), and only if that account has no
 *    subject of this provider yet. Linking by name by default would let anyone
 *    who can choose their username at the provider (many let people do so)
 *    take over the local account of that name, the administrator's included.
 * 4. Otherwise a new account when `autoCreate`, else refused.
 * A deactivated account is refused at every step.
 */
import { AppError } from "../shared/app-error";
import { UsernameSchema } from "../../protocol/rest";
import { DisplayNameSchema } from "../../protocol/names";
import type { UserRow } from "./accounts";

export interface SsoClaims {
  issuer: string;
  subject: string;
  /** the `usernameClaim` (default `preferred_username`) */
  username?: string;
  displayName?: string;
  email?: string;
  emailVerified?: boolean;
  groups?: string[];
}

export interface SsoPolicy {
  autoCreate: boolean;
  linkExisting: boolean;
  allowedDomains: string[];
  allowedGroups: string[];
}

export interface SsoLookups {
  linkedUser(issuer: string, subject: string): string | null;
  byId(id: string): UserRow | undefined;
  byUsername(username: string): UserRow | undefined;
  linkedToIssuer(issuer: string, userId: string): boolean;
}

export type SsoDecision = { kind: "existing"; row: UserRow } | { kind: "link"; row: UserRow } | { kind: "create"; username: string; displayName: string };

function refuseDeactivated(row: UserRow): UserRow {
  if (!row.active) throw new AppError("account_deactivated", "this account is deactivated; ask an administrator");
  return row;
}

export function ssoAccount(claims: SsoClaims, policy: SsoPolicy, lookups: SsoLookups): SsoDecision {
  if (policy.allowedDomains.length) {
    const domain = claims.email?.split("@").pop()?.toLowerCase();
    if (!claims.email || claims.emailVerified !== true || !domain || !policy.allowedDomains.map((d) => d.toLowerCase()).includes(domain)) {
      throw new AppError("sso_not_allowed", "the identity provider's account is not in a domain this node accepts");
    }
  }
  if (policy.allowedGroups.length && !(claims.groups ?? []).some((g) => policy.allowedGroups.includes(g))) {
    throw new AppError("sso_not_allowed", "the identity provider's account is not in a group this node accepts");
  }
  const linked = lookups.linkedUser(claims.issuer, claims.subject);
  if (linked) {
    const row = lookups.byId(linked);
    if (!row) throw new AppError("sso_no_account", "the linked account no longer exists");
    return { kind: "existing", row: refuseDeactivated(row) };
  }
  const username = UsernameSchema.safeParse((claims.username ?? "").toLowerCase());
  if (!username.success) throw new AppError("sso_no_account", "the identity provider sent no usable username for a new account");
  const existing = lookups.byUsername(username.data);
  if (existing) {
    if (policy.linkExisting && !lookups.linkedToIssuer(claims.issuer, existing.id)) return { kind: "link", row: refuseDeactivated(existing) };
    throw new AppError("sso_no_account", `an account named "${username.data}" exists and is not linked to this identity; ask an administrator`);
  }
  if (!policy.autoCreate) throw new AppError("sso_no_account", "there is no account for this identity on this node; ask an administrator");
  const display = DisplayNameSchema.safeParse(claims.displayName ?? "");
  return { kind: "create", username: username.data, displayName: display.success && display.data ? display.data : username.data };
}
