import type { Env } from "../durable-objects/shared/env";
import type { Caller } from "../durable-objects/shared/identity";

/** Hono's generic parameter for every sub-app: bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: { caller: Caller; authVia: "cookie" | "bearer" | "ticket" };
}
