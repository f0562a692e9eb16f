/**
 * `npm start`: run this machine's Outpost node in self-hosted workerd.
 *
 *   build → read the node description → write <dataDir>/.workerd/outpost.capnp (and sweep
 *   uploads a crash left half-written) →
 *   workerd serve → wait for /healthz → print where it is (and the first-run setup link).
 *
 * Environment: OUTPOST_CONFIG, OUTPOST_NODE, OUTPOST_LISTEN, OUTPOST_DATA (see
 * ops/node-config.mjs); OUTPOST_ADMIN_PASSWORD, if set, is handed to the Worker
 * (which then creates the admin account itself, so no setup link is printed);
 * OUTPOST_VERBOSE=1 runs workerd with --verbose (JavaScript stacks of uncaught errors).
 * Every start makes a new setup token: a leaked link stops working on restart.
 */
import os from "node:os";
import { build } from "./build.mjs";
import { loadNodeConfig, writeWorkerdFiles } from "./node-config.mjs";
import { newSetupToken, printSetupHint } from "./setup-hint.mjs";
import { spawnWorkerd, stopWorkerd, waitForHealthy } from "./workerd.mjs";

const HEALTH_TIMEOUT_MS = 20000;
const STOP_GRACE_MS = 5000;

let config;
try {
  config = loadNodeConfig();
} catch (err) {
  console.error(`outpost: bad node configuration: ${err.message}`);
  process.exit(2);
}

let bundlePath;
try {
  bundlePath = await build();
} catch (err) {
  if (!err?.errors) console.error(err);
  console.error("outpost: the Worker did not build");
  process.exit(1);
}

const { configPath, sweptUploads } = writeWorkerdFiles(config, { bundlePath });
if (sweptUploads.removed.length > 0) {
  const mb = (sweptUploads.bytes / 1024 / 1024).toFixed(1);
  console.log(`outpost: removed ${sweptUploads.removed.length} unfinished upload(s) (${mb} MB) left by an earlier crash`);
}
const setupToken = newSetupToken();
const adminPassword = process.env.OUTPOST_ADMIN_PASSWORD || undefined;

const env = { ...process.env, OUTPOST_SETUP_TOKEN: setupToken };
if (adminPassword) env.OUTPOST_ADMIN_PASSWORD = adminPassword;
else delete env.OUTPOST_ADMIN_PASSWORD;

const verbose = ["1", "true", "yes"].includes(String(process.env.OUTPOST_VERBOSE ?? "").toLowerCase());
const child = spawnWorkerd(configPath, { env, stdio: ["ignore", "inherit", "inherit"], verbose });

let stopping = null;
let failedToStart = false;
let healthy = false;
const stop = (signal) => {
  if (stopping) {
    // A second Ctrl-C: do not wait for sockets to drain.
    console.error(`outpost: ${signal} again, killing workerd`);
    child.kill("SIGKILL");
    return;
  }
  console.error(`outpost: ${signal}, stopping workerd (up to ${STOP_GRACE_MS / 1000} s for open sockets)`);
  stopping = stopWorkerd(child, { graceMs: STOP_GRACE_MS });
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));

child.on("error", (err) => {
  console.error(`outpost: could not run workerd: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  // Mirror workerd's exit: its code, or 128 + signal number as a shell would report it.
  if (failedToStart) process.exit(1);
  if (!healthy && !stopping) {
    console.error(`outpost: workerd exited (${signal ?? `code ${code}`}) before the node answered; its config: ${configPath}`);
  }
  process.exit(code ?? 128 + (os.constants.signals[signal] ?? 0));
});

try {
  await waitForHealthy(config.url, { timeoutMs: HEALTH_TIMEOUT_MS, child });
} catch (err) {
  if (stopping) await new Promise(() => {}); // already on its way down; the exit handler ends us
  console.error(`outpost: ${err.message}`);
  console.error(`outpost: generated config: ${configPath}`);
  failedToStart = true;
  child.kill("SIGKILL");
  await new Promise(() => {});
}

healthy = true;
await printSetupHint(config.url, setupToken, { adminPassword });
console.log(`Outpost node "${config.name}" listening on ${config.url}, data in ${config.dataDir}`);
