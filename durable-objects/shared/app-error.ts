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
  readonly retryAfter?: number;
  constructor(code: ErrorCode, detail: string, retryAfter?: number) {
    super(`${PREFIX}${code}:${retryAfter ?? ""}:${detail}`);
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Recover an AppError from anything thrown (including across RPC); null for internal errors. */
export function asAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (!(err instanceof Error)) return null;
  const m = /^outpost:([a-z_]+):(\d*):([\s\S]*)$/.exec(err.message);
  if (!m || !(m[1] in ERROR_STATUS)) return null;
  return new AppError(m[1] as ErrorCode, m[3], m[2] ? Number(m[2]) : undefined);
}

export const notFound = (what = "room") => new AppError("not_found", `no such ${what}, or you may not see it`);
