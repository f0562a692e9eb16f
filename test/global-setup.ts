/**
 * Runs once before the node-side tests (vitest.node.config.ts `globalSetup`):
 * bundles the Worker once for the whole run, into a folder of its own, and
 * tells every test process where (OUTPOST_HARNESS_BUNDLE, read by
 * test/harness.ts `buildOnce`) instead of each of the ~90 files that start a
 * node bundling its own copy (~0.7 s of the machine each). The folder is
 * removed after the run. OUTPOST_E2E_BUNDLE, when set, still wins (a
 * deliberately broken build, to see the e2e tests fail).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundleWorker } from "../ops/build.mjs";

export default async function setup(): Promise<() => void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-test-bundle-"));
  process.env.OUTPOST_HARNESS_BUNDLE = await bundleWorker({ outfile: path.join(dir, "worker.js") });
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
