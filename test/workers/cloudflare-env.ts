/**
 * What `env` from "cloudflare:test" holds: the Worker's own bindings (wrangler.toml,
 * durable-objects/shared/env.ts). It is exactly the Worker's `Env`, so the object
 * classes (`DurableObject<Env>`) fit `runInDurableObject`. A .ts file, not .d.ts, so
 * that it is type-checked itself (skipLibCheck skips .d.ts files).
 */
import type { Env as OutpostEnv } from "../../durable-objects/shared/env";

declare global {
  namespace Cloudflare {
    interface Env extends OutpostEnv {}
  }
}

/** The bindings vitest.workers.config.ts adds for tests only (the Worker never reads them). */
export interface TestBindings {
  /** a workerd `disk` service like a node's FILES, under a name the Worker does not read */
  TEST_FILES_DISK: Fetcher;
  /** answers with the Content-Length a request arrived with */
  TEST_BODY_LENGTH: Fetcher;
  /** wrangler.toml binds it (optional in the Worker's Env: a node has FILES instead) */
  FILES_BUCKET: R2Bucket;
}
