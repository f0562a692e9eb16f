// @ts-check
/**
 * The organisation's cluster file: which nodes exist, where the others reach
 * each one, and each node's public key.
 *
 *   {"nodes": [{"name": "beijing",  "url": "https://bj.chat.example.org", "publicKey": "…"},
 *              {"name": "shanghai", "url": "https://sh.chat.example.org", "publicKey": "…"}]}
 *
 * The same file goes to every node; the entry whose name equals the node's own
 * name (OUTPOST_NODE) is that node. `url` is how the *others* reach a node, so a
 * reverse proxy or a VPN may sit in between. Without a cluster file a node runs
 * alone. Anything wrong with the file is one clear start-up error.
 */
import { X509Certificate } from "node:crypto";
import dns from "node:dns/promises";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { z } from "zod";

const NODE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

const NodeEntry = z.strictObject({
  name: z.string().regex(NODE_NAME, "a node name: 1 to 32 lower-case letters, digits or '-'"),
  url: z
    .string()
    .refine((u) => {
      try {
        const parsed = new URL(u);
        return (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.pathname === "/" && !parsed.search && !parsed.hash && !parsed.username;
      } catch {
        return false;
      }
    }, "an http(s) URL with no path, e.g. https://sh.chat.example.org or http://10.1.2.3:8787")
    .transform((u) => new URL(u).origin),
  publicKey: z.string().refine((k) => /^[A-Za-z0-9_-]{43}$/.test(k) && Buffer.from(k, "base64url").length === 32, "the base64url of a 32-byte Ed25519 public key (what GET /healthz shows as publicKey)"),
  /**
   * false: rooms push to this node over one signed HTTP request each instead of
   * their channel (one WebSocket per room and node, docs/FEDERATION.md) — for a
   * proxy in front of the node that does not pass WebSocket upgrades. On the
   * node's own entry it refuses channels (as a node older than channels does).
   */
  channels: z.boolean().optional(),
});

/**
 * `ca`: the organisation's own CA certificate(s), a PEM file (relative to the
 * cluster file), for nodes whose `https://` URLs carry certificates it signed.
 * Trusted for node links only, beside the system's CAs (ops/workerd-config.mjs).
 */
const ClusterFile = z.strictObject({ ca: z.string().min(1, "a path to a PEM file of CA certificates").optional(), nodes: z.array(NodeEntry).min(1) });

/**
 * @typedef {{ name: string, url: string, publicKey: string, channels?: boolean }} ClusterNode
 * @typedef {{ self: string, nodes: ClusterNode[], file: string | null, ca?: { file: string, pem: string } | null }} Cluster
 */

/**
 * Read and check a cluster description (a file path, or the object itself from
 * the node config) for the node named `self` whose public key is `selfKey`.
 *
 * @param {unknown} source  a path (relative to `baseDir`) or an object
 * @param {{ self: string, selfKey: string, baseDir?: string }} options
 * @returns {Cluster}
 */
export function loadCluster(source, { self, selfKey, baseDir = process.cwd() }) {
  let file = null;
  let value = source;
  if (typeof source === "string") {
    file = path.resolve(baseDir, source);
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`cluster file ${file}: cannot read it (${/** @type {NodeJS.ErrnoException} */ (err).code ?? /** @type {Error} */ (err).message})`);
    }
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new Error(`cluster file ${file}: not valid JSON (${/** @type {Error} */ (err).message})`);
    }
  }
  const where = file ? `cluster file ${file}` : "cluster";
  const parsed = ClusterFile.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue.path.length ? issue.path.join(".") : "the file";
    throw new Error(`${where}: ${at}: ${issue.message}`);
  }
  const nodes = parsed.data.nodes;
  const seen = new Set();
  for (const n of nodes) {
    if (seen.has(n.name)) throw new Error(`${where}: the node name "${n.name}" appears twice`);
    seen.add(n.name);
  }
  const keys = new Set();
  for (const n of nodes) {
    if (keys.has(n.publicKey)) throw new Error(`${where}: two nodes share the public key of "${n.name}" (every node has its own key)`);
    keys.add(n.publicKey);
  }
  const me = nodes.find((n) => n.name === self);
  if (!me) throw new Error(`${where}: this node ("${self}", OUTPOST_NODE) is not in it (nodes: ${nodes.map((n) => n.name).join(", ")})`);
  if (me.publicKey !== selfKey) {
    throw new Error(`${where}: the public key listed for "${self}" is not this node's key (GET /healthz or node-key.json shows ${selfKey})`);
  }
  const ca = parsed.data.ca ? loadCa(parsed.data.ca, file ? path.dirname(file) : baseDir, where) : null;
  return { self, nodes, file, ca };
}

/**
 * The CA file named by the cluster file: read and checked now (every block a
 * certificate that parses), so a wrong path or a key pasted by mistake is a
 * start-up error and not a link that never comes up.
 *
 * @param {string} source  a path, relative to `baseDir`
 * @param {string} baseDir
 * @param {string} where
 * @returns {{ file: string, pem: string }}
 */
function loadCa(source, baseDir, where) {
  const file = path.resolve(baseDir, source);
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`${where}: ca: cannot read ${file} (${/** @type {NodeJS.ErrnoException} */ (err).code ?? /** @type {Error} */ (err).message})`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${where}: ca: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    let cert;
    try {
      cert = new X509Certificate(block);
    } catch (err) {
      throw new Error(`${where}: ca: ${file}: a certificate in it does not parse (${/** @type {Error} */ (err).message})`);
    }
    // A node's own certificate put here by mistake would trust nothing: say so now.
    if (!cert.ca) throw new Error(`${where}: ca: ${file}: "${cert.subject.replace(/\n/g, ", ")}" is not a CA certificate (basicConstraints CA:TRUE)`);
  }
  return { file, pem: blocks.join("\n") + "\n" };
}

/**
 * The addresses this node may connect to: every other node's host, resolved now,
 * as the CIDRs of workerd's `network` service (only these are reachable through
 * the PEERS binding: the Worker's ordinary outbound stays closed to private
 * addresses, so a later feature that fetches URLs cannot be turned against the LAN).
 *
 * @param {Cluster} cluster
 * @returns {Promise<string[]>}
 */
export async function peerAddresses(cluster) {
  const out = new Set();
  for (const n of cluster.nodes) {
    if (n.name === cluster.self) continue;
    const host = new URL(n.url).hostname.replace(/^\[|\]$/g, "");
    const ips = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true }).catch((err) => {
      throw new Error(`cluster: cannot resolve the host of "${n.name}" (${n.url}): ${err.code ?? err.message}`);
    })).map((a) => a.address);
    for (const ip of ips) out.add(net.isIPv6(ip) ? `${ip}/128` : `${ip}/32`);
  }
  return [...out].sort();
}
