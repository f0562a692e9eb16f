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
  },
  server: {
    proxy: { "/api": { target: process.env.OUTPOST_URL ?? "http://127.0.0.1:8787", ws: true } },
  },
});
