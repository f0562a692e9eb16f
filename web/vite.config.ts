/**
 * The web client build: `npm run build:web` → web/dist/ (then scripts/gen-web-assets.mjs
 * turns it into a module the Worker bundles). No inline scripts or styles: the node's
 * CSP is `script-src 'self'; style-src 'self'`.
 */
import { defineConfig, parseSync, type Plugin } from "vite";

type Node = { type: string; callee?: Node; object?: Node; name?: string };

/**
 * Marks each schema that protocol/ builds at the top of a module (`export const X = z.….…()`)
 * as pure, so one the web client never uses (the node's link and mirror frames, admin request
 * bodies) is dropped instead of being built at start-up in the first screen's chunk (about
 * 4 KB gzipped). zod's functions carry no such marks, and a method chain cannot be marked
 * call by call, so the whole initialiser becomes `/* @__PURE__ *\/ (() => …)()`. (Naming `z`
 * a pure function for the whole build would also match minified helpers called `z` in other
 * packages, preact's among them, and dropped the first render.)
 */
function pureSchemas(): Plugin {
  const rootIsZod = (e: Node | null | undefined): boolean => {
    for (let n = e; n; ) {
      if (n.type === "CallExpression") n = n.callee;
      else if (n.type === "MemberExpression") n = n.object;
      else return n.type === "Identifier" && n.name === "z";
    }
    return false;
  };
  return {
    name: "outpost-pure-schemas",
    transform(code, id) {
      if (!/[\\/]protocol[\\/][^\\/]+\.ts$/.test(id)) return null;
      const edits: [number, string][] = [];
      for (const stmt of parseSync(id, code).program.body) {
        const decl = stmt.type === "ExportNamedDeclaration" ? stmt.declaration : stmt;
        if (decl?.type !== "VariableDeclaration") continue;
        for (const d of decl.declarations) {
          if (d.init?.type !== "CallExpression" || !rootIsZod(d.init)) continue;
          edits.push([d.init.start, "/* @__PURE__ */ (() => "], [d.init.end, ")()"]);
        }
      }
      let out = code;
      for (const [at, text] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, at) + text + out.slice(at);
      return { code: out, map: null };
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [pureSchemas()],
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // A data: URL for a small asset would need img-src data: and inline <style> is refused.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        // zod and the module that switches off its `new Function` probe (csp-safe-zod.ts) share
        // one chunk, so the switch runs before any chunk that builds a schema is evaluated. In
        // the automatic split the switch sat in the entry chunk, which runs after the shared
        // chunk it imports: every schema built there probed, and the CSP reported a violation.
        manualChunks: (id) => (/[\\/]node_modules[\\/]zod[\\/]/.test(id) || /csp-safe-zod\.ts$/.test(id) ? "zod" : undefined),
      },
    },
  },
  server: {
    proxy: { "/api": { target: process.env.OUTPOST_URL ?? "http://127.0.0.1:8787", ws: true } },
  },
});
