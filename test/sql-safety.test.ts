/**
 * All SQL uses bound parameters. This scans the server code for the ways
 * user input could end up inside SQL text:
 *   - a template literal with `${…}` or a `+` concatenation as the SQL of
 *     `sql.exec(…)`;
 *   - `sql.exec(variable, …)` where the variable is not marked `// sql-safe:`
 *     on the line before its declaration (a reviewed, fixed-fragment build);
 *   - drizzle's escape hatches `sql.raw(` and `sql.identifier(`.
 * Drizzle's query builder and `sql\`…${value}\`` templates bind values as
 * parameters, so they are fine.
 */
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const DIRS = ["worker", "durable-objects", "ops"];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && e.name !== "migrations") out.push(...sources(p));
    } else if (/\.(ts|mjs|js)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

export function findUnsafeSql(file: string, text: string): string[] {
  const problems: string[] = [];
  const lines = text.split("\n");
  const rel = path.relative(ROOT, file);
  const execRe = /\.exec(?:<[^>]*>)?\(\s*/g;
  for (let m; (m = execRe.exec(text)); ) {
    const after = text.slice(m.index + m[0].length);
    const line = text.slice(0, m.index).split("\n").length;
    if (after.startsWith("`")) {
      const end = after.indexOf("`", 1);
      if (after.slice(0, end).includes("${")) problems.push(`${rel}:${line}: template literal with \${} as SQL`);
      continue;
    }
    if (after.startsWith('"') || after.startsWith("'")) {
      const q = after[0];
      const end = after.indexOf(q, 1);
      if (/^\s*\+/.test(after.slice(end + 1))) problems.push(`${rel}:${line}: string concatenation as SQL`);
      continue;
    }
    const ident = /^([A-Za-z_$][\w$]*)\s*[,)]/.exec(after);
    if (ident) {
      // Regex .exec(someString) is not SQL: only storage.sql / sql.exec counts.
      const before = text.slice(Math.max(0, m.index - 20), m.index);
      if (!/sql$/.test(before)) continue;
      const decl = lines.findIndex((l) => new RegExp(`\\b(const|let)\\s+${ident[1]}\\b`).test(l));
      if (decl < 1 || !/\/\/ sql-safe:/.test(lines[decl - 1])) problems.push(`${rel}:${line}: SQL from variable ${ident[1]} without a "// sql-safe:" review note`);
    }
  }
  for (const [i, l] of lines.entries()) if (/\bsql\.(raw|identifier)\(/.test(l)) problems.push(`${rel}:${i + 1}: drizzle sql.raw/sql.identifier`);
  return problems;
}

describe("SQL safety", () => {
  it("no string-built SQL anywhere in the server code", () => {
    const files = DIRS.flatMap((d) => (fs.existsSync(path.join(ROOT, d)) ? sources(path.join(ROOT, d)) : []));
    expect(files.length).toBeGreaterThan(10);
    const problems = files.flatMap((f) => findUnsafeSql(f, fs.readFileSync(f, "utf8")));
    expect(problems).toEqual([]);
  });

  it("the scanner itself catches the unsafe shapes", () => {
    const bad = [
      'storage.sql.exec(`SELECT * FROM messages WHERE text = "${q}"`)',
      'this.storage.sql.exec("SELECT * FROM t WHERE a = " + value)',
      "const q = build(x);\nstorage.sql.exec(q, 1)",
      "db.run(sql.raw(userInput))",
    ];
    for (const b of bad) expect(findUnsafeSql(path.join(ROOT, "x.ts"), b).length).toBeGreaterThan(0);
    expect(findUnsafeSql(path.join(ROOT, "x.ts"), 'storage.sql.exec("SELECT * FROM t WHERE a = ?", v)')).toEqual([]);
    expect(findUnsafeSql(path.join(ROOT, "x.ts"), "// sql-safe: fixed\nconst q = `SELECT 1`;\nstorage.sql.exec(q)")).toEqual([]);
  });
});
