/**
 * `/me/mfa`: the caller's two-factor sign-in (TOTP): enrol (a secret and its
 * `otpauth://` URI; the web client draws the QR code), confirm with a current
 * code (2FA is on; ten recovery codes, shown once), turn off (with the
 * password, or a code for accounts that have none: SSO-made ones).
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { reply } from "../reply";
import { MfaConfirmBody, MfaDisableBody } from "../../protocol/rest";
import { MfaEnrolmentSchema, MfaStatusSchema, OkSchema, RecoveryCodesSchema } from "../../protocol/responses";
import { AppError } from "../../durable-objects/shared/app-error";
import { verifyPassword } from "../../durable-objects/shared/passwords";
import { authOf } from "../../durable-objects/shared/env";
import { otpauthUri } from "../../durable-objects/shared/totp";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { forgetEnrolled } from "../middleware/mfa-gate";

export const meMfa = new Hono<AppEnv>()
  .get("/", async (c) => {
    const caller = c.get("caller");
    const status = await directory(c.env).mfaStatus(caller.userId);
    return reply(c, MfaStatusSchema, { ...status, required: caller.isAdmin && authOf(c.env).mfa.requiredForAdmins });
  })
  .post("/enrol", async (c) => {
    const caller = c.get("caller");
    const secret = await directory(c.env).mfaBegin(caller.userId);
    // The app lists the account as "Outpost (node): username".
    return reply(c, MfaEnrolmentSchema, { secret, uri: otpauthUri(secret, `Outpost (${c.env.NODE_NAME})`, caller.username) });
  })
  .post("/confirm", async (c) => {
    const caller = c.get("caller");
    const body = await readJson(c, MfaConfirmBody);
    const recoveryCodes = await directory(c.env).mfaConfirm(caller.userId, body.code);
    return reply(c, RecoveryCodesSchema, { recoveryCodes });
  })
  .post("/disable", async (c) => {
    const caller = c.get("caller");
    const body = await readJson(c, MfaDisableBody);
    const dir = directory(c.env);
    if (!(await dir.mfaStatus(caller.userId)).enabled) throw new AppError("conflict", "two-factor sign-in is not on");
    if ("password" in body) {
      // Per-username throttling, as a password change does.
      const found = await dir.loginLookup(caller.username, "unknown");
      if ("retryAfter" in found) throw new AppError("rate_limited", "too many failed attempts; wait and try again", found.retryAfter);
      if (!found.passwordHash || !(await verifyPassword(body.password, found.passwordHash))) {
        await dir.loginFailed(caller.username, "unknown");
        throw new AppError("forbidden", "the password is wrong");
      }
    } else if (!(await dir.mfaVerify(caller.userId, body.code))) {
      await dir.loginFailed(caller.username, "unknown");
      throw new AppError("mfa_code_invalid", "the code is wrong or was already used");
    }
    await dir.mfaDisable(caller.userId, caller.userId);
    forgetEnrolled(caller.userId);
    return reply(c, OkSchema, { ok: true });
  });
