/**
 * The one error type of the node. Thrown anywhere (route, Durable Object),
 * rendered in one place: REST as `{error:{code,message}}`, WebSocket as an
 * `error` frame.
 *
 * Why the code is also in `message`: an exception thrown inside a Durable
 * Object crosses the RPC boundary keeping only its message, so the Worker
 * recovers the code from a `outpost:<code>:` prefix (see `fromRpcError`).
 */
import { ERROR_STATUS, type ErrorCode } from "../../protocol/errors";

const PREFIX = "outpost:";

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** seconds, for `Retry-After` */
  readonly retryAfter?: number;
  /** the exact wait, when the thrower knows it to the millisecond (see `rateLimited`) */
  readonly retryAfterMs?: number;
  /**
   * The request field at fault (`invalid_request` from a schema), rendered as `field`
   * in the error body. Set only in the Worker (readJson/readQuery), so it never has
   * to cross the RPC boundary in the message.
   */
  field?: string;
  constructor(code: ErrorCode, detail: string, retryAfter?: number, retryAfterMs?: number) {
    super(`${PREFIX}${code}:${retryAfter ?? ""}${retryAfterMs === undefined ? "" : `/${retryAfterMs}`}:${detail}`);
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.retryAfterMs = retryAfterMs;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Recover an AppError from anything thrown (including across RPC); null for internal errors. */
export function asAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (!(err instanceof Error)) return null;
  const m = /^outpost:([a-z_]+):(\d*)(?:\/(\d+))?:([\s\S]*)$/.exec(err.message);
  if (!m || !(m[1] in ERROR_STATUS)) return null;
  return new AppError(m[1] as ErrorCode, m[4], m[2] ? Number(m[2]) : undefined, m[3] ? Number(m[3]) : undefined);
}

/**
 * `rate_limited` with when to come back: `Retry-After` in whole seconds (rounded
 * up, at least 1, as HTTP wants), and the exact wait in ms for clients that can
 * use it (a per-second message budget frees up in tens of milliseconds).
 */
export function rateLimited(detail: string, retryAfterMs: number): AppError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new AppError("rate_limited", detail, Math.ceil(ms / 1000), ms);
}

export const notFound = (what = "room") => new AppError("not_found", `no such ${what}, or you may not see it`);

/** `invalid_request` naming the field at fault (see `AppError.field`). */
export function invalidField(detail: string, field: string | undefined): AppError {
  const e = new AppError("invalid_request", detail);
  if (field) e.field = field;
  return e;
}
