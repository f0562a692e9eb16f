/**
 * Which account a single sign-on reaches (durable-objects/directory/sso-accounts.ts),
 * rule by rule, without a provider: linked subjects, linking by username only when
 * the node says so, domains and groups, deactivated accounts.
 */
import { describe, expect, it } from "vitest";
import { ssoAccount, type SsoClaims, type SsoLookups, type SsoPolicy } from "../durable-objects/directory/sso-accounts";
import type { UserRow } from "../durable-objects/directory/accounts";

const row = (id: string, username: string, active = true): UserRow => ({ id, username, displayName: username, passwordHash: "x", isAdmin: false, active, createdAt: 0, version: 0, avatar: null });
const ann = row("u_ann", "ann");
const off = row("u_off", "off", false);
const lookups = (links: Record<string, string> = {}, linked: string[] = []): SsoLookups => ({
  linkedUser: (_iss, sub) => links[sub] ?? null,
  byId: (id) => [ann, off].find((r) => r.id === id),
  byUsername: (name) => [ann, off].find((r) => r.username === name),
  linkedToIssuer: (_iss, id) => linked.includes(id),
});
const policy = (p: Partial<SsoPolicy> = {}): SsoPolicy => ({ autoCreate: false, linkExisting: false, allowedDomains: [], allowedGroups: [], ...p });
const claims = (c: Partial<SsoClaims> = {}): SsoClaims => ({ issuer: "https://idp", subject: "s1", username: "ann", ...c });
const code = (fn: () => unknown) => {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe("ssoAccount", () => {
  it("a linked subject reaches its account whatever username the provider sends now", () => {
    expect(ssoAccount(claims({ username: "renamed" }), policy(), lookups({ s1: "u_ann" }))).toEqual({ kind: "existing", row: ann });
  });
  it("an unlinked subject naming an existing account: refused, unless linkExisting (and then only once per account)", () => {
    expect(code(() => ssoAccount(claims(), policy({ autoCreate: true }), lookups()))).toBe("sso_no_account");
    expect(ssoAccount(claims(), policy({ linkExisting: true }), lookups())).toEqual({ kind: "link", row: ann });
    expect(code(() => ssoAccount(claims(), policy({ linkExisting: true }), lookups({}, ["u_ann"])))).toBe("sso_no_account");
  });
  it("a new username: created only with autoCreate, from the claims (a bad one refused)", () => {
    expect(code(() => ssoAccount(claims({ username: "newbie" }), policy(), lookups()))).toBe("sso_no_account");
    expect(ssoAccount(claims({ username: "NewBie", displayName: "New Bie" }), policy({ autoCreate: true }), lookups())).toEqual({ kind: "create", username: "newbie", displayName: "New Bie" });
    expect(code(() => ssoAccount(claims({ username: "no spaces allowed" }), policy({ autoCreate: true }), lookups()))).toBe("sso_no_account");
    expect(code(() => ssoAccount(claims({ username: undefined }), policy({ autoCreate: true }), lookups()))).toBe("sso_no_account");
  });
  it("allowed domains need a verified e-mail in them; allowed groups a shared group — linked or not", () => {
    const p = policy({ autoCreate: true, allowedDomains: ["example.org"] });
    expect(code(() => ssoAccount(claims({ username: "x1", email: "x@example.org", emailVerified: false }), p, lookups()))).toBe("sso_not_allowed");
    expect(code(() => ssoAccount(claims({ username: "x1", email: "x@evil.example", emailVerified: true }), p, lookups()))).toBe("sso_not_allowed");
    expect(ssoAccount(claims({ username: "x1", email: "x@EXAMPLE.org", emailVerified: true }), p, lookups()).kind).toBe("create");
    const g = policy({ allowedGroups: ["chat"] });
    expect(code(() => ssoAccount(claims({ groups: ["other"] }), g, lookups({ s1: "u_ann" })))).toBe("sso_not_allowed");
    expect(ssoAccount(claims({ groups: ["chat"] }), g, lookups({ s1: "u_ann" })).kind).toBe("existing");
  });
  it("a deactivated account is refused, linked or by name", () => {
    expect(code(() => ssoAccount(claims(), policy(), lookups({ s1: "u_off" })))).toBe("account_deactivated");
    expect(code(() => ssoAccount(claims({ username: "off" }), policy({ linkExisting: true }), lookups()))).toBe("account_deactivated");
  });
});
