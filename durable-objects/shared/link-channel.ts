/**
 * A room's channel to another node: one WebSocket per (room, node) from the
 * home room object to that node's mirror, carrying the room's pushes one frame
 * each and the mirror's acknowledgements back (room/peer-channel.ts opens it,
 * mirror/link-socket.ts serves it). A push no longer costs an HTTP request
 * through both nodes' Workers with four Ed25519 operations; several can be on
 * the way at once, in order.
 *
 * Authenticity is kept as for every other link request (link-auth.ts). The
 * upgrade is a signed request whose query carries the home's ephemeral X25519
 * public key; the answer (101) carries the mirror node's ephemeral public key
 * and is signed by that node over it, bound to the request's nonce. Both sides
 * derive the same HMAC-SHA256 key from the X25519 secret (HKDF, salted with
 * the nonce), and every frame carries a MAC over its direction, its number and
 * its text. A man in the middle of a plain-HTTP link sees the frames but can
 * neither forge, alter, replay nor reorder one (the numbers must follow each
 * other), and a frame from one channel means nothing on another (another key).
 *
 * Frame text: `<mac>.<n>.<payload>` — mac is base64url (43 characters), n the
 * frame's number (pushes 1, 2, 3 … ; an acknowledgement names the push it
 * answers), payload JSON.
 *
 * Batched acknowledgements (a later version; older nodes ignore the query
 * parameter and answer every push): a home that asks with `acks=batch` lets
 * the mirror write the pushes of a short moment together, in one commit, and
 * answer once for all of them — the acknowledgement names the last push it
 * covers, and covers every unanswered one before it. The mirror says it does
 * so with CHANNEL_ACKS_HEADER on its 101; the home then allows more pushes
 * unanswered at once (room/peer-push.ts). Not signed: a forged header changes
 * only how many pushes wait for an answer, never what an answer proves.
 *
 * Sends on the channel (a later version again): a home that asks with
 * `sends=1` (signed, as the whole query is) takes its node's members' sends on
 * the channel, the other way: the mirror's frame `~<mac>.<n>.{"s": LinkSendItem}`
 * (direction `send`, numbered 1, 2, 3 … on their own), the home's answer
 * `~<mac>.<n>.{"r": LinkSendResult}` (direction `sent`, the number of the send
 * it answers, in order). The leading `~` (never in base64url) tells them from
 * pushes and acknowledgements before any MAC is checked; the MAC covers the
 * direction, so one kind never passes for the other. A mirror told nothing
 * (an older home) keeps its sends on the link's queue; an older mirror ignores
 * the parameter and never sends one.
 */
import { b64url, fromB64url } from "./bytes";

/** The query parameter of the upgrade that carries the home's public key. */
export const CHANNEL_KEY_PARAM = "k";
/** The header of the 101 answer that carries the mirror's public key (the signed "body" of that answer). */
export const CHANNEL_KEY_HEADER = "x-outpost-link-channel-key";
/** The query parameter (value "batch") and the 101's header by which the two ends agree on batched acknowledgements. */
export const CHANNEL_ACKS_PARAM = "acks";
export const CHANNEL_ACKS_HEADER = "x-outpost-link-channel-acks";
/** The query parameter (value "1") by which a home says it takes its mirror's sends on the channel. */
export const CHANNEL_SENDS_PARAM = "sends";
/** The first character of a send or its answer (pushes and acknowledgements start with their MAC). */
export const SEND_MARK = "~";
/** The tag of a mirror's channel sockets (members' sockets carry `u:`, `s:` and a fan-out tag): never counted or reached as a member's. */
export const LINK_TAG = "link";
/** The largest frame either side sends or accepts (a push is cut to fit: room/peer-push.ts). */
export const CHANNEL_MAX_FRAME = 900 * 1024;

export type ChannelDirection = "push" | "ack" | "send" | "sent";

type Bytes = Uint8Array<ArrayBuffer>;
const encoder = new TextEncoder();
const own = (b: Uint8Array): Bytes => (b.buffer instanceof ArrayBuffer ? (b as Bytes) : new Uint8Array(b));

/** An ephemeral X25519 key pair for one channel, and its public half as base64url. */
export async function channelOffer(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
  const pair = (await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return { privateKey: pair.privateKey, publicKey: b64url(raw) };
}

/**
 * The raw 32-byte MAC key both sides derive: X25519(own private, peer public),
 * then HKDF-SHA256 salted with the upgrade's nonce. Null when the peer's key is
 * not a valid X25519 public key.
 */
export async function channelSecret(privateKey: CryptoKey, peerPublic: string, nonce: string): Promise<Uint8Array | null> {
  const raw = fromB64url(peerPublic);
  if (!raw || raw.length !== 32) return null;
  try {
    const pub = await crypto.subtle.importKey("raw", own(raw), { name: "X25519" }, false, []);
    const shared = await crypto.subtle.deriveBits({ name: "X25519", public: pub } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0], privateKey, 256);
    const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: encoder.encode(nonce), info: encoder.encode("outpost-link-channel-1") }, hkdf, 256);
    return new Uint8Array(bits);
  } catch {
    return null;
  }
}

/** The HMAC key of a channel from its raw secret. */
export function channelKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", own(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function macText(direction: ChannelDirection, n: number, payload: string): Bytes {
  return encoder.encode(`${direction}\n${n}\n${payload}`) as Bytes;
}

/** A frame's text: its MAC, its number, its payload. */
export async function sealFrame(key: CryptoKey, direction: ChannelDirection, n: number, payload: string): Promise<string> {
  const mac = b64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, macText(direction, n, payload))));
  return `${mac}.${n}.${payload}`;
}

/** A frame's number and payload when its MAC checks; null for anything else. */
export async function openFrame(key: CryptoKey, direction: ChannelDirection, text: string): Promise<{ n: number; payload: string } | null> {
  const dot1 = text.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : text.indexOf(".", dot1 + 1);
  if (dot1 !== 43 || dot2 < 0 || dot2 - dot1 > 16) return null;
  const digits = text.slice(dot1 + 1, dot2);
  if (!/^[1-9]\d{0,14}$/.test(digits)) return null;
  const mac = fromB64url(text.slice(0, dot1));
  if (!mac || mac.length !== 32) return null;
  const n = Number(digits);
  const payload = text.slice(dot2 + 1);
  const ok = await crypto.subtle.verify("HMAC", key, own(mac), macText(direction, n, payload));
  return ok ? { n, payload } : null;
}
