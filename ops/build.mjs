/**
 * `npm run build`: the build a node runs, in dist/ (see ops/dist.mjs):
 *
 *   web client (Vite → web/dist/, then web/dist/assets.gen.ts)
 *   → the Worker bundled with it into dist/worker.js (esbuild)
 *   → dist/build.json, the stamp of the sources it was made from.
 *
 * `npm run build -- --if-changed` does nothing when dist/ is current (the test
 * scripts run it first, so the web client is built once per change, not once per
 * suite). Needs the dev dependencies; running a build needs only the production ones.
 *
 * @example
 *   import { bundleWorker } from "./build.mjs";
 *   await bundleWorker({ outfile: "/tmp/x/worker.js" });   // just the bundle, from the current web build
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { buildWeb, ASSETS_MODULE } from "../scripts/build-web.mjs";
import { BUNDLE_PATH, STAMP_PATH, buildState, describeChanges, hashInputs, repoRoot } from "./dist.mjs";

export { repoRoot };
export const DEFAULT_ENTRY = path.join(repoRoot, "worker/index.ts");

/**
 * Bundle the Worker into one ES module for workerd. `cloudflare:*` and `node:*` stay
 * imports (workerd provides them); `.sql` files (drizzle migrations) become strings, as
 * wrangler's Text rule does in dev. The web client comes from web/dist/assets.gen.ts
 * as it is: `buildDist` rebuilds it first.
 *
 * @param {{ entry?: string, outfile: string, logLevel?: import("esbuild").LogLevel }} options
 * @returns {Promise<string>} the absolute path of the bundle
 */
export async function bundleWorker({ entry = DEFAULT_ENTRY, outfile, logLevel = "warning" }) {
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

/**
 * The whole build, into dist/. The bundle is written under a temporary name and renamed,
 * and the stamp last: a build that fails half-way leaves the previous build or none,
 * never a stamp that vouches for a bundle it did not make.
 *
 * @param {{ quietWeb?: boolean }} [options]
 * @returns {Promise<{ bundlePath: string, webFiles: number, bytes: number }>}
 */
export async function buildDist({ quietWeb = true } = {}) {
  // Hashed before building: a source edited while this runs makes the next start build again.
  const files = hashInputs();
  const { files: webFiles } = await buildWeb({ quiet: quietWeb });
  fs.mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  const tmp = `${BUNDLE_PATH}.tmp-${process.pid}`;
  await bundleWorker({ outfile: tmp });
  fs.renameSync(tmp, BUNDLE_PATH);
  const version = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;
  /** @type {import("./dist.mjs").BuildStamp} */
  const stamp = { format: 1, version, builtAt: new Date().toISOString(), files };
  fs.writeFileSync(`${STAMP_PATH}.tmp-${process.pid}`, JSON.stringify(stamp, null, 1) + "\n");
  fs.renameSync(`${STAMP_PATH}.tmp-${process.pid}`, STAMP_PATH);
  return { bundlePath: BUNDLE_PATH, webFiles, bytes: fs.statSync(BUNDLE_PATH).size };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const { state, changed } = buildState();
  // The test scripts need the generated web module too (wrangler bundles the sources).
  if (process.argv.includes("--if-changed") && state === "current" && fs.existsSync(ASSETS_MODULE)) {
    console.log("build: dist/ is current");
    process.exit(0);
  }
  if (state === "changed") console.log(`build: changed since the last build: ${describeChanges(changed)}`);
  try {
    const { webFiles, bytes } = await buildDist();
    console.log(
      `build: dist/worker.js (${(bytes / 1024 / 1024).toFixed(1)} MB, web client ${webFiles} files) in ${Date.now() - started} ms`,
    );
  } catch (err) {
    // esbuild and Vite have already printed the located errors.
    if (!(/** @type {{ errors?: unknown }} */ (err)?.errors)) console.error(err);
    console.error("build: failed");
    process.exit(1);
  }
}
