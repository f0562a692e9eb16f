/**
 * Bundle the Worker (`worker/index.ts`) into one ES module, `dist/worker.js`, for
 * self-hosted workerd. Always rebuilds: esbuild takes well under a second.
 *
 * `cloudflare:*` and `node:*` stay imports (workerd provides them); `.sql` files
 * (drizzle migrations) become strings, as wrangler's Text rule does in dev.
 *
 * @example
 *   import { build } from "./build.mjs";
 *   const bundlePath = await build();   // absolute path of dist/worker.js
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { writeCommonPasswords } from "../scripts/common-passwords.mjs";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_ENTRY = path.join(repoRoot, "worker/index.ts");
export const DEFAULT_OUTFILE = path.join(repoRoot, "dist/worker.js");

/**
 * @param {{ entry?: string, outfile?: string, logLevel?: import("esbuild").LogLevel }} [options]
 * @returns {Promise<string>} the absolute path of the bundle
 */
export async function build({ entry = DEFAULT_ENTRY, outfile = DEFAULT_OUTFILE, logLevel = "warning" } = {}) {
  // The Worker imports this generated list; write it here too, so a build never depends
  // on `npm run build:web` having run since the list's package changed.
  writeCommonPasswords();
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    loader: { ".sql": "text" },
    target: "es2022",
    sourcemap: false,
    minify: false,
    logLevel,
  });
  return path.resolve(outfile);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  try {
    const out = await build();
    console.log(`built ${path.relative(process.cwd(), out) || out} in ${Date.now() - started} ms`);
  } catch (err) {
    // esbuild has already printed the located errors.
    if (!err?.errors) console.error(err);
    process.exit(1);
  }
}
