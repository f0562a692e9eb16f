/**
 * Tests that run inside workerd (miniflare) through vitest-pool-workers: the
 * Worker, the Durable Objects, SQLite and WebSockets in the real runtime.
 * Bindings come from wrangler.toml (so files go to miniflare's R2, FILES_BUCKET);
 * the test-only ones are added here.
 */
import fs from "node:fs";
import path from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { LongFirst } from "./test/sequencer";
// A workerd `disk` service like a node's FILES, under a name the Worker does not read
// (bound as FILES it would win over R2 for every test): test/workers/file-store.test.ts
// runs the file-store contract against it and against R2. workerd wants the folder to exist
// (under .wrangler/, which git ignores).
const testFilesDisk = path.join(import.meta.dirname, ".wrangler", "test-files-disk");
fs.mkdirSync(testFilesDisk, { recursive: true });

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        serviceBindings: {
          TEST_FILES_DISK: { disk: { path: testFilesDisk, writable: true } },
          // Says which Content-Length a request arrived with: only a body of known length has
          // one, and only such a body gives a download answer its Content-Length.
          TEST_BODY_LENGTH: (request: Request) => Response.json({ contentLength: request.headers.get("content-length") }),
        },
        bindings: {
          SETUP_TOKEN: "test-setup-token-0123456789",
          ADMIN_PASSWORD: "operator passphrase for tests",
          // Short windows and small files so the tests can cross them (maxFileBytes: just over
          // three R2 parts, so test/workers/files.test.ts crosses it in a multipart upload). Every
          // other limit takes its default (durable-objects/shared/limits.mjs): the per-user quotas
          // fit every test here (test/workers/quotas.test.ts tests them at these values; e2e
          // tests try others).
          LIMITS: {
            recallWindowSeconds: 2,
            sessionTtlSeconds: 3600,
            maxSessionsPerUser: 5,
            maxFileBytes: 16 * 1024 * 1024,
            // Cheap password hashes and a sign-in budget no test reaches, so logins need no
            // pacing (the budget itself is tested on a real node: test/e2e/sign-in-limits.test.ts).
            signInsPerSecond: 1000,
            signInBurst: 1000,
            passwordHashIterations: 1000,
          },
        },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    setupFiles: ["test/workers/settle.ts"],
    // Two files at once on this 2-core machine (vitest's default is cores − 1, here one):
    // each file has its own isolated storage, and the suite takes ~3m 50s instead of ~5m 40s.
    maxWorkers: 2,
    // The long files first (a fresh clone has no record of the last run's times).
    sequence: { sequencer: LongFirst },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
