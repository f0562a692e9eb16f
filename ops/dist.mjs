/**
 * The build a node runs: `dist/worker.js`, one ES module holding the Worker, the
 * web client and every generated module, beside `dist/build.json`, the stamp of
 * the sources it was made from. `npm run build` (ops/build.mjs) makes both; this
 * module only reads them, so `npm start` needs no build tool when a build is
 * there: a branch office installs the production dependencies only
 * (`npm ci --omit=dev`) and runs the dist/ a build machine made (README, "Deploying
 * a node").
 *
 * The stamp is a hash per file of what goes into the build (BUILD_INPUTS). A build
 * is current when the same files hash the same; comparing contents, not times,
 * keeps a copied or freshly cloned checkout (new mtimes, same files) current.
 *
 * @example
 *   const bundlePath = await ensureBuild({ log: console.log });   // builds only if needed and possible
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DIST_DIR = path.join(repoRoot, "dist");
export const BUNDLE_PATH = path.join(DIST_DIR, "worker.js");
export const STAMP_PATH = path.join(DIST_DIR, "build.json");

/**
 * What the build is made from, relative to the checkout: the source folders the
 * Worker and the web client are bundled from, the dependency versions, and the two
 * scripts that build. Folders named `dist` or `node_modules` and dot-files are skipped
 * (build output, installed packages, editor and tool state).
 */
export const BUILD_INPUTS = Object.freeze([
  "worker",
  "durable-objects",
  "protocol",
  "sdk",
  "web",
  "package.json",
  "package-lock.json",
  "ops/build.mjs",
  "scripts/build-web.mjs",
]);

/**
 * @typedef {object} BuildStamp
 * @property {1} format
 * @property {string} version  package.json's version when it was built
 * @property {string} builtAt  ISO time
 * @property {Record<string, string>} files  checkout-relative path → SHA-256 of its bytes (base64url)
 */

/**
 * The hash of every build input as it is now.
 *
 * @param {string} [root]
 * @returns {Record<string, string>}
 */
export function hashInputs(root = repoRoot) {
  /** @type {Record<string, string>} */
  const files = {};
  /** @param {string} rel */
  const visit = (rel) => {
    const full = path.join(root, rel);
    let stat;
    try {
      stat = fs.statSync(full);
    } catch {
      return; // an input the checkout does not have: its absence is what the stamp records
    }
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(full).sort()) {
        if (name.startsWith(".") || name === "dist" || name === "node_modules") continue;
        visit(`${rel}/${name}`);
      }
    } else if (stat.isFile()) {
      files[rel] = createHash("sha256").update(fs.readFileSync(full)).digest("base64url");
    }
  };
  for (const input of BUILD_INPUTS) visit(input);
  return files;
}

/** @returns {BuildStamp | null} the stamp of the build in dist/, or null when there is none (or it is unreadable) */
export function readStamp() {
  try {
    const stamp = JSON.parse(fs.readFileSync(STAMP_PATH, "utf8"));
    return stamp?.format === 1 && typeof stamp.files === "object" ? stamp : null;
  } catch {
    return null;
  }
}

/**
 * Whether dist/ holds a build of the sources as they are now.
 * `changed`: inputs added, removed or edited since that build (sorted).
 *
 * @param {string} [root]
 * @returns {{ state: "current" | "changed" | "missing", changed: string[] }}
 */
export function buildState(root = repoRoot) {
  const stamp = readStamp();
  if (!stamp || !fs.existsSync(BUNDLE_PATH)) return { state: "missing", changed: [] };
  const now = hashInputs(root);
  const names = new Set([...Object.keys(now), ...Object.keys(stamp.files)]);
  const changed = [...names].filter((f) => now[f] !== stamp.files[f]).sort();
  return { state: changed.length ? "changed" : "current", changed };
}

/** Whether this checkout can build (the dev dependencies are installed), without loading them. */
export function buildToolsInstalled() {
  try {
    for (const tool of ["esbuild", "vite"]) import.meta.resolve(tool);
    return true;
  } catch {
    return false;
  }
}

/** @param {string[]} changed */
export function describeChanges(changed) {
  const shown = changed.slice(0, 3).join(", ");
  return changed.length > 3 ? `${shown} and ${changed.length - 3} more` : shown;
}

/**
 * The bundle to run: the one in dist/ when it is current; else a new build, when the
 * build tools are here; else, in a production install, the one in dist/ as it is
 * (with a line saying it is older than the sources). With neither a build nor the
 * tools, throws an Error whose message is the one line to show.
 *
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<string>} the bundle's absolute path
 */
export async function ensureBuild({ log = console.log } = {}) {
  const { state, changed } = buildState();
  if (state === "current") return BUNDLE_PATH;
  if (buildToolsInstalled()) {
    log(state === "missing" ? "outpost: building dist/ (no build yet)" : `outpost: building dist/ (changed since the last build: ${describeChanges(changed)})`);
    const { buildDist } = await import("./build.mjs");
    await buildDist();
    return BUNDLE_PATH;
  }
  if (state === "missing") {
    throw new Error(
      "no build in dist/, and this is a production install (no build tools): run `npm run build` " +
        "on a machine with the dev dependencies (`npm install`) and copy its dist/ here",
    );
  }
  log(
    `outpost: the build in dist/ is older than the sources (${describeChanges(changed)} changed); ` +
      "running it as built — to run the changes, `npm run build` where the dev dependencies are installed",
  );
  return BUNDLE_PATH;
}
