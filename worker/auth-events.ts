/**
 * The sign-in and credential events the audit trail must record (issue 16:
 * "password/MFA changes and SSO sign-ins must be audited"). Every such action
 * calls `recordAuthEvent` after it took effect, so the audit trail (built
 * separately) is wired here, in one place, in one line.
 *
 * Until then it writes one structured log line (no secrets, no codes).
 */
import type { Env } from "../durable-objects/shared/env";

export type AuthEvent =
  | { action: "sso.sign_in"; userId: string; issuer: string; created: boolean }
  | { action: "sso.refused"; issuer: string; code: string }
  | { action: "mfa.enabled" | "mfa.disabled" | "mfa.sign_in" | "password.changed"; userId: string }
  | { action: "password.reset" | "mfa.reset"; userId: string; by: string };

export async function recordAuthEvent(_env: Env, event: AuthEvent): Promise<void> {
  // AUDIT: replace with the audit trail's append (fail closed) once it is merged.
  console.log(JSON.stringify({ event: "auth", ...event, at: new Date().toISOString() }));
}
