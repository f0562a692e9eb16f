/**
 * Files through the Worker's routes inside workerd, stored in R2 (miniflare's
 * FILES_BUCKET: the store a Cloudflare deployment and `wrangler dev` use; the
 * node's disk store is tested end to end in test/e2e/files*.test.ts): raw and
 * multipart uploads of known and unknown length, downloads whole, by range
 * (with Content-Length) and HEAD, recall deleting the bytes, and oversized or
 * aborted uploads leaving nothing in the bucket.
 */
import { env, SELF } from "cloudflare:test";
import type { TestBindings } from "./cloudflare-env";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, newRoom, newUser, postMessage } from "./helpers";
// The shared seeded test data, under the short name every test in this file (and branches adding tests to it) calls.
import { seededBytes as bytes } from "./seeded-bytes";

const bucket = (env as Cloudflare.Env & TestBindings).FILES_BUCKET;
const MAX = 16 * 1024 * 1024; // maxFileBytes in vitest.workers.config.ts
const PART = 5 * 1024 * 1024; // r2-file-store.ts PART_BYTES

let owner: Awaited<ReturnType<typeof newUser>>;
let member: Awaited<ReturnType<typeof newUser>>;
let outsider: Awaited<ReturnType<typeof newUser>>;
let roomId: string;

beforeAll(async () => {
  owner = await newUser("fowner");
  member = await newUser("fmember");
  outsider = await newUser("foutsider");
  roomId = (await newRoom(owner.token, "Files", "private", [member.id])).id;
});

async function sha256(data: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A body of unknown length (sent chunked); errors after `failAfter` bytes, as an aborted upload. */
function streamOf(data: Uint8Array, failAfter?: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (failAfter !== undefined && at >= failAfter) return controller.error(new Error("client went away"));
      if (at >= data.length) return controller.close();
      const end = Math.min(at + 256 * 1024, data.length, failAfter ?? Infinity);
      controller.enqueue(data.slice(at, end));
      at = end;
    },
  });
}

function upload(body: BodyInit, headers: Record<string, string> = {}, query = "", token = owner.token, room = roomId) {
  return SELF.fetch(`${BASE}/api/v1/rooms/${encodeURIComponent(room)}/files${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, ...headers },
    body,
  });
}

function download(fileId: string, headers: Record<string, string> = {}, method = "GET", token = owner.token) {
  return SELF.fetch(`${BASE}/api/v1/files/${fileId}`, { method, headers: { authorization: `Bearer ${token}`, ...headers } });
}

/** What the bucket holds for this test's room (keys are `<room key>/<file key>`). */
async function storedInRoom(room = roomId): Promise<{ key: string; size: number }[]> {
  const listed = await bucket.list({ prefix: `${room.slice(2, 18)}/` });
  return listed.objects.map((o) => ({ key: o.key, size: o.size }));
}

const storageKey = (room: string, fileId: string) => `${room.slice(2, 18)}/${fileId.slice(2, 18)}`;

describe("uploads into R2", () => {
  it("stores a raw upload of known length, hashed, under a generated key", async () => {
    const data = bytes(300_000, 2);
    const res = await upload(data, { "content-type": "application/zip" }, `?name=${encodeURIComponent("../报告.zip")}`);
    expect(res.status).toBe(201);
    const file = await res.json<{ id: string; name: string; size: number; sha256: string; contentType: string }>();
    expect(file).toMatchObject({ name: "报告.zip", size: data.length, sha256: await sha256(data), contentType: "application/zip" });
    const object = await bucket.head(storageKey(roomId, file.id));
    expect(object?.size).toBe(data.length);
  });

  it("stores a chunked raw upload (unknown length) larger than one R2 part", async () => {
    const data = bytes(2 * PART + 777, 3);
    const res = await upload(streamOf(data), { "content-type": "application/octet-stream" });
    expect(res.status).toBe(201);
    const file = await res.json<{ id: string; size: number; sha256: string }>();
    expect(file).toMatchObject({ size: data.length, sha256: await sha256(data) });
    const back = new Uint8Array(await (await download(file.id)).arrayBuffer());
    expect(await sha256(back)).toBe(file.sha256);
  });

  it("stores the file part of a multipart/form-data upload, with its name and type", async () => {
    const data = bytes(PART + 4321, 4);
    const form = new FormData();
    form.append("caption", "a field before the file");
    form.append("file", new File([data], "照片 (1).png", { type: "image/png" }));
    const res = await upload(form);
    expect(res.status).toBe(201);
    const file = await res.json<{ id: string; size: number; sha256: string; name: string; contentType: string }>();
    expect(file).toMatchObject({ name: "照片 (1).png", contentType: "image/png", size: data.length, sha256: await sha256(data) });
    const down = await download(file.id);
    expect(down.headers.get("content-disposition")).toMatch(/^inline;/);
    expect(await sha256(new Uint8Array(await down.arrayBuffer()))).toBe(file.sha256);
  });
});

describe("downloads from R2", () => {
  const data = bytes(400_000, 5);
  let fileId: string;

  beforeAll(async () => {
    const res = await upload(data, { "content-type": "application/pdf" }, "?name=report.pdf");
    expect(res.status).toBe(201);
    fileId = (await res.json<{ id: string }>()).id;
    await postMessage(owner.token, roomId, "the report", { attachments: [fileId] });
  });

  it("serves the whole file to a member with Content-Length and the safe headers", async () => {
    const res = await download(fileId, {}, "GET", member.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(data.length));
    expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store"); // never in a shared computer's cache
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(await sha256(new Uint8Array(await res.arrayBuffer()))).toBe(await sha256(data));
  });

  it("serves ranges as 206 with Content-Range and Content-Length, the exact bytes", async () => {
    const cases: [string, number, number][] = [
      ["bytes=1000-1999", 1000, 1999],
      ["bytes=-10", data.length - 10, data.length - 1],
      ["bytes=399990-", 399_990, data.length - 1],
      ["bytes=0-", 0, data.length - 1],
      ["bytes=123456-999999999", 123_456, data.length - 1],
    ];
    for (const [header, start, end] of cases) {
      const res = await download(fileId, { range: header }, "GET", member.token);
      expect(res.status, header).toBe(206);
      expect(res.headers.get("content-range"), header).toBe(`bytes ${start}-${end}/${data.length}`);
      expect(res.headers.get("content-length"), header).toBe(String(end - start + 1));
      const got = new Uint8Array(await res.arrayBuffer());
      expect(got.length, header).toBe(end - start + 1);
      expect(await sha256(got), header).toBe(await sha256(data.subarray(start, end + 1)));
    }
    const past = await download(fileId, { range: `bytes=${data.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${data.length}`);
    await past.arrayBuffer();
  });

  it("answers HEAD like the whole GET, without a body", async () => {
    const res = await download(fileId, { range: "bytes=0-9" }, "HEAD", member.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(data.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it("gives an outsider exactly what a missing file gets", async () => {
    const res = await download(fileId, {}, "GET", outsider.token);
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("not_found");
  });

  it("answers storage_error, not wrong bytes, when the stored object no longer matches", async () => {
    const res = await upload(bytes(5000, 6), { "content-type": "application/pdf" });
    const file = await res.json<{ id: string }>();
    await bucket.put(storageKey(roomId, file.id), bytes(4000, 6)); // damaged behind the node's back
    for (const [method, headers] of [["GET", {}], ["GET", { range: "bytes=4500-4599" }], ["GET", { range: "bytes=100-199" }], ["HEAD", {}]] as const) {
      const r = await download(file.id, headers, method);
      expect(r.status, `${method} ${JSON.stringify(headers)}`).toBe(503);
      await r.arrayBuffer();
    }
  });
});

describe("nothing is kept that should not be", () => {
  it("recalling the message deletes the file's bytes from the bucket", async () => {
    const res = await upload(bytes(20_000, 7), { "content-type": "text/plain" });
    const file = await res.json<{ id: string }>();
    const message = await postMessage(owner.token, roomId, "oops", { attachments: [file.id] });
    expect(await bucket.head(storageKey(roomId, file.id))).not.toBeNull();
    const recalled = await SELF.fetch(`${BASE}/api/v1/rooms/${encodeURIComponent(roomId)}/messages/${message.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${owner.token}` },
    });
    expect(recalled.status).toBe(200);
    expect(await bucket.head(storageKey(roomId, file.id))).toBeNull();
    expect((await download(file.id)).status).toBe(404);
  });

  it("keeps nothing of oversized uploads: declared, streamed past the limit, or a form part past it", async () => {
    const room = (await newRoom(owner.token, "Oversized")).id;
    const declared = await upload(bytes(MAX + 1), { "content-type": "application/zip" }, "", owner.token, room);
    expect(declared.status).toBe(413);
    await declared.arrayBuffer();
    // Unknown length: the limit is crossed in the fourth R2 part of a multipart upload.
    const streamed = await upload(streamOf(bytes(MAX + 300_000, 8)), { "content-type": "application/zip" }, "", owner.token, room);
    expect(streamed.status).toBe(413);
    expect((await streamed.json<{ error: { code: string } }>()).error.code).toBe("too_large");
    const form = new FormData();
    form.append("file", new File([bytes(MAX + 1, 9)], "big.bin", { type: "application/octet-stream" }));
    const formed = await upload(form, {}, "", owner.token, room);
    expect(formed.status).toBe(413);
    await formed.arrayBuffer();
    expect(await storedInRoom(room)).toEqual([]);
  });

  it("keeps nothing of an upload whose client goes away half-way", async () => {
    // Through SELF.fetch (a service binding) a client's body that errors reaches the
    // Worker as a clean end, so an abort of a chunked body cannot be told from a shorter
    // file here (over HTTP the missing last chunk tells them apart: test/e2e/files.test.ts;
    // the R2 store's side of it: test/workers/file-store.test.ts). A body of declared
    // length that stops early is an abort the Worker can see.
    const room = (await newRoom(owner.token, "Aborted")).id;
    for (const [declared, sent] of [[2 * PART, 100_000], [2 * PART, PART + 100_000], [MAX, MAX - 1]]) {
      const { readable, writable } = new FixedLengthStream(declared);
      const pending = upload(readable, { "content-type": "application/zip" }, "", owner.token, room).catch(() => null);
      const writer = writable.getWriter();
      const data = bytes(sent, sent);
      for (let at = 0; at < sent; at += 256 * 1024) await writer.write(data.subarray(at, Math.min(sent, at + 256 * 1024)));
      await writer.abort(new Error("client went away")).catch(() => {});
      const res = await pending;
      if (res) {
        expect(res.status).toBeGreaterThanOrEqual(400);
        await res.arrayBuffer();
      }
    }
    expect(await storedInRoom(room)).toEqual([]);
  });

  it("?size= tells a chunked body the client ended early from a whole file: short, long or contradicting is 400 and nothing is kept", async () => {
    // A chunked body that errors reaches the Worker as a clean end (see the test above): only
    // the declared size tells it from a whole, shorter file.
    const room = (await newRoom(owner.token, "Declared size")).id;
    const data = bytes(PART + 1000, 12);
    const refused = async (res: Response) => {
      expect(res.status).toBe(400);
      const body = await res.json<{ error: { code: string; message: string } }>();
      expect(body.error.code).toBe("invalid_request");
      return body.error.message;
    };
    // Cut off after a part and a half of its declared size: refused, nothing kept.
    expect(await refused(await upload(streamOf(data, 300_000), { "content-type": "application/zip" }, `?size=${data.length}`, owner.token, room))).toMatch(/ended after 300000 of its declared/);
    // Longer than it said.
    expect(await refused(await upload(streamOf(data), { "content-type": "application/zip" }, `?size=${data.length - 1}`, owner.token, room))).toMatch(/longer than its declared size/);
    // A raw body whose Content-Length contradicts it.
    expect(await refused(await upload(data.slice(0, 1000), { "content-type": "application/zip" }, "?size=999", owner.token, room))).toMatch(/Content-Length/);
    // Not a number.
    expect(await refused(await upload(data.slice(0, 10), { "content-type": "application/zip" }, "?size=ten", owner.token, room))).toMatch(/size/);
    // Over the node's limit: 413 before a byte is stored.
    const big = await upload(streamOf(bytes(1000)), { "content-type": "application/zip" }, `?size=${MAX + 1}`, owner.token, room);
    expect(big.status).toBe(413);
    await big.arrayBuffer();
    expect(await storedInRoom(room)).toEqual([]);
    // The whole file with its size: stored.
    const ok = await upload(streamOf(data), { "content-type": "application/zip" }, `?size=${data.length}`, owner.token, room);
    expect(ok.status).toBe(201);
    expect(await ok.json<{ size: number; sha256: string }>()).toMatchObject({ size: data.length, sha256: await sha256(data) });
    expect((await storedInRoom(room)).map((o) => o.size)).toEqual([data.length]);
  });

  it("stores nothing for a non-member or a refused type", async () => {
    const room = (await newRoom(owner.token, "Refusals")).id;
    const notMember = await upload(bytes(1000), { "content-type": "application/zip" }, "", outsider.token, room);
    expect(notMember.status).toBe(404);
    await notMember.arrayBuffer();
    const html = await upload("<script>alert(1)</script>", { "content-type": "text/html" }, "", owner.token, room);
    expect(html.status).toBe(415);
    await html.arrayBuffer();
    expect(await storedInRoom(room)).toEqual([]);
  });
});
