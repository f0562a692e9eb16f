// Node-side tests: the ops layer (node config, capnp) and end-to-end tests against a
// real `workerd serve` (test/harness.ts). One file at a time: e2e files start nodes.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/workers/ runs inside workerd under vitest.workers.config.ts.
    exclude: ["test/workers/**", "**/node_modules/**"],
    environment: "node",
    testTimeout: 60000,
    hookTimeout: 60000,
    fileParallelism: false,
  },
});
