/**
 * `npm run dev`: the Worker under `wrangler dev` (miniflare), offline, with live reload.
 *
 * Uses the same node description as `npm start` for the listen port and the data
 * directory (state goes to `<dataDir>/wrangler`, apart from a self-hosted node's
 * `<dataDir>/objects`). Differences from `npm start`, by design of wrangler:
 * bindings come from wrangler.toml (LIMITS: the node's defaults, not the node
 * description's `limits`; files go to a local R2 simulation under the same state folder
 * instead of `<dataDir>/files`), and the listen host is always 127.0.0.1. wrangler
 * bundles the Worker from the sources itself;
 * the web client it embeds (web/dist/assets.gen.ts) comes from `npm run build`, run here
 * first when the sources changed since the last one.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { adminPasswordProblem } from "./admin-password.mjs";
import { buildToolsInstalled, ensureBuild, repoRoot } from "./dist.mjs";
import { loadNodeConfig } from "./node-config.mjs";
import { newSetupToken, printSetupHint } from "./setup-hint.mjs";
import { newInstanceToken, shellExitCode, waitForHealthy } from "./workerd.mjs";

let config;
try {
  config = loadNodeConfig();
} catch (err) {
  console.error(`outpost dev: bad node configuration: ${/** @type {Error} */ (err).message}`);
  process.exit(2);
}

const setupToken = newSetupToken();
const instance = newInstanceToken();
const adminPassword = process.env.OUTPOST_ADMIN_PASSWORD || undefined;
if (adminPassword) {
  const problem = adminPasswordProblem(adminPassword);
  if (problem) {
    console.error(`outpost dev: OUTPOST_ADMIN_PASSWORD is too weak: ${problem}; set a stronger one, or unset it to create the admin through the setup link`);
    process.exit(2);
  }
}
const url = `http://127.0.0.1:${config.port}`;

const wrangler = path.join(repoRoot, "node_modules", ".bin", "wrangler");
if (!fs.existsSync(wrangler) || !buildToolsInstalled()) {
  console.error("outpost dev: `npm run dev` needs the dev dependencies (wrangler, vite, esbuild): run `npm install` first; a production node runs with `npm start`");
  process.exit(1);
}
try {
  await ensureBuild({ log: (line) => console.log(line.replace(/^outpost:/, "outpost dev:")) });
} catch (err) {
  console.error(`outpost dev: the web client did not build: ${/** @type {Error} */ (err).message}`);
  process.exit(1);
}

const args = [
  "dev",
  "--ip", "127.0.0.1",
  "--port", String(config.port),
  "--persist-to", path.join(config.dataDir, "wrangler"),
  "--var", `SETUP_TOKEN:${setupToken}`,
  "--var", `NODE_NAME:${config.name}`,
  "--var", `INSTANCE_TOKEN:${instance}`,
];
if (adminPassword) args.push("--var", `ADMIN_PASSWORD:${adminPassword}`);

const child = spawn(wrangler, args, {
  cwd: repoRoot,
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
});

child.on("error", (err) => {
  console.error(`outpost dev: could not run wrangler (${wrangler}): ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(shellExitCode(code, signal)));
for (const sig of /** @type {const} */ (["SIGINT", "SIGTERM"])) process.on(sig, () => child.kill(sig));

try {
  // wrangler bundles and boots miniflare first: slower than a self-hosted start.
  await waitForHealthy(url, { timeoutMs: 60000, child, instance });
  await printSetupHint(url, setupToken, { adminPassword });
  console.log(`Outpost dev node "${config.name}" (wrangler dev) listening on ${url}, state in ${path.join(config.dataDir, "wrangler")}`);
} catch (err) {
  console.error(`outpost dev: ${/** @type {Error} */ (err).message}`);
}
