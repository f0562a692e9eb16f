/**
 * A tiny Prometheus registry (text exposition format 0.0.4), module state of
 * the isolate.
 *
 * Why module state works for the whole node: self-hosted workerd runs the
 * Worker and every Durable Object class of the `outpost` service in one
 * isolate (one per process), so a counter a room object bumps is the counter
 * the Worker's `GET /metrics` renders — no RPC, no object woken by a scrape.
 * (The send budget relies on the same fact: docs/ARCHITECTURE.md, Quotas;
 * test/e2e/metrics.test.ts checks it: counters moved by room and user objects
 * are read by the Worker.) Counters start at 0 when the node starts, which
 * Prometheus handles (`rate()` treats a reset as one).
 *
 * Spread over Cloudflare's many isolates each would scrape its own share; the
 * metrics are for a node.
 *
 * @example
 *   const sent = counter("outpost_messages_sent_total", "Messages stored.");
 *   sent.inc();
 *   gauge("outpost_audit_head_age_seconds", "Age of the signed audit checkpoint.", () => ageSeconds());
 *   renderMetrics(); // "# HELP outpost_messages_sent_total Messages stored.\n# TYPE …"
 */

export type Labels = Record<string, string>;

interface Metric {
  readonly name: string;
  render(out: string[]): void;
}

const metrics: Metric[] = [];

function register<M extends Metric>(m: M): M {
  if (metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
  metrics.push(m);
  return m;
}

/** Label values escaped as the format says: backslash, double quote, line feed. */
const escapeValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push(extra);
  if (!pairs.length) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(",")}}`;
}

/** A stable key for a label set (the caller always passes labels in the same order). */
const keyOf = (labels: Labels | undefined) => (labels ? Object.values(labels).join("\u0000") : "");

const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

function header(out: string[], name: string, help: string, type: string): void {
  out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** A counter (only goes up), optionally by labels. Label sets must stay few: routes, codes — never ids. */
export function counter(name: string, help: string): Counter {
  const series = new Map<string, { labels: Labels | undefined; value: number }>();
  register({
    name,
    render(out) {
      header(out, name, help, "counter");
      // A counter with no labels is shown at 0 before its first event, so a dashboard has a series.
      if (!series.size) out.push(`${name} 0`);
      for (const s of series.values()) out.push(`${name}${labelText(s.labels)} ${num(s.value)}`);
    },
  });
  return {
    inc(labels, by = 1) {
      const key = keyOf(labels);
      const s = series.get(key);
      if (s) s.value += by;
      else series.set(key, { labels, value: by });
    },
  };
}

/**
 * A gauge read when scraped: `collect` returns one value, or labelled values.
 * It must be cheap and do no I/O (it runs in the scrape).
 */
export function gauge(name: string, help: string, collect: () => number | Iterable<[Labels, number]>): void {
  register({
    name,
    render(out) {
      header(out, name, help, "gauge");
      const v = collect();
      if (typeof v === "number") out.push(`${name} ${num(v)}`);
      else for (const [labels, value] of v) out.push(`${name}${labelText(labels)} ${num(value)}`);
    },
  });
}

export interface Histogram {
  observe(value: number): void;
}

/** A histogram with fixed upper bounds (`le`), rendered cumulatively with `_sum` and `_count`. */
export function histogram(name: string, help: string, bounds: readonly number[]): Histogram {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let sum = 0;
  register({
    name,
    render(out) {
      header(out, name, help, "histogram");
      let cumulative = 0;
      bounds.forEach((b, i) => {
        cumulative += counts[i];
        out.push(`${name}_bucket${labelText(undefined, ["le", String(b)])} ${cumulative}`);
      });
      cumulative += counts[bounds.length];
      out.push(`${name}_bucket{le="+Inf"} ${cumulative}`, `${name}_sum ${num(sum)}`, `${name}_count ${cumulative}`);
    },
  });
  return {
    observe(value) {
      let i = 0;
      while (i < bounds.length && value > bounds[i]) i++;
      counts[i]++;
      sum += value;
    },
  };
}

/** Every registered metric in the text format (`Content-Type: text/plain; version=0.0.4`). */
export function renderMetrics(): string {
  const out: string[] = [];
  for (const m of metrics) m.render(out);
  return `${out.join("\n")}\n`;
}
