/**
 * Link signatures without the runtime: a request signed by one node verifies
 * at its addressee, and every way of tampering with it, replaying it, sending
 * it late, to the wrong node or from a node not in the file is refused.
 * Answers are bound to their request; a streamed body's signatures (headers
 * with the marker, the trailer) cannot stand in for others.
 */
import { describe, expect, it } from "vitest";
import { channelKey, channelOffer, channelSecret, openFrame, sealFrame } from "../../durable-objects/shared/link-channel";
import { LINK_HEADERS, ReplayGuard, STREAMED_BODY, importPrivateKey, signRequest, signResponse, signStreamTrailer, verifyRequest, verifyResponse, verifyStreamTrailer, type Cluster } from "../../durable-objects/shared/link-auth";

async function keyPair() {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const pub = Buffer.from(await crypto.subtle.exportKey("raw", pair.publicKey)).toString("base64url");
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", pair.privateKey)).toString("base64url");
  return { pub, key: await importPrivateKey(pkcs8) };
}

describe("link signatures", async () => {
  const bj = await keyPair();
  const sh = await keyPair();
  const stranger = await keyPair();
  const nodes = [
    { name: "beijing", url: "http://127.0.0.1:1", publicKey: bj.pub },
    { name: "shanghai", url: "http://127.0.0.1:2", publicKey: sh.pub },
  ];
  const atShanghai: Cluster = { self: "shanghai", nodes };
  const atBeijing: Cluster = { self: "beijing", nodes };
  const body = JSON.stringify({ hello: "上海" });
  const signed = (over: Partial<{ key: CryptoKey; from: string; to: string; now: number; body: string }> = {}) =>
    signRequest(over.key ?? bj.key, { from: over.from ?? "beijing", to: over.to ?? "shanghai", method: "POST", path: "/link/v1/ping?x=1", body: over.body ?? body, now: over.now });
  const check = (headers: Record<string, string>, over: Partial<{ guard: ReplayGuard; path: string; body: string; method: string; at: Cluster }> = {}) =>
    verifyRequest(over.at ?? atShanghai, over.guard ?? new ReplayGuard(), { method: over.method ?? "POST", path: over.path ?? "/link/v1/ping?x=1", headers: new Headers(headers), body: over.body ?? body });

  it("accepts a request signed by a node of the file, addressed to this node", async () => {
    expect(await check(await signed())).toMatchObject({ ok: true, from: "beijing" });
  });

  it("refuses tampering, the wrong addressee, a stranger's key, a node not in the file, stale and replayed requests", async () => {
    const h = await signed();
    expect(await check(h, { body: body + " " })).toEqual({ ok: false, why: "bad_signature" });
    expect(await check(h, { path: "/link/v1/ping?x=2" })).toEqual({ ok: false, why: "bad_signature" });
    expect(await check(h, { method: "GET" })).toEqual({ ok: false, why: "bad_signature" });
    expect(await check({ ...h, [LINK_HEADERS.time]: String(Number(h[LINK_HEADERS.time]) + 1) })).toEqual({ ok: false, why: "bad_signature" });
    expect(await check(await signed({ to: "shenzhen" }))).toEqual({ ok: false, why: "wrong_node" });
    // Beijing itself: a request claiming to come from the receiving node is never accepted.
    expect(await check(h, { at: atBeijing })).toEqual({ ok: false, why: "unknown_node" });
    expect(await check(await signed({ key: stranger.key }))).toEqual({ ok: false, why: "bad_signature" });
    expect(await check(await signed({ key: stranger.key, from: "shenzhen" }))).toEqual({ ok: false, why: "unknown_node" });
    expect(await check(await signed({ now: Date.now() - 61_000 }))).toEqual({ ok: false, why: "stale" });
    expect(await check(await signed({ now: Date.now() + 61_000 }))).toEqual({ ok: false, why: "stale" });
    const { [LINK_HEADERS.signature]: _drop, ...unsigned } = h;
    expect(await check(unsigned)).toEqual({ ok: false, why: "not_signed" });
    const guard = new ReplayGuard();
    expect((await check(h, { guard })).ok).toBe(true);
    expect(await check(h, { guard })).toEqual({ ok: false, why: "replay" });
  });

  it("binds an answer to its request and its signer", async () => {
    const nonce = "n-123";
    const answer = JSON.stringify({ ok: true });
    const signature = await signResponse(sh.key, { nonce, status: 200, from: "shanghai", to: "beijing", body: answer });
    expect(await verifyResponse(atBeijing, { nonce, status: 200, from: "shanghai", signature, body: answer })).toBe(true);
    expect(await verifyResponse(atBeijing, { nonce: "n-124", status: 200, from: "shanghai", signature, body: answer })).toBe(false);
    expect(await verifyResponse(atBeijing, { nonce, status: 500, from: "shanghai", signature, body: answer })).toBe(false);
    expect(await verifyResponse(atBeijing, { nonce, status: 200, from: "shanghai", signature, body: "{}" })).toBe(false);
    expect(await verifyResponse(atBeijing, { nonce, status: 200, from: "shanghai", signature: null, body: answer })).toBe(false);
  });
});

describe("streamed bodies", async () => {
  const bj = await keyPair();
  const sh = await keyPair();
  const nodes = [
    { name: "beijing", url: "http://127.0.0.1:1", publicKey: bj.pub },
    { name: "shanghai", url: "http://127.0.0.1:2", publicKey: sh.pub },
  ];
  const atShanghai: Cluster = { self: "shanghai", nodes };
  const atBeijing: Cluster = { self: "beijing", nodes };
  const path = "/link/v1/rooms/r_x@beijing/files?user=u_y@shanghai";

  it("a streamed request's signature never passes for an ordinary one, nor the reverse", async () => {
    const streamed = await signRequest(bj.key, { from: "beijing", to: "shanghai", method: "POST", path, bodyHash: STREAMED_BODY });
    const verify = (headers: Record<string, string>, over: { body: string | null; bodyHash?: typeof STREAMED_BODY }) =>
      verifyRequest(atShanghai, new ReplayGuard(), { method: "POST", path, headers: new Headers(headers), ...over });
    expect((await verify(streamed, { body: null, bodyHash: STREAMED_BODY })).ok).toBe(true);
    expect(await verify(streamed, { body: "" })).toEqual({ ok: false, why: "bad_signature" });
    expect(await verify(streamed, { body: STREAMED_BODY })).toEqual({ ok: false, why: "bad_signature" });
    const ordinary = await signRequest(bj.key, { from: "beijing", to: "shanghai", method: "POST", path, body: "" });
    expect(await verify(ordinary, { body: null, bodyHash: STREAMED_BODY })).toEqual({ ok: false, why: "bad_signature" });
  });

  it("a trailer is bound to its bytes, its request, its direction and its signer", async () => {
    const f = { kind: "request" as const, nonce: "n-1", from: "shanghai", to: "beijing", size: 12, sha256: "abc" };
    const signature = await signStreamTrailer(sh.key, f);
    expect(signature.length).toBe(64);
    expect(await verifyStreamTrailer(atBeijing, { ...f, signature })).toBe(true);
    for (const wrong of [{ size: 13 }, { sha256: "abd" }, { nonce: "n-2" }, { kind: "response" as const }, { from: "beijing", to: "shanghai" }]) {
      expect(await verifyStreamTrailer(wrong.to === "shanghai" ? atShanghai : atBeijing, { ...f, ...wrong, signature }), JSON.stringify(wrong)).toBe(false);
    }
    expect(await verifyStreamTrailer(atBeijing, { ...f, signature: await signStreamTrailer(bj.key, f) })).toBe(false);
  });
});

describe("room channels", () => {
  // Both ends of one channel (shared/link-channel.ts): each side's ephemeral key and the upgrade's nonce.
  async function pair(nonce = "nonce-1") {
    const home = await channelOffer();
    const mirror = await channelOffer();
    const atHome = await channelSecret(home.privateKey, mirror.publicKey, nonce);
    const atMirror = await channelSecret(mirror.privateKey, home.publicKey, nonce);
    return { home: await channelKey(atHome!), mirror: await channelKey(atMirror!), atHome: atHome!, atMirror: atMirror! };
  }

  it("derives one secret on both ends, another for another nonce or another key", async () => {
    const a = await pair();
    expect(Buffer.from(a.atHome).equals(Buffer.from(a.atMirror))).toBe(true);
    const b = await pair();
    expect(Buffer.from(a.atHome).equals(Buffer.from(b.atHome))).toBe(false);
    const home = await channelOffer();
    const mirror = await channelOffer();
    const x = await channelSecret(home.privateKey, mirror.publicKey, "n-1");
    const y = await channelSecret(home.privateKey, mirror.publicKey, "n-2");
    expect(Buffer.from(x!).equals(Buffer.from(y!))).toBe(false);
    expect(await channelSecret(home.privateKey, "not-a-key", "n-1")).toBeNull();
    expect(await channelSecret(home.privateKey, Buffer.alloc(31).toString("base64url"), "n-1")).toBeNull();
  });

  it("opens a sealed frame only with the channel's key, its direction, its number and its exact text", async () => {
    const { home, mirror } = await pair();
    const other = (await pair()).mirror;
    const payload = JSON.stringify({ room: { id: "r_x@beijing" }, messages: [{ text: "上海 👍" }] });
    const frame = await sealFrame(home, "push", 7, payload);
    expect(await openFrame(mirror, "push", frame)).toEqual({ n: 7, payload });
    expect(await openFrame(other, "push", frame)).toBeNull();
    expect(await openFrame(mirror, "ack", frame)).toBeNull();
    const [mac, , ...rest] = frame.split(".");
    expect(await openFrame(mirror, "push", [mac, "8", ...rest].join("."))).toBeNull();
    expect(await openFrame(mirror, "push", frame.replace("上海", "北京"))).toBeNull();
    expect(await openFrame(mirror, "push", frame.slice(0, -1))).toBeNull();
    expect(await openFrame(mirror, "push", `${"A".repeat(43)}.7.${payload}`)).toBeNull();
    for (const junk of ["", ".", "x.1.{}", `${mac}.0.${payload}`, `${mac}.-1.${payload}`, `${mac}.01.${payload}`, `${mac}..${payload}`]) expect(await openFrame(mirror, "push", junk)).toBeNull();
  });
});
