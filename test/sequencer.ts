/**
 * The order test files start in: the known long ones first, so that no long file starts
 * last and leaves the other worker idle at the end of its group.
 *
 * vitest already does this from its own cache of the last run's durations, but a fresh
 * clone (CI) has no cache: there it starts the largest files first, and file size says
 * little about time (test/browser/a11y.test.ts is small and takes ~1.5 minutes beside
 * another file). So files named in LONG_FIRST start first, in that order; every other file
 * keeps vitest's order.
 * Groups (`sequence.groupOrder`) and projects keep their order: only files within one
 * group move.
 *
 * LONG_FIRST holds the files of more than ~25 s, from the per-file times of a CI run
 * (`npm test` prints them). A file missing from it only starts later; a name that no
 * longer exists is ignored.
 */
import { BaseSequencer, type TestSpecification } from "vitest/node";

const LONG_FIRST = [
  // inside workerd (vitest.workers.config.ts)
  "test/workers/live-state.test.ts",
  "test/workers/live.test.ts",
  // the node's flows (vitest.node.config.ts, project "flows")
  "test/browser/a11y.test.ts",
  "test/browser/admin.test.ts",
  "test/browser/blns.test.ts",
  "test/browser/audit.test.ts",
  "test/browser/chat.test.ts",
  "test/browser/files-search.test.ts",
  "test/browser/compliance.test.ts",
  // project "pairs"
  "test/faults/authz-matrix.test.ts",
  "test/e2e/crash.test.ts",
  "test/cluster/channel-sends.test.ts",
  "test/cluster/channel.test.ts",
];

export class LongFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const relative = spec.moduleId.slice(spec.project.config.root.length + 1).replaceAll("\\", "/");
      const i = LONG_FIRST.indexOf(relative);
      return i === -1 ? LONG_FIRST.length : i;
    };
    const group = (spec: TestSpecification) => `${spec.project.config.sequence.groupOrder}\0${spec.project.name}`;
    // Array.prototype.sort is stable: files of equal rank keep vitest's order.
    return sorted
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => (group(a.spec) === group(b.spec) ? rank(a.spec) - rank(b.spec) || a.i - b.i : a.i - b.i))
      .map(({ spec }) => spec);
  }
}
