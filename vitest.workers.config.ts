/**
 * Tests that run inside workerd (miniflare) through vitest-pool-workers: the
 * Worker, the Durable Objects, SQLite and WebSockets in the real runtime.
 * Bindings come from wrangler.toml; the test-only ones are added here.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { writeCommonPasswords } from "./scripts/common-passwords.mjs";

// The Worker imports this generated list; write it before wrangler bundles the Worker,
// so a checkout that has not run `npm run build:web` since the list changed still runs.
writeCommonPasswords();

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          SETUP_TOKEN: "test-setup-token-0123456789",
          ADMIN_PASSWORD: "operator passphrase for tests",
          // Short windows so the tests can cross them. The per-user quotas stay at the
          // node's defaults: every test here fits in them (test/workers/quotas.test.ts
          // tests them at these values; e2e tests try others).
          LIMITS: {
            maxTextBytes: 16384,
            recallWindowSeconds: 2,
            maxFrameBytes: 65536,
            sessionTtlSeconds: 3600,
            maxSessionsPerUser: 5,
            maxFileBytes: 104857600,
            messagesPerSecondPerUser: 20,
            messageBurstPerUser: 200,
            roomsPerUserPerDay: 100,
          },
        },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
