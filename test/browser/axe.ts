/**
 * axe-core (Deque's accessibility engine, from the npm registry) run inside a
 * real page. The page's CSP refuses inline scripts, so axe is not added as a
 * <script>: playwright evaluates its source through the DevTools protocol, which
 * the page's CSP does not govern, and the app itself keeps its strict policy.
 *
 * @example
 *   const found = await axeViolations(page);            // serious and critical only
 *   expect(found.map(formatViolation)).toEqual([]);
 */
import { createRequire } from "node:module";
import fs from "node:fs";
import type { Page } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  /** each failing element: its CSS selector and axe's summary of why */
  nodes: { target: string; summary: string }[];
}

/** The violations of impact `serious` or `critical` (WCAG 2.x A/AA and axe's best practices) on the page as it is now. */
export async function axeViolations(page: Page, impacts: readonly string[] = ["serious", "critical"]): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    type AxeResult = { violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] }[] };
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<AxeResult> } }).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(" "), summary: (n.failureSummary ?? "").replace(/\s+/g, " ").trim() })) }));
  });
  return violations.filter((v) => v.impact !== null && impacts.includes(v.impact));
}

/** One line per failing element: readable in a test's diff. */
export function formatViolation(v: AxeViolation): string[] {
  return v.nodes.map((n) => `${v.impact} ${v.id} (${v.help}): ${n.target} — ${n.summary}`);
}
