// Node-side tests: the ops layer (node config, capnp) and end-to-end tests against a
// real `workerd serve` (test/harness.ts), in three groups, one after the other:
//
// 1. "flows": the browser flows, the e2e files that only drive one node, and the unit
//    tests, two files at a time. Each file has its own nodes, ports (picked free), data
//    folders and Chromium, and only reads the run's one Worker bundle, so they do not
//    meet. Chromium keeps both cores busy (~2 s of CPU for each new browser context), so
//    a third file at a time gains little (measured: 3 at a time, this group took 8m 34s)
//    and slows every file.
// 2. "pairs": the clusters, crashes and fault files that assert what happens, not how
//    fast: two at a time, without Chromium beside them. One such file alone keeps ~0.7 of
//    the machine's two cores busy (sampled from /proc/stat: the nodes mostly wait on
//    heartbeats, timers and kill -9 restarts).
// 3. "alone": one file at a time, on an otherwise quiet machine: the files that time
//    themselves against the wall clock (a cut noticed within 10 s, 1,000 queued messages
//    within 5 s, sockets closed within 1 s, a rate limit, scroll steps within a frame
//    budget, p99 under a cut), and floods and loads whose figures a report quotes
//    (test/figures.ts, docs/RELIABILITY.md).
// Files start longest first within each group (test/sequencer.ts).
import { defineConfig } from "vitest/config";
import { LongFirst } from "./test/sequencer";

const PAIRS = [
  "test/cluster/**/*.test.ts",
  "test/faults/**/*.test.ts",
  "test/e2e/crash.test.ts",
  "test/e2e/device-login.test.ts",
  "test/e2e/files-crash.test.ts",
  "test/e2e/files-interop.test.ts",
  "test/e2e/hibernation.test.ts",
  "test/e2e/production-install.test.ts",
];
const ALONE = [
  // Timed against the wall clock.
  "test/cluster/cut-under-load.test.ts",
  "test/cluster/links.test.ts",
  "test/cluster/presence.test.ts",
  "test/cluster/visitors.test.ts",
  "test/cluster/delivery.test.ts",
  "test/cluster/channel-batch.test.ts",
  "test/faults/revocation.test.ts",
  "test/e2e/backup.test.ts",
  "test/e2e/retention.test.ts",
  "test/e2e/sign-in-limits.test.ts",
  // Sends at four times a rate limit for 4 s; scroll steps within a frame budget (two
  // files at a time, its median step went 82 → 182 ms of 200).
  "test/e2e/quotas.test.ts",
  "test/browser/virtual.test.ts",
  // Three nodes and Chromium at once.
  "test/browser/cluster.test.ts",
  // Figures docs/RELIABILITY.md quotes that a second file beside them would change: memory and
  // round trips under floods, 300 concurrent admin actions, a node under strace, the chaos
  // schedule (the pairs' figures are counts, and their own durations).
  "test/cluster/chaos.test.ts",
  "test/faults/hostile.test.ts",
  "test/faults/audit-load.test.ts",
  "test/faults/fsync.test.ts",
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
    sequence: { sequencer: LongFirst },
    testTimeout: 60000,
    hookTimeout: 60000,
    projects: [
      {
        extends: true,
        test: { name: "flows", include: ["test/**/*.test.ts"], exclude: [...NEVER, ...PAIRS, ...ALONE], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: "pairs", include: PAIRS, exclude: [...NEVER, ...ALONE], maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: "alone", include: ALONE, exclude: NEVER, maxWorkers: 1, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
