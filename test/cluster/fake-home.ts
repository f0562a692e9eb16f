/**
 * Acting as a room's home on the link, from outside (the channel tests): a
 * channel opened straight at a node's listener with a node's own key (read
 * from its data folder) or unsigned, and pushes built by hand. The strongest
 * attacker short of the home itself, and an older or newer home than the node.
 */
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { expect } from "vitest";
import { importPrivateKey, signRequest, verifyResponse, LINK_HEADERS } from "../../durable-objects/shared/link-auth";
import { CHANNEL_ACKS_HEADER, CHANNEL_KEY_HEADER, channelKey, channelOffer, channelSecret } from "../../durable-objects/shared/link-channel";
import type { TestCluster } from "./cluster-harness";

const publicKeyOf = (cluster: TestCluster, node: string) => JSON.parse(fs.readFileSync(path.join(cluster.nodes[node].dataDir, "node-key.json"), "utf8")).publicKey as string;
export const keyOf = async (cluster: TestCluster, node: string) => importPrivateKey(JSON.parse(fs.readFileSync(path.join(cluster.nodes[node].dataDir, "node-key.json"), "utf8")).privateKey);
/** The channel upgrade's path; `batch`: ask for batched answers, as homes since batching do; `sends`: take the node's sends on it. */
export const streamPath = (room: string, k: string, batch = false, sends = false) => `/link/v1/rooms/${encodeURIComponent(room)}/stream?k=${k}${batch ? "&acks=batch" : ""}${sends ? "&sends=1" : ""}`;

/**
 * Open a channel to `to` straight at its listener (no proxy), as node `as` (with its key) or
 * unsigned; `batch` asks for batched answers, `sends` says it takes the node's sends on the
 * channel. `batched`: the node said it will batch them.
 */
export async function openChannel(cluster: TestCluster, to: string, room: string, as: string | null, { batch = false, sends = false } = {}) {
  const offer = await channelOffer();
  const p = streamPath(room, offer.publicKey, batch, sends);
  const headers = as ? await signRequest(await keyOf(cluster, as), { from: as, to, method: "GET", path: p, body: null }) : {};
  const ws = new WebSocket(`${cluster.nodes[to].wsUrl}${p}`, { headers });
  const opened = await new Promise<{ ok: true; headers: Record<string, string | string[] | undefined> } | { ok: false; status: number }>((resolve) => {
    ws.once("upgrade", (res) => resolve({ ok: true, headers: res.headers }));
    ws.once("unexpected-response", (_req, res) => resolve({ ok: false, status: res.statusCode ?? 0 }));
    ws.once("error", () => resolve({ ok: false, status: 0 }));
  });
  if (!opened.ok) return { status: opened.status, ws: null, key: null, batched: false };
  await new Promise((r) => (ws.readyState === WebSocket.OPEN ? r(null) : ws.once("open", r)));
  const theirs = String(opened.headers[CHANNEL_KEY_HEADER] ?? "");
  const nonce = String(headers[LINK_HEADERS.nonce]);
  const cfg = { self: as!, nodes: cluster.names.map((name) => ({ name, url: "", publicKey: publicKeyOf(cluster, name) })) };
  expect(await verifyResponse(cfg, { nonce, status: 101, from: to, signature: String(opened.headers[LINK_HEADERS.signature] ?? ""), body: theirs })).toBe(true);
  const key = await channelKey((await channelSecret(offer.privateKey, theirs, nonce))!);
  return { status: 101, ws, key, batched: opened.headers[CHANNEL_ACKS_HEADER] === "batch" };
}

/** A push of one message (seq = version = `seq`) of a group room made by `createdBy`, with `members` when given. */
export function pushOf(room: string, seq: number, text: string, opts: { createdBy: string; stamp: number; members?: { userId: string; username: string; displayName: string }[] }): string {
  return JSON.stringify({
    room: { id: room, name: "Channel", topic: "", kind: "group", visibility: "private", createdBy: opts.createdBy, createdAt: opts.stamp, residency: "everywhere" },
    members: opts.members ? opts.members.map((m) => ({ ...m, role: m.userId === opts.createdBy ? "admin" : "member", joinedAt: opts.stamp })) : null,
    membersRev: 1,
    lastSeq: seq,
    version: seq,
    after: seq - 1,
    messages: [{ id: `m_forged${seq}`, roomId: room, seq, clientId: `f-${seq}`, senderId: opts.createdBy, text, replyTo: null, mentions: { users: [], all: false }, reactions: [], attachments: [], createdAt: opts.stamp, editedAt: null, deletedAt: null, version: seq }],
    reads: [],
  });
}

export const closed = (ws: WebSocket) => new Promise<number>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve(-1) : ws.once("close", (code) => resolve(code))));
