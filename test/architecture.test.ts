/**
 * Rules of the code's shape that a reviewer should not have to remember.
 *
 * - Layers: who may import whom (LAYERS below). protocol/ is the wire format every
 *   side shares, so it imports nothing of ours; the SDK speaks only the protocol;
 *   the web client uses only the SDK and the protocol; the objects never reach up
 *   into the Worker (which imports them) or into the web client; ops/ (Node) never
 *   imports the web client's source (it builds it, through Vite).
 * - Objects are reached through one module (durable-objects/shared/objects.ts):
 *   an id from outside is checked there before any stub exists, because a stub
 *   for a new name creates that object's file (see the module's comment).
 * - The Worker takes nothing but types from an object class's file: helpers both
 *   sides need live in plain modules (durable-objects/shared/, e.g. the file
 *   store), so a route never pulls a class file in for a function, and the class
 *   files can be split without touching the Worker.
 *
 * Imports are read with TypeScript's parser, not with patterns: static imports and
 * re-exports (`export … from`), dynamic `import()`, `require()`, and import types
 * (`import("…").T`, also inside JSDoc), each resolved against its file's folder.
 */
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(import.meta.dirname, "..");

type Layer = "protocol" | "sdk" | "web" | "worker" | "durable-objects" | "ops";

/**
 * What each layer may import of ours (`may`), or must not (`mustNot`). A layer always
 * imports itself. Packages from node_modules are not ours and not checked here.
 */
const LAYERS: Record<Layer, { may: Layer[] } | { mustNot: string[] }> = {
  protocol: { may: [] },
  sdk: { may: ["protocol"] },
  web: { may: ["sdk", "protocol"] },
  "durable-objects": { mustNot: ["worker", "web"] },
  // web/dist/assets.gen.ts is the built client, which the Worker embeds: not web source.
  ops: { mustNot: ["web"] },
  worker: { mustNot: [] },
};

/** The layer a checkout-relative path belongs to; null outside them (tests, scripts, config). */
function layerOf(rel: string): Layer | null {
  const top = rel.split("/")[0];
  if (top === "web") return rel.startsWith("web/dist/") ? null : "web";
  return (Object.keys(LAYERS) as Layer[]).includes(top as Layer) ? (top as Layer) : null;
}

const SOURCE = /\.(ts|tsx|mts|mjs|js)$/;

function sourceFiles(dirs: string[] = Object.keys(LAYERS)): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "dist") walk(p);
      } else if (SOURCE.test(e.name)) out.push(path.relative(ROOT, p).split(path.sep).join("/"));
    }
  };
  for (const d of dirs) walk(path.join(ROOT, d));
  return out.sort();
}

interface Import {
  /** the file that imports */
  from: string;
  /** as written */
  specifier: string;
  /** checkout-relative, for a relative or absolute specifier; null for a package */
  target: string | null;
  typeOnly: boolean;
  line: number;
}

const EXTENSIONS = ["", ".ts", ".tsx", ".mts", ".mjs", ".js", ".d.ts", ".d.mts", "/index.ts", "/index.tsx", "/index.mjs", "/index.js"];

/** A relative or absolute specifier → the file it names (checkout-relative; as written when no file matches). */
function resolve(fromFile: string, specifier: string): string | null {
  if (!specifier.startsWith(".") && !specifier.startsWith("/")) return null;
  const base = path.resolve(ROOT, path.dirname(fromFile), specifier);
  const hit = EXTENSIONS.map((e) => base + e).find((p) => fs.existsSync(p) && fs.statSync(p).isFile()) ?? base;
  return path.relative(ROOT, hit).split(path.sep).join("/");
}

/** Every import of one file, read from its syntax tree (JSDoc included). */
function importsOf(rel: string, text = fs.readFileSync(path.join(ROOT, rel), "utf8")): Import[] {
  const kind = rel.endsWith(".tsx") ? ts.ScriptKind.TSX : /\.(mjs|js)$/.test(rel) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, kind);
  const found: Import[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, typeOnly: boolean) => {
    const specifier = spec && (ts.isStringLiteral(spec) || ts.isNoSubstitutionTemplateLiteral(spec)) ? spec.text : null;
    // A computed specifier cannot be checked: it counts as an import of something unknown.
    const written = specifier ?? `<computed: ${spec?.getText(sf) ?? "?"}>`;
    found.push({
      from: rel,
      specifier: written,
      target: specifier === null ? "<computed>" : resolve(rel, specifier),
      typeOnly,
      line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
    });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypes = !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier, !!clause && (clause.isTypeOnly || (!clause.name && allNamedTypes)));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause;
      const allTypes = !!named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier, node.isTypeOnly || allTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    }
    for (const doc of (node as { jsDoc?: ts.Node[] }).jsDoc ?? []) ts.forEachChild(doc, visit);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Each import that breaks LAYERS, as "file:line imports target (layer → layer)". */
function layeringViolations(files: string[] = sourceFiles()): string[] {
  const out: string[] = [];
  for (const file of files) {
    const layer = layerOf(file);
    if (!layer) continue;
    const rule = LAYERS[layer];
    for (const imp of importsOf(file)) {
      if (imp.target === null) continue; // a package
      const to = imp.target === "<computed>" ? null : layerOf(imp.target);
      if (to === layer) continue;
      const ok =
        imp.target !== "<computed>" &&
        ("may" in rule ? to === null ? !isOurs(imp.target) : rule.may.includes(to) : !rule.mustNot.some((l) => imp.target!.startsWith(`${l}/`)));
      if (!ok) out.push(`${file}:${imp.line} imports ${imp.specifier} (${layer} → ${to ?? imp.target})`);
    }
  }
  return out;
}

/** Outside the layers, still ours: anything in the checkout but its installed packages. */
function isOurs(target: string) {
  return !target.startsWith("..") && !target.split("/").includes("node_modules");
}

describe("architecture", () => {
  it("keeps the layers: protocol/ imports nothing of ours, sdk/ only protocol/, web/ only sdk/ and protocol/, durable-objects/ never worker/ or web/, ops/ never web/", () => {
    expect(layeringViolations()).toEqual([]);
  });

  it("reads every kind of import, so a forbidden one cannot hide in a form the check skips", () => {
    const text = [
      'import { a } from "../worker/a";',
      'import type { B } from "../worker/b";',
      'import { type C } from "../worker/c";',
      'export { d } from "../web/src/d";',
      'export * from "../sdk/e";',
      'const f = await import("../worker/f");',
      "const g = await import(`../worker/${name}`);",
      'const h = require("../worker/h");',
      'let i: import("../worker/i").I;',
      '/** @type {import("../worker/j").J} */ let j;',
      'import "../worker/k";',
      'import z from "zod";',
      '// import { no } from "../worker/comment";',
      'const s = "import { no } from \'../worker/string\'";',
    ].join("\n");
    const found = importsOf("durable-objects/example.ts", text).map((i) => [i.specifier, i.target, i.typeOnly]);
    expect(found).toEqual([
      ["../worker/a", "worker/a", false],
      ["../worker/b", "worker/b", true],
      ["../worker/c", "worker/c", true],
      ["../web/src/d", "web/src/d", false],
      ["../sdk/e", "sdk/e", false],
      ["../worker/f", "worker/f", false],
      ["<computed: `../worker/${name}`>", "<computed>", false],
      ["../worker/h", "worker/h", false],
      ["../worker/i", "worker/i", true],
      ["../worker/j", "worker/j", true],
      ["../worker/k", "worker/k", false],
      ["zod", null, false],
    ]);
  });

  it("makes Durable Object stubs from names in one module only", () => {
    const files = sourceFiles(["worker", "durable-objects", "protocol", "sdk", "web/src"]);
    const offenders = files.filter((f) => f !== "durable-objects/shared/objects.ts" && /\bidFromName\s*\(/.test(fs.readFileSync(path.join(ROOT, f), "utf8")));
    expect(offenders).toEqual([]);
  });

  it("imports only types from object class files into the Worker (worker/index.ts exports the classes)", () => {
    const classFile = /^durable-objects\/[^/]+\/[^/]+-object(\.ts)?$/;
    const offenders = sourceFiles(["worker"])
      .filter((f) => f !== "worker/index.ts")
      .flatMap((f) => importsOf(f))
      .filter((i) => i.target && classFile.test(i.target) && !i.typeOnly)
      .map((i) => `${i.from}:${i.line} imports ${i.specifier}`);
    expect(offenders).toEqual([]);
  });
});
