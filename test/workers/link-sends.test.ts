/**
 * `POST /link/v1/sends` at a room's home: a room that cannot be looked up just
 * now is a passing fault, not a room that does not exist.
 *
 * The sending node answered its member `202 queued` and keeps the send in its
 * durable queue until the home answers for it (durable-objects/link/send-queue.ts):
 * a result in `results` — even a refusal — drops it from that queue for good, a
 * `stopped` batch keeps it and the rest, in order, for the next try. So a
 * directory that fails to answer (its storage faulted, its object restarting)
 * must stop the batch; only a room the directory says it does not have is
 * refused `not_found`.
 *
 * The request is signed as a real peer's would be and served by the real link
 * routes, room and directory objects; the one thing added is the fault: the
 * directory binding fails its lookup for one room id, as a failing storage would.
 * And a batch with one malformed item is refused whole, before anything of it
 * is stored.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, history, newRoom, newUser } from "./helpers";
import { link } from "../../worker/routes/link";
import { signRequest } from "../../durable-objects/shared/link-auth";
import { LinkSendsAnswer } from "../../protocol/cluster";
import type { Env } from "../../durable-objects/shared/env";

const b64url = (b: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function keyPair() {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return {
    privateKey: pair.privateKey,
    pkcs8: b64url((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer),
    publicKey: b64url((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer),
  };
}

/** The directory binding, except that looking up `faultyId` fails the way a storage fault does. */
function directoryFailingFor(faultyId: string): typeof env.DIRECTORY {
  const real = env.DIRECTORY;
  return new Proxy(real, {
    get(target, prop) {
      if (prop !== "get") return Reflect.get(target, prop).bind(target);
      return (id: DurableObjectId) => {
        const stub = target.get(id);
        return new Proxy(stub, {
          get(s, p) {
            if (p === "existingIds")
              return async (ids: string[]) => {
                if (ids.includes(faultyId)) throw new Error("SQLITE_IOERR: disk I/O error");
                return (s as unknown as { existingIds(ids: string[]): Promise<string[]> }).existingIds(ids);
              };
            const v = Reflect.get(s, p);
            return typeof v === "function" ? v.bind(s) : v;
          },
        });
      };
    },
  });
}

describe("sends from another node into rooms homed here", () => {
  it("stops the batch (the sender keeps the send) when the room cannot be looked up, and refuses only a room that does not exist", async () => {
    const here = await keyPair();
    const peer = await keyPair();
    const self = env.NODE_NAME as string;
    const missing = `r_${"0".repeat(16)}@${self}`;
    const faulty = `r_${"1".repeat(16)}@${self}`;
    const testEnv = {
      ...env,
      NODE_PRIVATE_KEY: here.pkcs8,
      CLUSTER: { self, nodes: [{ name: self, url: "http://here.invalid", publicKey: here.publicKey }, { name: "peer", url: "http://peer.invalid", publicKey: peer.publicKey }] },
      DIRECTORY: directoryFailingFor(faulty),
    } as unknown as Env;
    const send = (roomId: string, clientId: string) => ({ roomId, userId: `u_${"2".repeat(16)}@peer`, sessionId: "s1", clientId, text: "hello" });
    const body = JSON.stringify({ items: [send(missing, "a"), send(faulty, "b"), send(missing, "c")] });
    const headers = await signRequest(peer.privateKey, { from: "peer", to: self, method: "POST", path: "/sends", body });
    const res = await link.request("/sends", { method: "POST", headers: { ...headers, "content-type": "application/json" }, body }, testEnv);
    expect(res.status).toBe(200);
    const answer = LinkSendsAnswer.parse(await res.json());
    // The room that does not exist is refused for good; the lookup that failed stops the batch
    // there, so "b" and "c" stay queued at the sender, in order.
    expect(answer.results.map((r) => [r.clientId, r.ok, r.ok ? null : r.code])).toEqual([["a", false, "not_found"]]);
    expect(answer.stopped).toBe("internal");
  });

  it("refuses a batch with a malformed item whole, storing nothing of the items before it", async () => {
    const here = await keyPair();
    const peer = await keyPair();
    const self = env.NODE_NAME as string;
    const testEnv = { ...env, NODE_PRIVATE_KEY: here.pkcs8, CLUSTER: { self, nodes: [{ name: self, url: "http://here.invalid", publicKey: here.publicKey }, { name: "peer", url: "http://peer.invalid", publicKey: peer.publicKey }] } } as unknown as Env;
    // A person of this node visiting the peer (worker/visitors/): the peer may act for them with their session.
    const visitor = await newUser("visiting");
    const sid = ((await api("GET", "/api/v1/me/sessions", { token: visitor.token })).body.sessions as { id: string; current: boolean }[]).find((x) => x.current)!.id;
    const room = await newRoom(visitor.token, "batch");
    const good = { roomId: room.id, userId: visitor.id, sessionId: sid, clientId: "v1", text: "sent while visiting" };
    const post = async (items: unknown[]) => {
      const body = JSON.stringify({ items });
      const headers = await signRequest(peer.privateKey, { from: "peer", to: self, method: "POST", path: "/sends", body });
      return link.request("/sends", { method: "POST", headers: { ...headers, "content-type": "application/json" }, body }, testEnv);
    };
    expect((await post([good, { ...good, clientId: 5 }])).status).toBe(400);
    expect((await history(visitor.token, room.id)).messages).toEqual([]);
    // The same good item alone is stored: the refusal above was the batch's, not the item's.
    const res = await post([good]);
    expect(res.status).toBe(200);
    expect(LinkSendsAnswer.parse(await res.json()).results.map((r) => [r.clientId, r.ok])).toEqual([["v1", true]]);
    expect((await history(visitor.token, room.id)).messages.map((m) => m.text)).toEqual(["sent while visiting"]);
  });
});
