/**
 * `npm start`: run this machine's Outpost node in self-hosted workerd.
 *
 *   read the node description → check OUTPOST_ADMIN_PASSWORD → the build in dist/
 *   (made first only when there is none or the sources changed, and only where the
 *   build tools are installed: ops/dist.mjs) → write <dataDir>/.workerd/outpost.capnp
 *   → workerd serve → wait for /healthz (answered by *this* workerd) → print where it
 *   is (and the first-run setup link).
 *
 * Environment: OUTPOST_CONFIG, OUTPOST_NODE, OUTPOST_LISTEN, OUTPOST_DATA (see
 * ops/node-config.mjs); OUTPOST_ADMIN_PASSWORD, if set, is handed to the Worker
 * (which then creates the admin account itself, so no setup link is printed);
 * OUTPOST_VERBOSE=1 runs workerd with --verbose (JavaScript stacks of uncaught errors).
 * Every start makes a new setup token: a leaked link stops working on restart.
 *
 * What a person can fix (bad configuration, a weak admin password, a listen
 * address in use, a data folder it cannot write) ends the start with one line
 * saying what to change and a non-zero exit, never a stack.
 */
import { adminPasswordProblem } from "./admin-password.mjs";
import { ensureBuild } from "./dist.mjs";
import { loadNodeConfig } from "./node-config.mjs";
import { newSetupToken, printSetupHint } from "./setup-hint.mjs";
import { bindFailureMessage, dataDirErrorMessage, dataDirProblem, WorkerdStderr } from "./startup-errors.mjs";
import { putMetricsEnv, writeWorkerdFiles } from "./workerd-config.mjs";
import { nodeIdentity } from "./node-identity.mjs";
import { newInstanceToken, shellExitCode, spawnWorkerd, stopWorkerd, waitForHealthy } from "./workerd.mjs";

const HEALTH_TIMEOUT_MS = 20000;
const STOP_GRACE_MS = 5000;

let config;
try {
  config = loadNodeConfig();
} catch (err) {
  console.error(`outpost: bad node configuration: ${/** @type {Error} */ (err).message}`);
  process.exit(2);
}

const adminPassword = process.env.OUTPOST_ADMIN_PASSWORD || undefined;
if (adminPassword) {
  // Before anything starts: the Worker would refuse it and, a password being given,
  // no setup link would be printed either. Never echo the password itself.
  const problem = adminPasswordProblem(adminPassword);
  if (problem) {
    console.error(`outpost: OUTPOST_ADMIN_PASSWORD is too weak: ${problem}; set a stronger one, or unset it to create the admin through the setup link`);
    process.exit(2);
  }
}

let bundlePath;
try {
  bundlePath = await ensureBuild();
} catch (err) {
  // A build that failed has printed its located errors; no build and no tools is one line.
  const e = /** @type {Error & { errors?: unknown }} */ (err);
  if (e?.errors) console.error("outpost: the Worker did not build");
  else console.error(`outpost: ${e?.message ?? e}`);
  process.exit(1);
}

const dataProblem = dataDirProblem(config.dataDir);
if (dataProblem) {
  console.error(dataProblem);
  process.exit(1);
}
// The node's key (made at the first start) and, in a cluster, the checked cluster file.
let identity;
try {
  identity = await nodeIdentity(config);
} catch (err) {
  console.error(`outpost: ${/** @type {Error} */ (err).message}`);
  process.exit(2);
}
config.identity = { publicKey: identity.publicKey, cluster: identity.cluster, peerAllow: identity.peerAllow };

let configPath;
let sweptUploads;
try {
  ({ configPath, sweptUploads } = writeWorkerdFiles(config, { bundlePath }));
} catch (err) {
  const line = dataDirErrorMessage(err, config.dataDir);
  if (!line) throw err;
  console.error(line);
  process.exit(1);
}
if (sweptUploads.removed.length > 0) {
  const mb = (sweptUploads.bytes / 1024 / 1024).toFixed(1);
  console.log(`outpost: removed ${sweptUploads.removed.length} unfinished upload(s) (${mb} MB) left by an earlier crash`);
}
const setupToken = newSetupToken();
const instance = newInstanceToken();

/** @type {NodeJS.ProcessEnv} */
const env = { ...process.env, OUTPOST_SETUP_TOKEN: setupToken, OUTPOST_INSTANCE_TOKEN: instance, OUTPOST_NODE_PRIVATE_KEY: identity.privateKey };
if (adminPassword) env.OUTPOST_ADMIN_PASSWORD = adminPassword;
else delete env.OUTPOST_ADMIN_PASSWORD;
// The SSO client secret reaches workerd through its environment, never the generated config file
// (and one in the launcher's own environment never reaches a node without SSO).
if (config.oidc) env.OUTPOST_OIDC_CLIENT_SECRET = config.oidc.clientSecret;
else delete env.OUTPOST_OIDC_CLIENT_SECRET;
putMetricsEnv(config, env);

const verbose = ["1", "true", "yes"].includes(String(process.env.OUTPOST_VERBOSE ?? "").toLowerCase());
// stderr goes through WorkerdStderr, which turns a failed bind into one line.
const child = spawnWorkerd(configPath, { env, stdio: ["ignore", "inherit", "pipe"], verbose });
/** @type {import("./startup-errors.mjs").BindFailure | null} */
let bindFailure = null;
new WorkerdStderr(/** @type {import("node:stream").Readable} */ (child.stderr), { onBindFailure: (f) => (bindFailure ??= f) });

/** @type {Promise<unknown> | null} */
let stopping = null;
let failedToStart = false;
let healthy = false;
/** @param {NodeJS.Signals} signal */
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
// "close", not "exit": it comes after workerd's stderr has been read to the end, so a
// bind failure has been seen by then.
child.on("close", (code, signal) => {
  if (bindFailure) {
    console.error(bindFailureMessage(bindFailure, config.listen));
    process.exit(1);
  }
  if (failedToStart) process.exit(1);
  if (!healthy && !stopping) {
    console.error(`outpost: workerd exited (${signal ?? `code ${code}`}) before the node answered; its config: ${configPath}`);
  }
  // Mirror workerd's exit: its code, or 128 + signal number as a shell would report it.
  process.exit(shellExitCode(code, signal));
});

try {
  // `instance`: another node already on the address answers /healthz too; only an answer
  // carrying this start's token means our workerd is up.
  await waitForHealthy(config.url, { timeoutMs: HEALTH_TIMEOUT_MS, child, instance });
} catch (err) {
  if (stopping) await new Promise(() => {}); // already on its way down; the close handler ends us
  if (child.exitCode === null && child.signalCode === null) {
    // Still running, but never answered as itself in time: give up on it.
    console.error(`outpost: ${/** @type {Error} */ (err).message}`);
    console.error(`outpost: generated config: ${configPath}`);
    failedToStart = true;
    child.kill("SIGKILL");
  }
  // Otherwise workerd has exited: the close handler says why (a bind failure in one line).
  await new Promise(() => {});
}

healthy = true;
await printSetupHint(config.url, setupToken, { adminPassword });
console.log(`Outpost node "${config.name}" listening on ${config.url}, data in ${config.dataDir}`);
// Said once the node is up, so a start that fails says one thing only (the key stays made).
if (identity.created) console.log(`outpost: made this node's key pair (${identity.file}); public key ${identity.publicKey}`);
