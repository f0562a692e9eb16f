/**
 * Rules of the code's shape that a reviewer should not have to remember.
 *
 * - Objects are reached through one module (durable-objects/shared/objects.ts):
 *   an id from outside is checked there before any stub exists, because a stub
 *   for a new name creates that object's file (see the module's comment).
 * - The Worker takes nothing but types from an object class's file: helpers both
 *   sides need live in plain modules (durable-objects/shared/, e.g. the file
 *   store), so a route never pulls a class file in for a function, and the class
 *   files can be split without touching the Worker.
 */
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const SOURCE_DIRS = ["worker", "durable-objects", "protocol", "sdk", "web/src"];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "dist") walk(p);
      } else if (/\.(ts|tsx|mts|mjs|js)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(path.relative(ROOT, p));
    }
  };
  for (const d of SOURCE_DIRS) walk(path.join(ROOT, d));
  return out;
}

describe("architecture", () => {
  it("makes Durable Object stubs from names in one module only", () => {
    const offenders = sourceFiles().filter((f) => f !== "durable-objects/shared/objects.ts" && /\bidFromName\s*\(/.test(fs.readFileSync(path.join(ROOT, f), "utf8")));
    expect(offenders).toEqual([]);
  });

  it("imports only types from object class files into the Worker (worker/index.ts exports the classes)", () => {
    const classFile = /^durable-objects\/[^/]+\/[^/]+-object$/;
    const offenders: string[] = [];
    for (const f of sourceFiles().filter((f) => f.startsWith("worker/") && f !== "worker/index.ts")) {
      const text = fs.readFileSync(path.join(ROOT, f), "utf8");
      for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?\bfrom\s+"([^"]+)"/gms)) {
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(f), m[3]));
        if (classFile.test(target) && !m[2]) offenders.push(`${f}: ${m[0].trim().split("\n")[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
