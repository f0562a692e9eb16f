/**
 * docs/API.md stays hand-written (it explains), but it cannot drift from the
 * protocol: its REST table has exactly one row per route of protocol/api.ts
 * (which the Worker is held to: test/workers/routes.test.ts), each row names
 * the route's body or query schema and its answer's schema, every schema a row
 * names exists, and every frame type of both sockets is described.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import * as protocol from "../../protocol/index";
import { ROUTES, type Route } from "../../protocol/api";
import { ClientRoomFrame, ServerBatch, ServerRoomFrame } from "../../protocol/frames";
import { ClientDeviceFrame, ServerDeviceFrame } from "../../protocol/device";

const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../../docs/API.md"), "utf8");

/** The name docs use for a schema: its export name without "Schema" (`RoomSchema` → `Room`, `LoginBody` stays). */
function docName(schema: z.ZodType): string {
  const names = Object.entries(protocol)
    .filter(([, v]) => v === schema)
    .map(([k]) => k);
  const name = names.find((n) => n.endsWith("Schema")) ?? names[0];
  if (!name) throw new Error("a schema in protocol/api.ts that protocol/index.ts does not export");
  return name.replace(/Schema$/, "");
}
const isSchemaName = (name: string) => {
  const exported = (protocol as Record<string, unknown>)[`${name}Schema`] ?? (protocol as Record<string, unknown>)[name];
  return !!exported && typeof (exported as { safeParse?: unknown }).safeParse === "function";
};

/** The REST section's table: route key → [body/query cell, answer cell]. */
function restRows(): Map<string, { request: string; answer: string; line: string }> {
  const section = doc.slice(doc.indexOf("\n## REST\n"), doc.indexOf("\n## ", doc.indexOf("\n## REST\n") + 1));
  const rows = new Map<string, { request: string; answer: string; line: string }>();
  for (const line of section.split("\n").filter((l) => l.startsWith("| `"))) {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    expect(cells, line).toHaveLength(3);
    const m = /^`(GET|POST|PUT|PATCH|DELETE) (\/\S*)`/.exec(cells[0]);
    expect(m, `a row must start with one \`METHOD /path\`: ${line}`).not.toBeNull();
    const key = `${m![1]} ${m![2].replace(/\{(\w+)\}/g, ":$1")}`;
    expect(rows.has(key), `two rows for ${key}`).toBe(false);
    rows.set(key, { request: cells[1], answer: cells[2], line });
  }
  return rows;
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

describe("docs/API.md against protocol/api.ts", () => {
  const rows = restRows();

  it("has one REST row per route, and no row for a route that does not exist", () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(ROUTES).sort());
  });

  it.each(Object.entries(ROUTES))("%s: its row names the answer's schema and the body or query it reads", (key, route: Route) => {
    const row = rows.get(key);
    if (!row) return; // reported by the test above
    const answers = backticked(row.answer);
    if (route.answer === "bytes") expect(row.answer).toMatch(/\bbytes\b/);
    else if (route.answer === "websocket") expect(row.answer).toMatch(/\bWebSocket\b/);
    else if (route.answer === "redirect") expect(row.answer).toMatch(/\bredirect\b/);
    else expect(answers, row.line).toContain(docName(route.answer));
    const requestSchemas = backticked(row.request).filter((w) => /^[A-Z][a-z]\w*(Body|Query)$/.test(w));
    expect(requestSchemas, row.line).toEqual([route.body, route.query].filter((s) => s !== undefined).map((s) => docName(s)));
  });

  it("names only schemas that exist in protocol/", () => {
    const named = [...rows.values()].flatMap((r) => [...backticked(r.request), ...backticked(r.answer)]).filter((w) => /^[A-Z][a-z][A-Za-z]*$/.test(w));
    expect(named.length).toBeGreaterThan(40);
    expect(named.filter((n) => !isSchemaName(n))).toEqual([]);
    expect(isSchemaName("ErrorBody")).toBe(true);
  });

  it("describes every frame type of both sockets", () => {
    const types = [ServerRoomFrame, ClientRoomFrame, ServerDeviceFrame, ClientDeviceFrame].flatMap((u) =>
      (u.options as z.ZodType[]).map((o) => ((o.def as unknown as { shape: { type: z.ZodType } }).shape.type.def as unknown as { values: string[] }).values[0]),
    );
    types.push((ServerBatch.shape.type.def as unknown as { values: string[] }).values[0]);
    const missing = [...new Set(types)].filter((t) => !new RegExp("`" + t.replace(/\./g, "\\.") + "[ `]").test(doc));
    expect(missing).toEqual([]);
  });
});
