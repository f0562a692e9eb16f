/**
 * The metrics registry alone (durable-objects/shared/metrics.ts): the text
 * format's escaping, counters by label set, gauges read at render time, and
 * histogram buckets (`le` is inclusive, cumulative, +Inf equals the count).
 * The node's own metrics are checked against a real node in test/e2e/metrics.test.ts.
 */
import { describe, expect, it } from "vitest";
import { counter, gauge, histogram, renderMetrics } from "../durable-objects/shared/metrics";

const block = (name: string) =>
  renderMetrics()
    .split("\n")
    .filter((l) => l.startsWith(name) || l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `));

describe("the metrics registry", () => {
  it("counts by label set, escapes label values and help, shows an unlabelled counter at 0 before its first event", () => {
    const c = counter("t_requests_total", "Requests.\nSecond line with \\ backslash.");
    expect(block("t_requests_total")).toEqual(["# HELP t_requests_total Requests.\\nSecond line with \\\\ backslash.", "# TYPE t_requests_total counter", "t_requests_total 0"]);
    c.inc({ route: "/a", code: 'say "hi"\nback\\slash' });
    c.inc({ route: "/a", code: 'say "hi"\nback\\slash' }, 2);
    c.inc({ route: "/b", code: "x" });
    expect(block("t_requests_total").slice(2)).toEqual(['t_requests_total{route="/a",code="say \\"hi\\"\\nback\\\\slash"} 3', 't_requests_total{route="/b",code="x"} 1']);
  });

  it("reads gauges when rendered, one value or labelled values", () => {
    let n = 1;
    gauge("t_depth", "Depth.", () => n);
    gauge("t_by_peer", "By peer.", () => [[{ peer: "shanghai" }, 2] as const].map(([l, v]) => [l, v * n] as [Record<string, string>, number]));
    n = 5;
    expect(block("t_depth").at(-1)).toBe("t_depth 5");
    expect(block("t_by_peer").at(-1)).toBe('t_by_peer{peer="shanghai"} 10');
  });

  it("puts a value equal to a bound in that bucket, renders cumulative buckets, +Inf, _sum and _count", () => {
    const h = histogram("t_latency_seconds", "Latency.", [0.01, 0.1, 1]);
    for (const v of [0.005, 0.01, 0.05, 2]) h.observe(v);
    expect(block("t_latency_seconds").slice(2)).toEqual([
      't_latency_seconds_bucket{le="0.01"} 2',
      't_latency_seconds_bucket{le="0.1"} 3',
      't_latency_seconds_bucket{le="1"} 3',
      't_latency_seconds_bucket{le="+Inf"} 4',
      "t_latency_seconds_sum 2.065",
      "t_latency_seconds_count 4",
    ]);
  });

  it("refuses a name registered twice (two metrics under one name would be one broken series)", () => {
    counter("t_once_total", "Once.");
    expect(() => counter("t_once_total", "Again.")).toThrow(/registered twice/);
  });
});
