/**
 * One place that turns every failure into `{error:{code,message}}`. Internal
 * errors are logged here and answered with a generic message: no stack trace,
 * no SQL, no token ever leaves the node in an error body.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { asAppError } from "../../durable-objects/shared/app-error";
import type { ErrorCode } from "../../protocol/errors";
import type { AppEnv } from "../app-env";
import { isDamagedRoom } from "../room-faults";
import { roomUnavailable } from "../../durable-objects/shared/storage-faults";
import { errorText, log } from "../../durable-objects/shared/log";
import { storageErrors } from "../../durable-objects/shared/node-metrics";

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

export async function onError(err: Error, c: Context<AppEnv>): Promise<Response> {
  // A damaged room database is not "try again" (see worker/room-faults.ts).
  if (await isDamagedRoom(err, c).catch(() => false)) {
    const e = roomUnavailable();
    storageErrors.inc({ kind: "damaged" });
    c.set("errorCode", e.code);
    return c.json(errorBody(e.code, e.detail), 500);
  }
  const app = asAppError(err);
  if (app) {
    // For the request's log line and the error metric (middleware/request-log.ts).
    c.set("errorCode", app.code);
    if (app.field !== undefined) return c.json({ error: { ...errorBody(app.code, app.detail).error, field: app.field } }, app.status as 400);
    if (app.retryAfter === undefined) return c.json(errorBody(app.code, app.detail), app.status as 400);
    // Every answer with Retry-After also says it in ms in the body, exactly when the thrower knew it.
    c.header("Retry-After", String(app.retryAfter));
    return c.json({ error: { ...errorBody(app.code, app.detail).error, retryAfterMs: app.retryAfterMs ?? app.retryAfter * 1000 } }, app.status as 400);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode = status === 404 ? "not_found" : status === 413 ? "too_large" : status === 401 ? "unauthorized" : status === 403 ? "forbidden" : "invalid_request";
    c.set("errorCode", code);
    return c.json(errorBody(code, err.message || "request refused"), status);
  }
  if (isStorageFailure(err)) {
    storageErrors.inc({ kind: "write" });
    c.set("errorCode", "storage_error");
    log("error", "storage.error", { rid: c.get("requestId"), method: c.req.method, error: errorText(err) });
    return c.json(errorBody("storage_error", "the node could not save this right now; nothing was stored, try again"), 503);
  }
  c.set("errorCode", "internal");
  log("error", "internal.error", { rid: c.get("requestId"), method: c.req.method, error: errorText(err) });
  return c.json(errorBody("internal", "internal error"), 500);
}

/**
 * SQLite out of space / I/O errors. Inside a Durable Object they fail the
 * object's commit; workerd then resets the object and the caller sees only an
 * opaque runtime error ("internal error; reference = …", the details are in
 * the node's log). Either way nothing was committed or acknowledged, and a
 * retry (with the same clientId) is safe, so the answer is 503, not 500.
 */
function isStorageFailure(err: Error): boolean {
  return /SQLITE_FULL|SQLITE_IOERR|database or disk is full|disk I\/O error|No space left|^internal error; reference = /i.test(err.message);
}

export function notFoundHandler(c: Context<AppEnv>): Response {
  c.set("errorCode", "not_found");
  return c.json(errorBody("not_found", "no such endpoint"), 404);
}
