/**
 * `mfa.requiredForAdmins` (node config): an administrator without two-factor
 * sign-in may, until they enrol, do nothing with their session but read who
 * they are, enrol (`/me/mfa…`) and sign out — so a stolen admin password alone
 * never reaches the admin screens of such a node. Their sign-in itself still
 * succeeds: refusing it would lock out the admin who must turn 2FA on.
 *
 * Runs after requireAuth on every API route. Non-admins and nodes without the
 * rule pay nothing; an admin's enrolment is asked of the directory until it is
 * seen once and then remembered in this isolate (forgotten when they turn it
 * off here; a self-hosted node runs one isolate).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { AppError } from "../../durable-objects/shared/app-error";
import { authOf } from "../../durable-objects/shared/env";
import { directoryStub as directory } from "../../durable-objects/shared/objects";

const enrolled = new Set<string>();

export function forgetEnrolled(userId: string): void {
  enrolled.delete(userId);
}

/** Paths an admin who must enrol may still use (below /api/v1). */
function allowedWhileEnrolling(method: string, path: string): boolean {
  return (path === "/api/v1/me" && (method === "GET" || method === "HEAD")) || path === "/api/v1/me/mfa" || path.startsWith("/api/v1/me/mfa/");
}

export function mfaGate(): MiddlewareHandler<AppEnv> {
  return async function mfaGate(c, next) {
    const caller = c.get("caller");
    if (!caller.isAdmin || !authOf(c.env).mfa.requiredForAdmins || enrolled.has(caller.userId) || allowedWhileEnrolling(c.req.method, c.req.path)) return next();
    if ((await directory(c.env).mfaStatus(caller.userId)).enabled) {
      enrolled.add(caller.userId);
      return next();
    }
    throw new AppError("mfa_enrolment_required", "this node requires administrators to turn on two-factor sign-in first (POST /api/v1/me/mfa/enrol)");
  };
}
