/**
 * Half-written uploads on a real `workerd serve` node. workerd's disk service
 * writes an upload to `.kj-tmp.<pid>.<n>.<name>.partial` and renames it at the
 * end: a client that aborts leaves nothing (the running node deletes it), but
 * `kill -9` mid-upload leaves the partial behind, and the next start must
 * sweep it (ops/files-sweep.mjs, run by writeWorkerdFiles for `npm start` and
 * this harness alike).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { loginAs, type OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { makeRoom, sleep } from "./client";
import { sweepPartialUploads } from "../../ops/files-sweep.mjs";
import { recordFigures } from "../figures";

let node: OutpostNode;
let admin: string;
let adminPassword: string;

function filesOnDisk(): { rel: string; size: number }[] {
  const root = path.join(node.dataDir, "files");
  const out: { rel: string; size: number }[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else {
        // A file can vanish between the listing and the stat (an upload being cleaned up).
        const stat = fs.statSync(full, { throwIfNoEntry: false });
        if (stat) out.push({ rel: path.relative(root, full), size: stat.size });
      }
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out;
}
const partials = () => filesOnDisk().filter((f) => /(^|\/)\.kj-tmp\.[^/]*\.partial$/.test(f.rel));

async function waitFor(what: string, check: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; files: ${JSON.stringify(filesOnDisk())}`);
    await sleep(50);
  }
}

/** Start a raw upload of `total` bytes and send only `sent` of them (the request stays open). */
function startUpload(url: string, token: string, total: number, sent: number, chunked = false): http.ClientRequest {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" };
  if (chunked) headers["transfer-encoding"] = "chunked";
  else headers["content-length"] = String(total);
  const req = http.request(url, { method: "POST", headers });
  req.on("error", () => {});
  const chunk = randomBytes(256 * 1024);
  for (let n = 0; n < sent; n += chunk.length) req.write(chunk);
  return req;
}

beforeAll(async () => {
  ({ node, admin, adminPassword } = await withNode());
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("half-written uploads", () => {
  it("a running node deletes the partial of every aborted upload (Node http with a length, chunked, and a streaming fetch)", async () => {
    const room = await makeRoom(node.url, admin, "Aborts", []);
    const url = `${node.url}/api/v1/rooms/${encodeURIComponent(room.id)}/files?name=a.bin`;
    for (const chunked of [false, true]) {
      const req = startUpload(url, admin, 20 * 1024 * 1024, 4 * 1024 * 1024, chunked);
      await waitFor("the upload's partial", () => partials().some((p) => p.size > 0));
      req.destroy();
      await waitFor("the partial to go", () => partials().length === 0);
    }
    // Node http cut off mid-body, with a length and chunked: nothing at all is kept.
    expect(filesOnDisk()).toEqual([]);
    // fetch with a streamed body, aborted half-way
    const ac = new AbortController();
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (n++ < 16) controller.enqueue(randomBytes(256 * 1024));
        else await new Promise(() => {}); // stall: the rest never comes
      },
    });
    const pending = fetch(url, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/octet-stream" }, body, duplex: "half", signal: ac.signal } as RequestInit).catch((e: Error) => e);
    await waitFor("the streaming upload's partial", () => partials().some((p) => p.size > 0));
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor("the partial to go", () => partials().length === 0);
    // Node's fetch (undici) may end a chunked body properly when its stream is cancelled by the
    // abort (the final chunk goes out before the socket is closed: seen in 2 of 5 CI runs). The node
    // then received a complete upload of exactly what was sent, which no server can tell from a
    // finished one; a raw connection cut before the final chunk, with FIN or RST, is refused and
    // nothing is kept (checked by hand on a node). What must never remain is a partial, or a file
    // of any other size: a truncated or half-written file.
    const left = filesOnDisk();
    for (const f of left) expect(f.size).toBe(16 * 256 * 1024);
    expect(left.length).toBeLessThanOrEqual(1);
  }, 60_000);

  it("kill -9 mid-upload leaves a partial; the restart sweeps it and files work as before", async () => {
    const room = await makeRoom(node.url, admin, "Crash", []);
    const url = `${node.url}/api/v1/rooms/${encodeURIComponent(room.id)}/files?name=big.bin`;
    const req = startUpload(url, admin, 40 * 1024 * 1024, 16 * 1024 * 1024);
    await waitFor("16 MB of the upload on disk", () => partials().some((p) => p.size >= 16 * 1024 * 1024), 20_000);
    await node.kill9();
    req.destroy();
    const left = partials();
    expect(left).toHaveLength(1);
    expect(left[0].size).toBe(16 * 1024 * 1024);

    await node.restart();
    recordFigures("uploads", { "half-written upload files left after kill -9 mid-upload and a restart (16 MiB written)": partials().length });
    expect(partials()).toEqual([]);

    // The node serves files normally afterwards.
    const token = await loginAs(node.url, "admin", adminPassword);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const up = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" }, body: data });
    expect(up.status).toBe(201);
    const file = (await up.json()) as { id: string };
    const down = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(down.status).toBe(200);
    expect(createHash("sha256").update(Buffer.from(await down.arrayBuffer())).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    expect(filesOnDisk().map((f) => f.rel)).toEqual([expect.stringMatching(/^[a-z0-9]{16}\/[a-z0-9]{16}$/)]);
  }, 120_000);

  it("the sweep leaves alone a partial whose workerd is still running", () => {
    const dir = path.join(node.dataDir, "files", "sweeptest");
    fs.mkdirSync(dir, { recursive: true });
    const live = path.join(dir, `.kj-tmp.${node.pid()}.0.live.partial`);
    const dead = path.join(dir, ".kj-tmp.999999999.0.dead.partial");
    const other = path.join(dir, "kept-file");
    for (const f of [live, dead, other]) fs.writeFileSync(f, "x");
    const swept = sweepPartialUploads(path.join(node.dataDir, "files"));
    expect(swept.removed).toEqual([dead]);
    expect([live, dead, other].map((f) => fs.existsSync(f))).toEqual([true, false, true]);
    fs.rmSync(dir, { recursive: true });
  });
});
