/**
 * `npm test`: every suite, in order, each with its duration, then the slowest test
 * files (from vitest's JSON report), then one closing line `N passed, N failed`
 * summed over all of them (CI reads that line; the exit code says the rest).
 *
 *   1. vitest.workers.config.ts: the Worker and Durable Objects inside workerd (miniflare)
 *   2. vitest.node.config.ts:    the ops layer and end-to-end tests against real `workerd serve`
 *
 * Extra arguments go to every vitest run (e.g. `npm test -- -t "recall"`).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./build.mjs";

const SUITES = [
  { name: "workers", config: "vitest.workers.config.ts" },
  { name: "node", config: "vitest.node.config.ts" },
];

const vitest = path.join(repoRoot, "node_modules", ".bin", "vitest");
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-test-report-"));
const extraArgs = process.argv.slice(2);

let passed = 0;
let failed = 0;
let ok = true;
/** every test file's duration, for the slowest-files list at the end @type {{ suite: string, file: string, ms: number }[]} */
const fileTimes = [];
/** @type {{ name: string, ms: number }[]} */
const suiteTimes = [];
const started = Date.now();

/** 754_000 → "12m 34s"; 4_200 → "4.2s" @param {number} ms */
function duration(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

for (const suite of SUITES) {
  if (!fs.existsSync(path.join(repoRoot, suite.config))) {
    console.error(`\n[test] ${suite.config} is missing: counting the ${suite.name} suite as failed`);
    failed += 1;
    ok = false;
    continue;
  }
  const reportFile = path.join(reportDir, `${suite.name}.json`);
  console.log(`\n[test] ${suite.name}: vitest run --config ${suite.config}`);
  const suiteStarted = Date.now();
  const run = spawnSync(
    vitest,
    ["run", "--config", suite.config, "--reporter=default", "--reporter=json", `--outputFile.json=${reportFile}`, ...extraArgs],
    { cwd: repoRoot, stdio: "inherit" },
  );
  const suiteMs = Date.now() - suiteStarted;
  suiteTimes.push({ name: suite.name, ms: suiteMs });

  let report = null;
  try {
    report = JSON.parse(fs.readFileSync(reportFile, "utf8"));
  } catch {
    // vitest died before writing its report (config error, crash): counted below.
  }
  const suitePassed = report?.numPassedTests ?? 0;
  let suiteFailed = report?.numFailedTests ?? 0;
  const exitedBadly = run.status !== 0 || run.error;
  // A file that fails to load, or a run that crashes, fails no test by itself: count it,
  // so the closing line never says "0 failed" for a red run.
  if (exitedBadly && suiteFailed === 0) suiteFailed = Math.max(1, report?.numFailedTestSuites ?? 0);
  if (exitedBadly) ok = false;
  passed += suitePassed;
  failed += suiteFailed;
  // vitest's JSON report (jest's format): each test file with its start and end time.
  for (const file of report?.testResults ?? []) {
    if (typeof file.startTime === "number" && typeof file.endTime === "number") {
      fileTimes.push({ suite: suite.name, file: path.relative(repoRoot, file.name), ms: file.endTime - file.startTime });
    }
  }
  console.log(`[test] ${suite.name}: ${suitePassed} passed, ${suiteFailed} failed in ${duration(suiteMs)}${run.error ? ` (${run.error.message})` : ""}`);
}

fs.rmSync(reportDir, { recursive: true, force: true });
console.log(`\n[test] durations: ${suiteTimes.map((s) => `${s.name} ${duration(s.ms)}`).join(", ")}; all ${duration(Date.now() - started)}`);
if (fileTimes.length) {
  // Files of one suite may run side by side (the workers suite runs several at once), so a
  // file's time is its own wall clock, not its share of the suite's.
  console.log("[test] slowest test files:");
  for (const f of fileTimes.sort((a, b) => b.ms - a.ms).slice(0, 10)) console.log(`  ${duration(f.ms).padStart(8)}  ${f.file} (${f.suite})`);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(ok && failed === 0 ? 0 : 1);
