/**
 * Files end to end against a real `workerd serve`: a 50 MB upload streamed to
 * the node's disk and back with a matching sha256, range requests, an aborted
 * upload that leaves nothing behind, limits, safe names and headers, and
 * membership checked at download time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { loginAs, type OutpostNode } from "../harness";
import { withNode } from "../fixtures";
import { filesUnder } from "../cluster/data-files";

let node: OutpostNode;
let admin: string;
const PASSWORD = "correct horse battery";

async function call(method: string, p: string, token: string, body?: unknown) {
  const res = await fetch(node.url + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

async function user(name: string) {
  const r = await call("POST", "/api/v1/users", admin, { username: name, password: PASSWORD, displayName: name });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, token: await loginAs(node.url, name, PASSWORD) };
}

/** The node's stored files (its file store, relative paths): what an upload adds and a recall removes. */
const filesOnDisk = () => filesUnder(path.join(node.dataDir, "files"));

beforeAll(async () => {
  ({ node, admin } = await withNode({ limits: { maxFileBytes: 60 * 1024 * 1024 } }));
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

describe("files", () => {
  it("uploads 50 MB streamed, downloads it with the same sha256, serves ranges, and keeps it to members", async () => {
    const a = await user("filea");
    const b = await user("fileb");
    const c = await user("filec");
    const room = (await call("POST", "/api/v1/rooms", a.token, { name: "Files", visibility: "private", members: [b.id] })).body;
    const data = randomBytes(50 * 1024 * 1024);
    const sha = createHash("sha256").update(data).digest("hex");
    const up = await fetch(`${node.url}/api/v1/rooms/${encodeURIComponent(room.id)}/files?name=${encodeURIComponent("../../etc/报告 2026.zip")}`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.token}`, "content-type": "application/zip" },
      body: data,
    });
    expect(up.status).toBe(201);
    const file = await up.json();
    expect(file.sha256).toBe(sha);
    expect(file.size).toBe(data.length);
    expect(file.name).toBe("报告 2026.zip");
    // On disk under a generated name, not the user's.
    const stored = filesOnDisk();
    expect(stored.some((f) => f.includes("报告") || f.includes(".."))).toBe(false);

    // Not shared yet: only the uploader sees it.
    expect((await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${b.token}` } })).status).toBe(404);
    const sent = await call("POST", `/api/v1/rooms/${room.id}/messages`, a.token, { text: "", clientId: "f1", attachments: [file.id] });
    expect(sent.status).toBe(201);
    expect(sent.body.attachments[0].id).toBe(file.id);

    const down = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(down.status).toBe(200);
    expect(down.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(down.headers.get("x-content-type-options")).toBe("nosniff");
    expect(down.headers.get("content-security-policy")).toContain("sandbox");
    const got = Buffer.from(await down.arrayBuffer());
    expect(createHash("sha256").update(got).digest("hex")).toBe(sha);

    const part = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${b.token}`, range: "bytes=1000-1999" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${data.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
    const tail = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${b.token}`, range: "bytes=-10" } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 10))).toBe(true);
    const bad = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${b.token}`, range: `bytes=${data.length}-` } });
    expect(bad.status).toBe(416);

    // A non-member gets exactly what a nonexistent file gets.
    const outsider = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${c.token}` } });
    const nothing = await fetch(`${node.url}/api/v1/files/${file.id.replace(/^f_./, "f_0")}`, { headers: { authorization: `Bearer ${c.token}` } });
    expect(outsider.status).toBe(404);
    expect(await outsider.text()).toBe(await nothing.text());

    // Removed from the room: no more downloads.
    await call("DELETE", `/api/v1/rooms/${room.id}/members/${b.id}`, a.token);
    expect((await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${b.token}` } })).status).toBe(404);

    // Recalling the message removes the file, bytes included.
    const before = filesOnDisk().length;
    await call("DELETE", `/api/v1/rooms/${room.id}/messages/${sent.body.id}`, a.token);
    expect((await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${a.token}` } })).status).toBe(404);
    // The bytes leave through the room's outbox, after the recall's commit (room/files.ts
    // deleteWithMessage): soon after the answer, not before it (on a busy machine, later).
    await expect.poll(() => filesOnDisk().length, { timeout: 10_000 }).toBe(before - 1);
  }, 120_000);

  it("refuses too-large and disallowed files and keeps nothing of an aborted upload", async () => {
    const a = await user("filed");
    const room = (await call("POST", "/api/v1/rooms", a.token, { name: "Limits", visibility: "private" })).body;
    const url = `${node.url}/api/v1/rooms/${encodeURIComponent(room.id)}/files?name=x.bin`;
    const before = filesOnDisk().length;

    const html = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "content-type": "text/html" }, body: "<script>alert(1)</script>" });
    expect(html.status).toBe(415);
    expect((await html.json()).error.code).toBe("unsupported_media_type");

    const declared = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "content-type": "application/octet-stream", "content-length": String(61 * 1024 * 1024) }, body: "x" }).catch(() => null);
    expect(declared === null || declared.status === 413 || declared.status === 400).toBe(true);

    // Streamed without a length, over the limit: 413 and nothing left on disk.
    const big = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "content-type": "application/octet-stream", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      const chunk = randomBytes(1024 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 62) {
          sent++;
          if (!req.write(chunk)) return req.once("drain", pump);
        }
        req.end();
      };
      pump();
    }).catch(() => 413);
    expect(big).toBe(413);

    // Aborted half-way: the client disconnects; nothing is kept.
    await new Promise<void>((resolve) => {
      const req = http.request(url, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "content-type": "application/octet-stream", "content-length": String(20 * 1024 * 1024) } });
      req.on("error", () => resolve());
      req.write(randomBytes(5 * 1024 * 1024), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
    });
    // Give the node a moment to notice the abort and clean up.
    const deadline = Date.now() + 5000;
    while (filesOnDisk().length !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(filesOnDisk().length).toBe(before);
  }, 120_000);
});
