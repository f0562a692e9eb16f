/**
 * A branch office's install (README, "Deploying a node"): a copy of the checkout with
 * the dist/ a build machine made, `npm ci --omit=dev`, `npm start`. No build tool is
 * installed there, so the node must run the build as it is: it answers /healthz, serves
 * the web client, signs the admin in, and `npm run doctor` checks its files. Without a
 * build it says in one line what to run; with sources newer than the build it says so
 * and runs the build it has.
 *
 * The install is the real one, lifecycle scripts included (workerd's postinstall picks
 * the platform binary). better-sqlite3, an optional dependency, would compile for about
 * a minute and a half; its install script first looks for a prebuilt binary, and this
 * test offers it the one this checkout compiled (same version, same Node), so the
 * install takes seconds. The packages come from npm's cache when it has them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildDist } from "../../ops/build.mjs";
import { BUNDLE_PATH, STAMP_PATH, buildState, repoRoot } from "../../ops/dist.mjs";
import { freePort } from "../harness";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-production-"));
const copy = path.join(tmp, "outpost");
const children: ChildProcess[] = [];

afterAll(() => {
  // Each npm start runs in its own process group (npm → sh → node → workerd): end all of it.
  for (const c of children) if (c.pid && groupAlive(c.pid)) process.kill(-c.pid, "SIGKILL");
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The files a fresh clone of this working tree has (tracked and new, not ignored), and dist/. */
function copyCheckoutWithBuild() {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" });
  for (const rel of listed.split("\0").filter(Boolean)) {
    const from = path.join(repoRoot, rel);
    if (!fs.existsSync(from)) continue; // deleted in the working tree, not yet committed
    fs.mkdirSync(path.dirname(path.join(copy, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(copy, rel));
  }
  fs.mkdirSync(path.join(copy, "dist"));
  for (const file of [BUNDLE_PATH, STAMP_PATH]) fs.copyFileSync(file, path.join(copy, "dist", path.basename(file)));
}

/** better-sqlite3's compiled binary as the prebuilt tarball its install script looks for first. */
function localPrebuild(): Record<string, string> {
  const pkg = path.join(repoRoot, "node_modules", "better-sqlite3");
  if (!fs.existsSync(path.join(pkg, "build", "Release", "better_sqlite3.node"))) return {}; // it compiles, slowly
  const { version } = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8"));
  const dir = path.join(tmp, "prebuilds");
  fs.mkdirSync(dir);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync("tar", ["czf", path.join(dir, name), "-C", pkg, "build/Release/better_sqlite3.node"]);
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}

/** `npm <args>` in the copy, as a person types it; output collected, its own process group. */
function npm(args: string[], env: Record<string, string> = {}) {
  const child = spawn("npm", args, { cwd: copy, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = async (re: RegExp, ms = 60_000) => {
    const t0 = Date.now();
    while (!re.test(out)) {
      if (child.exitCode !== null) throw new Error(`npm ${args.join(" ")} exited ${child.exitCode} before ${re}: ${out}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** Ctrl-C, as in the terminal (the whole foreground group); resolves once every process of it has ended. */
  const stop = async () => {
    process.kill(-child.pid!, "SIGINT");
    await exit;
    for (const t0 = Date.now(); groupAlive(child.pid!); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() - t0 > 15_000) throw new Error(`npm ${args.join(" ")}: still running 15 s after Ctrl-C: ${out}`);
    }
  };
  return { child, exit, waitFor, stop, output: () => out };
}

function groupAlive(pgid: number) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Lines the node printed itself (not npm's "> outpost@… start" banner). */
const ownLines = (output: string) => output.split("\n").filter((l) => l.trim() !== "" && !l.startsWith(">"));

beforeAll(() => {
  // What `npm run build` on the build machine made; build it now if the sources moved on.
  if (buildState().state !== "current") return buildDist().then(() => undefined);
}, 120_000);

describe("a production install (npm ci --omit=dev) of a checkout with its build", () => {
  it("installs no build tool, and npm start serves a working node from dist/ without building", async () => {
    copyCheckoutWithBuild();
    execFileSync("npm", ["ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: copy,
      env: { ...process.env, ...localPrebuild() },
      stdio: "pipe",
    });
    for (const devOnly of ["vite", "esbuild", "wrangler", "typescript", "@zxcvbn-ts/language-common"]) {
      expect(fs.existsSync(path.join(copy, "node_modules", devOnly)), devOnly).toBe(false);
    }

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const data = path.join(tmp, "data");
    const node = npm(["start"], { OUTPOST_LISTEN: `127.0.0.1:${port}`, OUTPOST_DATA: data, OUTPOST_NODE: "branch-7", OUTPOST_ADMIN_PASSWORD: "a branch office passphrase" });
    await node.waitFor(/listening on/);
    expect(node.output()).not.toMatch(/building|older than the sources/);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, node: "branch-7" });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<script type="module"[^>]*src="\/assets\//); // the web client, from the bundle

    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: "a branch office passphrase" }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const rooms = await fetch(`${url}/api/v1/me/rooms`, { headers: { authorization: `Bearer ${token}` } });
    expect(rooms.status).toBe(200);

    // The doctor's optional dependency came with the production install.
    const doctor = npm(["run", "doctor", "--silent"], { OUTPOST_DATA: data });
    expect(await doctor.exit, doctor.output()).toBe(0);
    expect(doctor.output()).toMatch(/files checked with integrity_check .*: 0 damaged, 0 missing/);

    await node.stop();
    expect(node.output()).toContain("outpost: SIGINT, stopping workerd");
  }, 180_000);

  it("runs the build it has when the sources changed since, and says so", async () => {
    fs.appendFileSync(path.join(copy, "protocol", "ids.ts"), "\n// edited on the branch machine\n");
    const port = await freePort();
    const node = npm(["start"], { OUTPOST_LISTEN: `127.0.0.1:${port}`, OUTPOST_DATA: path.join(tmp, "data-2"), OUTPOST_ADMIN_PASSWORD: "a branch office passphrase" });
    await node.waitFor(/listening on/);
    expect(ownLines(node.output())[0]).toBe(
      "outpost: the build in dist/ is older than the sources (protocol/ids.ts changed); running it as built — " +
        "to run the changes, `npm run build` where the dev dependencies are installed",
    );
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await node.stop();
  }, 60_000);

  it("without a build: one line saying what to run, and a non-zero exit; npm run dev names what it lacks", async () => {
    fs.rmSync(path.join(copy, "dist"), { recursive: true });
    const node = npm(["start"], { OUTPOST_LISTEN: `127.0.0.1:${await freePort()}`, OUTPOST_DATA: path.join(tmp, "data-3"), OUTPOST_ADMIN_PASSWORD: "" });
    expect(await node.exit).not.toBe(0);
    const lines = ownLines(node.output()).filter((l) => !l.startsWith("npm error")); // npm's own note on the exit code
    expect(lines).toEqual([
      "outpost: no build in dist/, and this is a production install (no build tools): run `npm run build` " +
        "on a machine with the dev dependencies (`npm install`) and copy its dist/ here",
    ]);
    expect(fs.existsSync(path.join(tmp, "data-3"))).toBe(false); // nothing written before it knew

    const dev = npm(["run", "dev"]);
    expect(await dev.exit).not.toBe(0);
    expect(ownLines(dev.output()).filter((l) => !l.startsWith("npm error"))).toEqual([
      "outpost dev: `npm run dev` needs the dev dependencies (wrangler, vite, esbuild): run `npm install` first; a production node runs with `npm start`",
    ]);
  }, 60_000);
});
