// @ts-check
/**
 * `npm run cluster:demo`: three branch nodes on this machine — 北京 (beijing),
 * 上海 (shanghai), 深圳 (shenzhen) — in one cluster, with a few people and a
 * room that spans them, so a newcomer sees the whole thing in one command.
 * Each node is a real `npm start` (its own data folder, key and port); the
 * cluster file is generated from their keys. Ctrl-C stops them all.
 *
 *   npm run cluster:demo                 # data in ./data/cluster-demo, ports 9101–9103
 *   OUTPOST_DEMO_PORT=9201 npm run cluster:demo
 *
 * Sign in at http://127.0.0.1:9101 as liwei (Beijing), :9102 as chenmei
 * (Shanghai), :9103 as zhaolei (Shenzhen); the passwords are printed.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureNodeKey } from "./node-key.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const base = path.resolve(process.env.OUTPOST_DEMO_DATA ?? path.join(root, "data", "cluster-demo"));
const firstPort = Number(process.env.OUTPOST_DEMO_PORT ?? 9101);
const NODES = [
  { name: "beijing", label: "北京 Beijing", person: { username: "liwei", displayName: "李伟" } },
  { name: "shanghai", label: "上海 Shanghai", person: { username: "chenmei", displayName: "陈梅" } },
  { name: "shenzhen", label: "深圳 Shenzhen", person: { username: "zhaolei", displayName: "赵磊" } },
].map((n, i) => ({ ...n, port: firstPort + i, url: `http://127.0.0.1:${firstPort + i}`, dataDir: path.join(base, n.name) }));

// Kept across runs, so the demo's people, rooms and passwords survive a restart.
fs.mkdirSync(base, { recursive: true });
const secretsFile = path.join(base, "demo-passwords.json");
/** @type {{ admin: string, people: string }} */
const secrets = fs.existsSync(secretsFile)
  ? JSON.parse(fs.readFileSync(secretsFile, "utf8"))
  : { admin: `operator ${randomBytes(6).toString("hex")}`, people: `branch ${randomBytes(6).toString("hex")}` };
fs.writeFileSync(secretsFile, JSON.stringify(secrets, null, 2), { mode: 0o600 });

const keys = await Promise.all(NODES.map((n) => ensureNodeKey(n.dataDir)));
const clusterFile = path.join(base, "cluster.json");
fs.writeFileSync(clusterFile, JSON.stringify({ nodes: NODES.map((n, i) => ({ name: n.name, url: n.url, publicKey: keys[i].publicKey })) }, null, 2) + "\n");

/** @type {import("node:child_process").ChildProcess[]} */
const children = [];
let stopping = false;
const stopAll = (/** @type {string} */ why) => {
  if (stopping) return;
  stopping = true;
  console.log(`\ncluster demo: ${why}, stopping the three nodes`);
  for (const c of children) c.kill("SIGTERM");
};
process.on("SIGINT", () => stopAll("Ctrl-C"));
process.on("SIGTERM", () => stopAll("SIGTERM"));

/** Start one node with `npm start` (node ops/start.mjs) and resolve once it says it is listening. */
function startNode(/** @type {(typeof NODES)[number]} */ n) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "ops", "start.mjs")], {
      cwd: root,
      env: { ...process.env, OUTPOST_NODE: n.name, OUTPOST_LISTEN: `127.0.0.1:${n.port}`, OUTPOST_DATA: n.dataDir, OUTPOST_CLUSTER: clusterFile, OUTPOST_ADMIN_PASSWORD: secrets.admin, OUTPOST_CONFIG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let out = "";
    const onData = (/** @type {Buffer} */ d) => {
      out += d.toString();
      for (const line of d.toString().split("\n")) if (line.trim()) console.log(`[${n.name}] ${line}`);
      if (/listening on/.test(out)) resolve(child);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      if (!stopping) {
        reject(new Error(`${n.name} exited (${code}) before it was ready`));
        stopAll(`${n.name} stopped`);
      }
      if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(stopping ? 0 : 1);
    });
  });
}

/** @param {string} url @param {string | null} token @param {string} method @param {string} p @param {unknown} [body] */
async function api(url, token, method, p, body) {
  const res = await fetch(`${url}/api/v1${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function login(/** @type {string} */ url, /** @type {string} */ username, /** @type {string} */ password) {
  for (let i = 0; i < 30; i++) {
    const r = await api(url, null, "POST", "/auth/login", { username, password });
    if (r.status === 200) return /** @type {string} */ (r.body.token);
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`cannot sign in as ${username} at ${url}`);
}

try {
  // One after another: the first start builds the Worker, the others reuse it.
  for (const n of NODES) await startNode(n);
  const people = [];
  for (const n of NODES) {
    const admin = await login(n.url, "admin", secrets.admin);
    const made = await api(n.url, admin, "POST", "/users", { ...n.person, password: secrets.people });
    const id = made.status === 201 ? made.body.id : (await api(n.url, admin, "GET", `/users?q=${n.person.username}`)).body.users.find((/** @type {{username: string}} */ u) => u.username === n.person.username)?.id;
    people.push({ node: n, id, token: await login(n.url, n.person.username, secrets.people) });
  }
  // Beijing learns the other branches' people from their directories, then opens a room for all three.
  const [bj, sh, sz] = people;
  for (let i = 0; i < 60; i++) {
    const known = await Promise.all([sh, sz].map((p) => api(bj.node.url, bj.token, "GET", `/users/${p.id}`)));
    if (known.every((k) => k.status === 200)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const rooms = (await api(bj.node.url, bj.token, "GET", "/me/rooms")).body.rooms ?? [];
  if (!rooms.some((/** @type {{name: string}} */ r) => r.name === "三地周会 Weekly sync")) {
    const room = await api(bj.node.url, bj.token, "POST", "/rooms", { name: "三地周会 Weekly sync", visibility: "private", members: [sh.id, sz.id] });
    if (room.status === 201) await api(bj.node.url, bj.token, "POST", `/rooms/${encodeURIComponent(room.body.id)}/messages`, { clientId: "demo-welcome", text: "大家好！This room lives in Beijing; Shanghai and Shenzhen each keep a mirror. Cut a link and keep chatting." });
  }
  console.log("\nOutpost cluster demo is running (Ctrl-C stops all three nodes):\n");
  for (const p of people) console.log(`  ${p.node.label.padEnd(14)} ${p.node.url}   sign in as ${p.node.person.username} / ${secrets.people}`);
  console.log(`\n  admins: "admin" / ${secrets.admin} on each node`);
  console.log(`  cluster file: ${clusterFile}`);
  console.log(`  link states: curl -H "authorization: Bearer <token>" ${bj.node.url}/api/v1/cluster\n`);
  console.log("cluster demo: ready");
} catch (err) {
  console.error(`cluster demo: ${/** @type {Error} */ (err).message}`);
  stopAll("a node failed to start");
}
