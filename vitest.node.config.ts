// Node-side tests: the ops layer (node config, capnp) and end-to-end tests against a
// real `workerd serve` (test/harness.ts), in two groups, one after the other:
//
// 1. "flows": the browser flows, the e2e files that only drive one node, and the unit
//    tests, two files at a time. Each file has its own nodes, ports (picked free), data
//    folders and Chromium, and only reads the run's one Worker bundle, so they do not
//    meet. Chromium keeps both cores busy (~1.5 s of CPU for each new page), so a third
//    file at a time gains little (measured: 3 at a time, this group took 8m 34s) and
//    slows every file.
// 2. "serial": one file at a time, on an otherwise quiet machine: the clusters (2–3 nodes
//    and a proxy each), the fault files (kill -9, strace, floods, load), the files that
//    crash nodes, wait on the runtime's timers (hibernation), time themselves against the
//    wall clock, or record figures a report quotes (test/figures.ts).
import { defineConfig } from "vitest/config";

const SERIAL = [
  "test/cluster/**/*.test.ts",
  "test/browser/cluster.test.ts",
  "test/faults/**/*.test.ts",
  "test/e2e/backup.test.ts",
  "test/e2e/crash.test.ts",
  "test/e2e/device-login.test.ts",
  "test/e2e/files-crash.test.ts",
  "test/e2e/files-interop.test.ts",
  "test/e2e/hibernation.test.ts",
  "test/e2e/retention.test.ts",
  "test/e2e/sign-in-limits.test.ts",
  "test/e2e/production-install.test.ts",
  // Timed against the wall clock: sends at four times a rate limit for 4 s; scroll steps
  // within a frame budget (two files at a time, its median step went 82 → 182 ms of 200).
  "test/e2e/quotas.test.ts",
  "test/browser/virtual.test.ts",
];
// test/workers/ runs inside workerd under vitest.workers.config.ts.
const NEVER = ["test/workers/**", "**/node_modules/**"];

export default defineConfig({
  test: {
    environment: "node",
    // The Worker bundled once for the run, not once per file (test/harness.ts buildOnce).
    globalSetup: ["test/global-setup.ts"],
    // Closes the Chromium a browser test file shared among its users (test/browser/browser.ts).
    setupFiles: ["test/node-setup.ts"],
    testTimeout: 60000,
    hookTimeout: 60000,
    projects: [
      {
        extends: true,
        test: { name: "flows", include: ["test/**/*.test.ts"], exclude: [...NEVER, ...SERIAL], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: "serial", include: SERIAL, exclude: NEVER, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
