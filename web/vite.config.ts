/**
 * The web client build: `npm run build:web` → web/dist/ (then scripts/gen-web-assets.mjs
 * turns it into a module the Worker bundles). No inline scripts or styles: the node's
 * CSP is `script-src 'self'; style-src 'self'`.
 */
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
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
