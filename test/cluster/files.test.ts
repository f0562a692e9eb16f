/**
 * Files in rooms that span branches, on three real nodes: a file uploaded by a
 * member on one node into a room homed on another is streamed home and stored
 * only there; members on any node download it (streamed back through the link)
 * byte for byte, with the headers and ranges of a local download. Refusals get
 * the codes a local upload gets; a cut link answers 503 room_unreachable; a
 * home-only room's file never touches another node's disk; and a node cannot
 * upload for, or download as, a user homed elsewhere, nor alter the bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { loginAs } from "../harness";
import { importPrivateKey, signRequest, signStreamTrailer, STREAMED_BODY } from "../../durable-objects/shared/link-auth";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";
import { filesContaining, filesUnder } from "./data-files";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
const MAX = 6 * 1024 * 1024;
let cluster: TestCluster;
const admin: Record<string, string> = {};
const people: Record<string, { id: string; node: string; token: string }> = {};

const as = (who: string) => (method: string, p: string, body?: unknown) => callNode(cluster, people[who].node, people[who].token, method, p, body);
const enc = encodeURIComponent;

/** An upload as `who` on their own node; `stream` sends the bytes chunked, with no Content-Length. */
async function upload(who: string, roomId: string, data: Buffer, o: { type?: string; name?: string; stream?: boolean; length?: number } = {}) {
  const p = people[who];
  const body = o.stream
    ? new ReadableStream<Uint8Array>({
        start(controller) {
          for (let off = 0; off < data.length; off += 256 * 1024) controller.enqueue(new Uint8Array(data.subarray(off, off + 256 * 1024)));
          controller.close();
        },
      })
    : new Uint8Array(data);
  const headers: Record<string, string> = { authorization: `Bearer ${p.token}`, "content-type": o.type ?? "application/octet-stream" };
  if (o.length !== undefined) headers["content-length"] = String(o.length);
  try {
    const res = await fetch(`${cluster.nodes[p.node].url}/api/v1/rooms/${enc(roomId)}/files?name=${enc(o.name ?? "数据.bin")}`, { method: "POST", headers, body, duplex: "half", signal: AbortSignal.timeout(60_000) } as RequestInit);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

/** A download as `who` on their own node: status, headers and the bytes. */
async function download(who: string, fileId: string, headers: Record<string, string> = {}, method = "GET") {
  const p = people[who];
  const res = await fetch(`${cluster.nodes[p.node].url}/api/v1/files/${enc(fileId)}`, { method, headers: { authorization: `Bearer ${p.token}`, ...headers }, signal: AbortSignal.timeout(60_000) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString("utf8")) };
}

async function room(owner: string, members: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const made = await as(owner)("POST", "/rooms", { name: "文件", visibility: "private", members: members.map((m) => people[m].id), ...extra });
  expect(made.status).toBe(201);
  for (const m of members) await eventually(`${m} can open the room`, async () => (await as(m)("GET", `/rooms/${enc(made.body.id)}`)).status === 200);
  return made.body.id;
}

const sha256hex = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const storedFiles = (node: string) => filesUnder(path.join(cluster.nodes[node].dataDir, "files"));
const objectFiles = (node: string) => filesUnder(path.join(cluster.nodes[node].dataDir, "objects"));

beforeAll(async () => {
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD, limits: { maxFileBytes: MAX } });
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
  for (const [who, node] of [["liwei", "beijing"], ["chenmei", "shanghai"], ["zhaolei", "shenzhen"], ["wangfang", "shenzhen"]]) {
    const made = await callNode(cluster, node, admin[node], "POST", "/users", { username: who, password: USER_PASSWORD, displayName: who });
    expect(made.status).toBe(201);
    people[who] = { id: made.body.id, node, token: await loginAs(cluster.nodes[node].url, who, USER_PASSWORD) };
  }
  // Beijing, where the rooms are made, hears of the others' accounts (invites need them).
  await eventually("beijing knows everyone", async () => {
    for (const p of Object.values(people)) if ((await callNode(cluster, "beijing", admin.beijing, "GET", `/users/${p.id}`)).status !== 200) return false;
    return true;
  }, 15_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a room homed in Beijing", () => {
  let roomId: string;
  const data = randomBytes(5 * 1024 * 1024 + 12_345); // over the link's 4 MiB JSON bodies: streamed, not buffered
  let fileId: string;

  beforeAll(async () => {
    roomId = await room("liwei", ["chenmei", "zhaolei"]);
  }, 60_000);

  it("takes an upload from a member in Shanghai, and a member in Shenzhen downloads it byte for byte", async () => {
    const before = { shanghai: storedFiles("shanghai").length, shenzhen: storedFiles("shenzhen").length, beijing: storedFiles("beijing").length };
    const up = await upload("chenmei", roomId, data, { name: "季度报表.bin" });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(up.body).toMatchObject({ name: "季度报表.bin", size: data.length, contentType: "application/octet-stream", sha256: sha256hex(data) });
    fileId = up.body.id;
    expect(fileId.endsWith("@beijing")).toBe(true);
    // Stored at the home only.
    expect(storedFiles("beijing").length).toBe(before.beijing + 1);
    expect(storedFiles("shanghai").length).toBe(before.shanghai);

    const sent = await as("chenmei")("POST", `/rooms/${enc(roomId)}/messages`, { clientId: "with-file", text: "见附件", attachments: [fileId] });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.attachments[0]).toMatchObject({ id: fileId, size: data.length });
    await eventually("the message in Shenzhen", async () => (await as("zhaolei")("GET", `/rooms/${enc(roomId)}/messages`)).body?.messages?.some((m: { clientId: string }) => m.clientId === "with-file"));

    const got = await download("zhaolei", fileId);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(data)).toBe(true);
    expect(got.headers.get("content-length")).toBe(String(data.length));
    expect(got.headers.get("content-type")).toBe("application/octet-stream");
    expect(got.headers.get("content-disposition")).toContain(`filename*=UTF-8''${enc("季度报表.bin")}`);
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(got.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(got.headers.get("etag")).toBe(`"${sha256hex(data)}"`);
    expect(got.headers.get("accept-ranges")).toBe("bytes");
    // Exactly the headers of a download at the home.
    const local = await download("liwei", fileId);
    expect(local.bytes.equals(data)).toBe(true);
    for (const h of ["content-type", "content-disposition", "content-length", "etag", "cache-control", "content-security-policy", "x-content-type-options", "accept-ranges"]) {
      expect(got.headers.get(h), h).toBe(local.headers.get(h));
    }
    // Nothing of it on the member nodes' disks.
    expect(storedFiles("shenzhen").length).toBe(before.shenzhen);
    expect(filesContaining(cluster.nodes.shenzhen.dataDir, data.subarray(1000, 1064))).toEqual([]);
    expect(filesContaining(cluster.nodes.shanghai.dataDir, data.subarray(1000, 1064))).toEqual([]);
  }, 120_000);

  it("serves ranges and HEAD through the link as locally", async () => {
    const part = await download("zhaolei", fileId, { range: "bytes=1000-1999" });
    expect(part.status).toBe(206);
    expect(part.bytes.equals(data.subarray(1000, 2000))).toBe(true);
    expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${data.length}`);
    expect(part.headers.get("content-length")).toBe("1000");
    const tail = await download("chenmei", fileId, { range: "bytes=-10" });
    expect(tail.status).toBe(206);
    expect(tail.bytes.equals(data.subarray(data.length - 10))).toBe(true);
    const beyond = await download("zhaolei", fileId, { range: `bytes=${data.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${data.length}`);
    const head = await download("zhaolei", fileId, {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(data.length));
    expect(head.bytes.length).toBe(0);
  }, 60_000);

  it("takes a multipart form from another node, and the home's own member's file reaches the others", async () => {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(Buffer.from("小文件 contents"))], { type: "text/plain" }), "笔记.txt");
    const res = await fetch(`${cluster.nodes.shenzhen.url}/api/v1/rooms/${enc(roomId)}/files`, { method: "POST", headers: { authorization: `Bearer ${people.zhaolei.token}` }, body: form });
    const formed = await res.json();
    expect(res.status, JSON.stringify(formed)).toBe(201);
    expect(formed).toMatchObject({ name: "笔记.txt", contentType: "text/plain", size: Buffer.byteLength("小文件 contents") });
    // Unshared uploads are the uploader's only, at the home as locally.
    expect((await download("zhaolei", formed.id)).bytes.toString()).toBe("小文件 contents");
    expect((await download("chenmei", formed.id)).status).toBe(404);

    const own = randomBytes(3 * 1024 * 1024);
    const up = await upload("liwei", roomId, own, { name: "home.bin" });
    expect(up.status).toBe(201);
    expect((await as("liwei")("POST", `/rooms/${enc(roomId)}/messages`, { clientId: "home-file", text: "from Beijing", attachments: [up.body.id] })).status).toBe(201);
    const there = await eventually("Shanghai may download Beijing's file", async () => {
      const d = await download("chenmei", up.body.id);
      return d.status === 200 ? d : null;
    });
    expect(there.bytes.equals(own)).toBe(true);
  }, 60_000);

  it("refuses non-members, forged ids, disallowed types and files over the limit, declared or not", async () => {
    const storedBefore = storedFiles("beijing").length;
    // Wang is on Shenzhen, where the room has a mirror, but not a member.
    const outsider = await upload("wangfang", roomId, Buffer.from("not mine"));
    expect(outsider.status).toBe(404);
    expect(outsider.body.error.code).toBe("not_found");
    const peek = await download("wangfang", fileId);
    expect(peek.status).toBe(404);
    expect(peek.json().error.code).toBe("not_found");

    const bad = await upload("chenmei", roomId, Buffer.from("<script>alert(1)</script>"), { type: "text/html" });
    expect(bad.status).toBe(415);
    expect(bad.body.error.code).toBe("unsupported_media_type");

    const big = randomBytes(MAX + 1);
    const declared = await upload("chenmei", roomId, big);
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe("too_large");
    const chunked = await upload("zhaolei", roomId, big, { stream: true });
    expect(chunked.status).toBe(413);
    expect(chunked.body.error.code).toBe("too_large");
    expect(storedFiles("beijing").length).toBe(storedBefore);

    // Forged file ids: a room nobody here knows, and an unknown file of a known room. Nothing created.
    const objectsBefore = { shanghai: objectFiles("shanghai").length, beijing: objectFiles("beijing").length };
    for (const forged of [`f_${"a".repeat(16)}.${"b".repeat(16)}@beijing`, `f_${"a".repeat(16)}.${roomId.slice(2, 18)}@beijing`, `f_${"a".repeat(16)}.${"b".repeat(16)}@nowhere`, "f_x", "../../etc/passwd"]) {
      const r = await download("chenmei", forged);
      expect(r.status, forged).toBe(404);
    }
    expect(objectFiles("shanghai").length).toBe(objectsBefore.shanghai);
    expect(objectFiles("beijing").length).toBe(objectsBefore.beijing);
  }, 60_000);

  it("answers 503 room_unreachable while the link is cut, and works again after it heals", async () => {
    await cluster.cut("beijing", "shanghai");
    try {
      const up = await upload("chenmei", roomId, randomBytes(100_000));
      expect(up.status).toBe(503);
      expect(up.body.error.code).toBe("room_unreachable");
      const down = await download("chenmei", fileId);
      expect(down.status).toBe(503);
      expect(down.json().error.code).toBe("room_unreachable");
      // Shenzhen's link is fine.
      expect((await download("zhaolei", fileId)).bytes.equals(data)).toBe(true);
    } finally {
      await cluster.heal("beijing", "shanghai");
    }
    const again = await eventually("a download after the heal", async () => {
      const d = await download("chenmei", fileId);
      return d.status === 200 ? d : null;
    }, 20_000);
    expect(again.bytes.equals(data)).toBe(true);
    const up = await eventually("an upload after the heal", async () => {
      const u = await upload("chenmei", roomId, Buffer.from("after the cut"), { type: "text/plain" });
      return u.status === 201 ? u : null;
    }, 20_000);
    expect(up.body.size).toBe(13);
  }, 90_000);
});

describe("a room with residency home", () => {
  it("keeps a remote member's file on the home's disk only", async () => {
    const roomId = await room("liwei", ["chenmei", "zhaolei"], { residency: "home" });
    const marker = Buffer.from(`RESIDENT-FILE-${randomBytes(8).toString("hex")}-`);
    const data = Buffer.concat([marker, randomBytes(2 * 1024 * 1024)]);
    const up = await upload("chenmei", roomId, data, { name: "secret.bin" });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    // 202 when it runs just after the heal above, before a heartbeat saw the link up: delivered from the queue.
    expect([201, 202]).toContain((await as("chenmei")("POST", `/rooms/${enc(roomId)}/messages`, { clientId: "resident", text: "the file", attachments: [up.body.id] })).status);
    const got = await eventually("Shenzhen downloads it", async () => {
      const d = await download("zhaolei", up.body.id);
      return d.status === 200 ? d : null;
    }, 20_000);
    expect(got.bytes.equals(data)).toBe(true);
    for (const node of ["shanghai", "shenzhen"]) {
      expect(filesContaining(cluster.nodes[node].dataDir, marker), node).toEqual([]);
      expect(filesContaining(cluster.nodes[node].dataDir, data.subarray(100_000, 100_064)), node).toEqual([]);
    }
    expect(filesContaining(cluster.nodes.beijing.dataDir, marker).length).toBeGreaterThan(0);
  }, 90_000);
});

describe("the link's file endpoints", () => {
  /** A node's real key, read from its data folder (as a compromised or misbehaving node would use it). */
  const keyOf = async (node: string) => importPrivateKey(JSON.parse(fs.readFileSync(path.join(cluster.nodes[node].dataDir, "node-key.json"), "utf8")).privateKey);

  /** The framed body of a streamed upload, its trailer signed over `signedBytes` (normally the same bytes). */
  async function framed(key: CryptoKey, nonce: string, from: string, to: string, bytes: Buffer, signedBytes = bytes): Promise<Buffer> {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(bytes.length);
    const sha256 = createHash("sha256").update(signedBytes).digest("base64url");
    const signature = await signStreamTrailer(key, { kind: "request", nonce, from, to, size: signedBytes.length, sha256 });
    return Buffer.concat([header, bytes, Buffer.alloc(4), Buffer.from(signature)]);
  }

  async function linkUpload(from: string, to: string, roomId: string, userId: string, bytes: Buffer, signedBytes?: Buffer) {
    const key = await keyOf(from);
    const p = `/link/v1/rooms/${enc(roomId)}/files?${new URLSearchParams({ user: userId, name: "x.bin", type: "application/octet-stream" })}`;
    const headers = await signRequest(key, { from, to, method: "POST", path: p, bodyHash: STREAMED_BODY });
    const body = await framed(key, headers["x-outpost-link-nonce"], from, to, bytes, signedBytes);
    const res = await fetch(`${cluster.nodes[to].url}${p}`, { method: "POST", headers: { ...headers, "content-type": "application/x-outpost-link-stream" }, body: new Uint8Array(body) });
    return { status: res.status, body: await res.json() };
  }

  it("refuses a node acting for a user homed elsewhere, and bytes that do not match their signature", async () => {
    const roomId = await room("liwei", ["chenmei", "zhaolei"]);
    const before = storedFiles("beijing").length;
    // The real thing works (Shenzhen for its own member)…
    const fine = await linkUpload("shenzhen", "beijing", roomId, people.zhaolei.id, Buffer.from("signed bytes"));
    expect(fine.status, JSON.stringify(fine.body)).toBe(201);
    expect(storedFiles("beijing").length).toBe(before + 1);
    // …Shenzhen uploading as Chenmei (homed in Shanghai) does not.
    const impostor = await linkUpload("shenzhen", "beijing", roomId, people.chenmei.id, Buffer.from("as someone else"));
    expect(impostor.status).toBe(403);
    expect(impostor.body.error.code).toBe("forbidden");
    // Bytes altered on the way: the trailer does not match, nothing is kept.
    const altered = await linkUpload("shenzhen", "beijing", roomId, people.zhaolei.id, Buffer.from("evil bytes!!"), Buffer.from("signed bytes"));
    expect(altered.status).toBe(401);
    expect(altered.body.error.code).toBe("unauthorized");
    expect(storedFiles("beijing").length).toBe(before + 1);
    // A streamed upload's headers signed by a key not in the file: refused before any byte is read.
    const stranger = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
    const p = `/link/v1/rooms/${enc(roomId)}/files?user=${enc(people.zhaolei.id)}&name=x&type=text%2Fplain`;
    const forged = await signRequest(stranger.privateKey, { from: "shenzhen", to: "beijing", method: "POST", path: p, bodyHash: STREAMED_BODY });
    expect((await fetch(`${cluster.nodes.beijing.url}${p}`, { method: "POST", headers: forged, body: "x" })).status).toBe(401);
    // An ordinary signature (over a body hash) does not pass for a streamed one.
    const ordinary = await signRequest(await keyOf("shenzhen"), { from: "shenzhen", to: "beijing", method: "POST", path: p, body: "x" });
    expect((await fetch(`${cluster.nodes.beijing.url}${p}`, { method: "POST", headers: ordinary, body: "x" })).status).toBe(401);
    expect(storedFiles("beijing").length).toBe(before + 1);

    // Downloads: Shenzhen asking as Chenmei is refused; a forged room creates nothing at the home.
    const get = async (userId: string, fileId: string) => {
      const gp = `/link/v1/files/${enc(fileId)}?user=${enc(userId)}`;
      const headers = await signRequest(await keyOf("shenzhen"), { from: "shenzhen", to: "beijing", method: "GET", path: gp, body: null });
      return (await fetch(`${cluster.nodes.beijing.url}${gp}`, { headers })).status;
    };
    expect(await get(people.chenmei.id, fine.body.id)).toBe(403);
    expect(await get(people.zhaolei.id, fine.body.id)).toBe(200);
    const objects = objectFiles("beijing").length;
    expect(await get(people.zhaolei.id, `f_${"c".repeat(16)}.${"d".repeat(16)}@beijing`)).toBe(404);
    expect(objectFiles("beijing").length).toBe(objects);
  }, 60_000);
});
