/**
 * A node's first administrator, made one of two ways: from
 * OUTPOST_ADMIN_PASSWORD at the directory's first start, or through the
 * first-run setup page with the one-time token `npm start` printed. Either
 * way only while the node has no administrator.
 */
import { log } from "../shared/log";
import { AppError } from "../shared/app-error";
import { timingSafeEqual } from "../shared/bytes";
import { limitsOf, type Env } from "../shared/env";
import { hashPassword, weakPasswordReason } from "../shared/passwords";
import type { User } from "../../protocol/models";
import type { Accounts } from "./accounts";
import type { AccountChanges } from "./account-changes";

/** First start with OUTPOST_ADMIN_PASSWORD set: create `admin` with it. */
export async function adminFromEnvironment(env: Env, accounts: Accounts, changes: AccountChanges): Promise<void> {
  const password = env.ADMIN_PASSWORD;
  if (!password || accounts.hasAdmin()) return;
  // npm start refuses a weak one before the node starts; this catches the other
  // ways in (npm run dev, a hand-written workerd config).
  const weak = weakPasswordReason(password, "admin");
  if (weak) {
    log("error", "admin.password_too_weak", { reason: weak });
    return;
  }
  if (accounts.byUsername("admin")) return;
  await changes.insertUser({ username: "admin", displayName: "Administrator", passwordHash: await hashPassword(password, limitsOf(env).passwordHashIterations), isAdmin: true });
  log("info", "admin.created", { from: "OUTPOST_ADMIN_PASSWORD" });
}

/** Create the first admin with the one-time token `npm start` printed. */
export async function setupAdmin(
  env: Env,
  accounts: Accounts,
  changes: AccountChanges,
  token: string,
  input: { username: string; passwordHash: string; displayName: string },
): Promise<User> {
  if (accounts.hasAdmin()) throw new AppError("setup_done", "this node already has an administrator");
  const expected = env.SETUP_TOKEN;
  if (!expected || !timingSafeEqual(token, expected)) throw new AppError("setup_token_invalid", "the setup token is wrong; use the link the node printed at start");
  return changes.insertUser({ ...input, isAdmin: true }, "system");
}
