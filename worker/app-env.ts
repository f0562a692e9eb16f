import type { Env } from "../durable-objects/shared/env";
import type { Caller } from "../durable-objects/shared/identity";

/** Hono's generic parameter for every sub-app: bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    caller: Caller;
    authVia: "cookie" | "bearer" | "ticket";
    /** this request's id (middleware/request-log.ts), also in the `X-Request-Id` answer header */
    requestId: string;
    /** the code of the error answer, set where it is rendered (middleware/errors.ts) for the log and metrics */
    errorCode: string;
  };
}
