/**
 * Files as other clients send and read them, against a real `workerd serve`:
 * multipart/form-data uploads (Node's fetch + FormData, the real `curl -F`),
 * refusals that reach a client still sending its body (not ECONNRESET), and
 * download headers: an RFC 8187 `filename*` a strict parser accepts, and
 * Content-Length on 200, 206 and HEAD answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { OutpostNode } from "../harness";
import { makeRoom, makeUser, type TestUser } from "./client";
import { withNode } from "../fixtures";
import { recordFigures } from "../figures";
import { filesUnder } from "../cluster/data-files";

const MAX = 32 * 1024 * 1024;
const TRIES = 20;

let node: OutpostNode;
let admin: string;
let owner: TestUser;
let outsider: TestUser;
let roomId: string;
let tmp: string;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const uploadUrl = (query = "") => `${node.url}/api/v1/rooms/${encodeURIComponent(roomId)}/files${query}`;

/** The node's stored files (its file store, relative paths): what an upload adds and a recall removes. */
const filesOnDisk = () => filesUnder(path.join(node.dataDir, "files"));

function form(file: Uint8Array, filename: string, type: string, extra: [string, string][] = []): FormData {
  const fd = new FormData();
  for (const [k, v] of extra) fd.append(k, v);
  fd.append("file", new Blob([new Uint8Array(file)], { type }), filename); // a copy on an ArrayBuffer, as Blob's type asks
  return fd;
}

/** POST with Node's fetch; the answer as {status, body}, or the network error's code (ECONNRESET…). */
async function post(token: string, body: RequestInit["body"], headers: Record<string, string> = {}, query = "") {
  try {
    const res = await fetch(uploadUrl(query), { method: "POST", headers: { authorization: `Bearer ${token}`, ...headers }, body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { status: 0, body: null, error: e.cause?.code ?? e.message };
  }
}

async function download(fileId: string, token: string) {
  const res = await fetch(`${node.url}/api/v1/files/${fileId}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** Headers exactly as they came over the wire (fetch hides whether Content-Length was sent). */
function rawHead(method: string, p: string, token: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; length: number }>((resolve, reject) => {
    http
      .request(`${node.url}${p}`, { method, headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
        let length = 0;
        res.on("data", (d: Buffer) => (length += d.length));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, length }));
      })
      .on("error", reject)
      .end();
  });
}

beforeAll(async () => {
  ({ node, admin } = await withNode({ limits: { maxFileBytes: MAX } }));
  owner = await makeUser(node.url, admin, "owner");
  outsider = await makeUser(node.url, admin, "outsider");
  roomId = (await makeRoom(node.url, owner.token, "Interop", [])).id;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-interop-"));
}, 60_000);

afterAll(async () => {
  await node?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("multipart uploads", () => {
  it("stores the file part of a FormData upload: its filename and type, the same bytes back", async () => {
    const data = randomBytes(5 * 1024 * 1024 + 3);
    const up = await post(owner.token, form(data, "照片 (1).png", "image/png", [["caption", "before the file"]]));
    expect(up).toMatchObject({ status: 201, body: { name: "照片 (1).png", contentType: "image/png", size: data.length, sha256: sha(data) } });
    const down = await download(up.body.id, owner.token);
    expect(down.status).toBe(200);
    expect(sha(down.bytes)).toBe(sha(data));
    // ?name= wins over the part's filename
    const named = await post(owner.token, form(randomBytes(10), "part-name.bin", "application/octet-stream"), {}, "?name=query-name.bin");
    expect(named).toMatchObject({ status: 201, body: { name: "query-name.bin" } });
  });

  it("takes `curl -F file=@x`: 201, and the file downloads byte-identical", async () => {
    const data = randomBytes(7 * 1024 * 1024 + 11);
    const file = path.join(tmp, "report v2 (final).pdf");
    fs.writeFileSync(file, data);
    const { stdout } = await promisify(execFile)("curl", ["-sS", "-H", `Authorization: Bearer ${owner.token}`, "-F", `file=@${file};type=application/pdf`, "-w", "\n%{http_code}", uploadUrl()]);
    const [json, code] = stdout.trimEnd().split("\n");
    expect(code).toBe("201");
    const up = JSON.parse(json);
    expect(up).toMatchObject({ name: "report v2 (final).pdf", contentType: "application/pdf", size: data.length, sha256: sha(data) });
    const down = await download(up.id, owner.token);
    expect(sha(down.bytes)).toBe(sha(data));

    // and curl gets a refusal as an answer too (it waits for 100-continue, which workerd never sends)
    const refused = await promisify(execFile)("curl", ["-sS", "-H", `Authorization: Bearer ${outsider.token}`, "-F", `file=@${file}`, "-w", "\n%{http_code}", uploadUrl()]);
    const [errJson, errCode] = refused.stdout.trimEnd().split("\n");
    expect(errCode).toBe("404");
    expect(JSON.parse(errJson).error.code).toBe("not_found");
  });

  it("refuses malformed forms, a second file and an oversized file part with 400/413, keeping nothing", async () => {
    const before = filesOnDisk().length;
    const noBoundary = await post(owner.token, "--x\r\n\r\nhi\r\n--x--\r\n", { "content-type": "multipart/form-data" });
    expect(noBoundary).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    const truncated = await post(owner.token, `--x\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n${"a".repeat(100_000)}`, { "content-type": "multipart/form-data; boundary=x" });
    expect(truncated).toMatchObject({ status: 400, body: { error: { code: "invalid_request", message: expect.stringMatching(/closing boundary/) } } });
    const noFile = await post(owner.token, (() => { const fd = new FormData(); fd.append("caption", "no file"); return fd; })());
    expect(noFile).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    const two = new FormData();
    two.append("a", new Blob([randomBytes(100_000)]), "a.bin");
    two.append("b", new Blob([randomBytes(10)]), "b.bin");
    expect(await post(owner.token, two)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", message: expect.stringMatching(/one file/) } } });
    const big = await post(owner.token, form(randomBytes(MAX + 1), "big.bin", "application/octet-stream"));
    expect(big).toMatchObject({ status: 413, body: { error: { code: "too_large" } } });
    expect(filesOnDisk().length).toBe(before);
  });
});

describe("refusals reach a client that is still sending", () => {
  // Each answer must arrive as HTTP, not as ECONNRESET: the node reads the rest of the
  // body (up to the limit) before it answers.
  const body = randomBytes(20 * 1024 * 1024);

  it(`to a room the user is not in: ${TRIES} FormData uploads of 20 MB all get the 404`, async () => {
    const results = [];
    for (let i = 0; i < TRIES; i++) results.push(await post(outsider.token, form(body, "x.zip", "application/zip")));
    const resets = results.filter((r) => r.status === 0);
    console.log(`non-member FormData uploads: ${resets.length}/${TRIES} got no answer (${[...new Set(resets.map((r) => r.error))].join(", ")})`);
    recordFigures("uploads", { [`non-member FormData uploads of 20 MB without an HTTP answer (of ${TRIES})`]: resets.length });
    expect(results.map((r) => r.status)).toEqual(Array(TRIES).fill(404));
    expect(results[0].body.error.code).toBe("not_found");
  }, 120_000);

  it(`of a type the node refuses: ${TRIES} uploads of 20 MB (form part or raw) all get the 415`, async () => {
    const results = [];
    for (let i = 0; i < TRIES; i++) {
      results.push(i % 2 ? await post(owner.token, form(body, "page.html", "text/html")) : await post(owner.token, body, { "content-type": "text/html" }));
    }
    const resets = results.filter((r) => r.status === 0);
    console.log(`disallowed-type uploads: ${resets.length}/${TRIES} got no answer (${[...new Set(resets.map((r) => r.error))].join(", ")})`);
    recordFigures("uploads", { [`refused-type uploads of 20 MB without an HTTP answer (of ${TRIES})`]: resets.length });
    expect(results.map((r) => r.status)).toEqual(Array(TRIES).fill(415));
    expect(results[0].body.error.code).toBe("unsupported_media_type");
  }, 120_000);

  it("declared larger than the limit: the 413 arrives", async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await post(owner.token, randomBytes(MAX + 1000), { "content-type": "application/zip" }));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill(413));
  }, 60_000);
});

describe("download headers", () => {
  let file: { id: string; size: number };
  const data = randomBytes(300_000);
  const name = "it's (final) *draft* 报告 100%.zip";

  beforeAll(async () => {
    const up = await post(owner.token, data, { "content-type": "application/zip" }, `?name=${encodeURIComponent(name)}`);
    expect(up.status).toBe(201);
    file = up.body;
  });

  /** RFC 8187 ext-value, decoded strictly: any byte outside attr-char must be %-encoded. */
  function filenameStar(header: string): string {
    const m = /(?:^|;)\s*filename\*=UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})*)\s*(?:;|$)/.exec(header);
    if (!m) throw new Error(`no RFC 8187 filename* in: ${header}`);
    const bytes: number[] = [];
    for (let i = 0; i < m[1].length; i++) {
      if (m[1][i] === "%") {
        bytes.push(parseInt(m[1].slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(m[1].charCodeAt(i));
    }
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  }

  it("names the file in filename* as RFC 8187 requires (' ( ) * and CJK round-trip)", async () => {
    const res = await rawHead("GET", `/api/v1/files/${file.id}`, owner.token);
    const header = String(res.headers["content-disposition"]);
    expect(header.split("filename*=")[1].replace(/^UTF-8''/, "")).not.toMatch(/['()* ]/);
    expect(filenameStar(header)).toBe(name);
  });

  it("sends Content-Length on 200, 206 and HEAD, with the right Content-Range", async () => {
    const whole = await rawHead("GET", `/api/v1/files/${file.id}`, owner.token);
    expect(whole).toMatchObject({ status: 200, length: data.length, headers: { "content-length": String(data.length) } });
    const part = await rawHead("GET", `/api/v1/files/${file.id}`, owner.token, { range: "bytes=1000-1999" });
    expect(part).toMatchObject({ status: 206, length: 1000, headers: { "content-length": "1000", "content-range": `bytes 1000-1999/${data.length}` } });
    expect(part.headers["transfer-encoding"]).toBeUndefined();
    const tail = await rawHead("GET", `/api/v1/files/${file.id}`, owner.token, { range: "bytes=-10" });
    expect(tail).toMatchObject({ status: 206, length: 10, headers: { "content-length": "10", "content-range": `bytes ${data.length - 10}-${data.length - 1}/${data.length}` } });
    const open = await rawHead("GET", `/api/v1/files/${file.id}`, owner.token, { range: "bytes=299990-" });
    expect(open).toMatchObject({ status: 206, length: 10, headers: { "content-length": "10" } });
    const head = await rawHead("HEAD", `/api/v1/files/${file.id}`, owner.token);
    expect(head).toMatchObject({ status: 200, length: 0, headers: { "content-length": String(data.length) } });
    // and the bytes of a range are the right ones
    const res = await fetch(`${node.url}/api/v1/files/${file.id}`, { headers: { authorization: `Bearer ${owner.token}`, range: "bytes=123456-130000" } });
    expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(123456, 130001))).toBe(true);
  });

  it("serves a range that covers the whole file (`bytes=0-`, a media player's first request) as 206", async () => {
    // The disk service answers such a range with a plain 200 of the whole file.
    for (const range of ["bytes=0-", `bytes=0-${data.length - 1}`, "bytes=0-999999999", `bytes=-${data.length + 5}`]) {
      const res = await rawHead("GET", `/api/v1/files/${file.id}`, owner.token, { range });
      expect(res, range).toMatchObject({ status: 206, length: data.length, headers: { "content-length": String(data.length), "content-range": `bytes 0-${data.length - 1}/${data.length}` } });
    }
  });
});
