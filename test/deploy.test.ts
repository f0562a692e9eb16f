/**
 * The managed path stays open: the same Worker deploys unchanged to Cloudflare's
 * network. `wrangler deploy --dry-run` (offline) must accept wrangler.toml with the
 * pinned wrangler (compatibility date and flags, bindings) and bundle the Worker;
 * the bundle it would upload is then booted in miniflare with wrangler.toml's
 * bindings, and a file goes up and comes back through it, stored in R2.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../ops/build.mjs";
import { readWranglerToml } from "./wrangler-toml";

const wrangler = readWranglerToml();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-deploy-"));
const outdir = path.join(tmp, "dist");
let stdout = "";

beforeAll(async () => {
  // The Worker imports the built web client (npm run build:web writes it; `pretest` does).
  expect(fs.existsSync(path.join(repoRoot, "web/dist/assets.gen.ts"))).toBe(true);
  const run = await promisify(execFile)(path.join(repoRoot, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: repoRoot,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" },
  });
  stdout = run.stdout;
}, 120_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("wrangler deploy --dry-run", () => {
  it("bundles the Worker with its migrations as text modules", () => {
    expect(stdout).toContain("--dry-run: exiting now.");
    const bundle = fs.readFileSync(path.join(outdir, "index.js"), "utf8");
    for (const cls of ["RoomObject", "UserObject", "DirectoryObject"]) expect(bundle).toMatch(new RegExp(`export \\{[^}]*\\b${cls}\\b`));
    expect(bundle).toContain("FILES_BUCKET"); // the Worker reads the binding wrangler declares
    expect(fs.readdirSync(outdir).filter((f) => f.endsWith(".sql")).length).toBeGreaterThan(0);
  });

  it("gives the Worker an R2 bucket for files, and no node-only binding", () => {
    const bucket = wrangler.r2_buckets![0].bucket_name;
    expect(stdout).toMatch(new RegExp(String.raw`env\.FILES_BUCKET \(${bucket}\)\s+R2 Bucket`));
    for (const name of ["ROOMS", "USERS", "DIRECTORY"]) expect(stdout).toMatch(new RegExp(String.raw`env\.${name} \(\w+\)\s+Durable Object`));
    expect(stdout).not.toMatch(/env\.FILES\b(?!_)/);
    expect(stdout).not.toMatch(/env\.(SETUP_TOKEN|ADMIN_PASSWORD)\b/);
  });
});

describe("the bundle wrangler would upload", () => {
  let mf: Miniflare;
  let url: string;
  const ADMIN_PASSWORD = "deploy test operator passphrase";

  beforeAll(async () => {
    mf = new Miniflare({
      modules: true,
      scriptPath: path.join(outdir, "index.js"),
      modulesRoot: outdir,
      modulesRules: [{ type: "Text", include: ["**/*.sql"] }],
      compatibilityDate: wrangler.compatibility_date,
      compatibilityFlags: wrangler.compatibility_flags,
      bindings: { ...wrangler.vars, ADMIN_PASSWORD },
      durableObjects: Object.fromEntries(
        wrangler.durable_objects!.bindings.map((b) => [b.name, { className: b.class_name, useSQLite: true }]),
      ),
      r2Buckets: wrangler.r2_buckets!.map((b) => b.binding),
    });
    url = (await mf.ready).toString().replace(/\/$/, "");
  }, 120_000);

  afterAll(async () => {
    await mf?.dispose();
  });

  it("stores an upload in R2 and serves it back, ranges included", async () => {
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${((await login.json()) as { token: string }).token}` };
    const room = await fetch(`${url}/api/v1/rooms`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "Deployed", visibility: "private", members: [] }),
    });
    expect(room.status).toBe(201);
    const roomId = ((await room.json()) as { id: string }).id;

    const data = randomBytes(6 * 1024 * 1024 + 5); // over one R2 part, sent as a form: a multipart upload
    const form = new FormData();
    form.append("file", new Blob([data], { type: "application/pdf" }), "plan.pdf");
    const up = await fetch(`${url}/api/v1/rooms/${encodeURIComponent(roomId)}/files`, { method: "POST", headers: auth, body: form });
    expect(up.status).toBe(201);
    const file = (await up.json()) as { id: string; sha256: string; size: number };
    expect(file).toMatchObject({ size: data.length, sha256: createHash("sha256").update(data).digest("hex") });

    const bucket = await mf.getR2Bucket("FILES_BUCKET");
    const stored = await bucket.list({ prefix: `${roomId.slice(2, 18)}/` });
    expect(stored.objects.map((o) => o.size)).toEqual([data.length]);

    const down = await fetch(`${url}/api/v1/files/${file.id}`, { headers: auth });
    expect(down.status).toBe(200);
    expect(createHash("sha256").update(Buffer.from(await down.arrayBuffer())).digest("hex")).toBe(file.sha256);
    const part = await fetch(`${url}/api/v1/files/${file.id}`, { headers: { ...auth, range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-length")).toBe("100");
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
  }, 60_000);
});
