/**
 * The node's key and the cluster file, as `npm start` reads them: a key made
 * once (0600) and kept; a cluster file that names this node with this node's
 * key; every kind of bad file is one clear error.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureNodeKey, generateNodeKey } from "../../ops/node-key.mjs";
import { loadCluster, peerAddresses } from "../../ops/cluster.mjs";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "outpost-cluster-"));

describe("node key", () => {
  it("is made once, 0600, and kept across starts", async () => {
    const dir = tmp();
    const first = await ensureNodeKey(dir);
    expect(first.created).toBe(true);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(first.publicKey, "base64url")).toHaveLength(32);
    const again = await ensureNodeKey(dir);
    expect(again).toMatchObject({ created: false, publicKey: first.publicKey, privateKey: first.privateKey });
  });

  it("refuses a key file others can read, a broken one, and a mismatched pair", async () => {
    const dir = tmp();
    const { file } = await ensureNodeKey(dir);
    fs.chmodSync(file, 0o644);
    await expect(ensureNodeKey(dir)).rejects.toThrow(/readable by other users/);
    fs.chmodSync(file, 0o600);
    const other = await generateNodeKey();
    const mine = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ publicKey: other.publicKey, privateKey: mine.privateKey }));
    await expect(ensureNodeKey(dir)).rejects.toThrow(/does not belong/);
    fs.writeFileSync(file, "{not json");
    await expect(ensureNodeKey(dir)).rejects.toThrow(/not a node key file/);
  });
});

describe("cluster file", async () => {
  const [bj, sh] = [await generateNodeKey(), await generateNodeKey()];
  const good = { nodes: [{ name: "beijing", url: "http://127.0.0.1:9101", publicKey: bj.publicKey }, { name: "shanghai", url: "https://sh.example.org/", publicKey: sh.publicKey }] };

  it("reads a good file from disk or from the node config, and names the peers' addresses", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "cluster.json"), JSON.stringify(good));
    const c = loadCluster("cluster.json", { self: "beijing", selfKey: bj.publicKey, baseDir: dir });
    expect(c.nodes.map((n) => [n.name, n.url])).toEqual([["beijing", "http://127.0.0.1:9101"], ["shanghai", "https://sh.example.org"]]);
    expect(loadCluster(good, { self: "shanghai", selfKey: sh.publicKey }).self).toBe("shanghai");
    const local = loadCluster({ nodes: [good.nodes[0], { ...good.nodes[1], url: "http://127.0.0.1:9102" }] }, { self: "beijing", selfKey: bj.publicKey });
    expect(await peerAddresses(local)).toEqual(["127.0.0.1/32"]);
  });

  it("turns each kind of bad file into one clear error", () => {
    const load = (v: unknown, self = "beijing", key = bj.publicKey) => () => loadCluster(v, { self, selfKey: key });
    expect(load(good, "shenzhen")).toThrow(/this node \("shenzhen", OUTPOST_NODE\) is not in it/);
    expect(load({ nodes: [good.nodes[0], { ...good.nodes[1], name: "beijing" }] })).toThrow(/appears twice/);
    expect(load({ nodes: [good.nodes[0], { ...good.nodes[1], publicKey: "short" }] })).toThrow(/nodes\.1\.publicKey: the base64url of a 32-byte/);
    expect(load({ nodes: [good.nodes[0], { ...good.nodes[1], url: "ftp://x" }] })).toThrow(/nodes\.1\.url: an http\(s\) URL/);
    expect(load({ nodes: [good.nodes[0], { ...good.nodes[1], url: "http://x/some/path" }] })).toThrow(/nodes\.1\.url/);
    expect(load({ nodes: [good.nodes[0], { ...good.nodes[1], publicKey: bj.publicKey }] })).toThrow(/share the public key/);
    expect(load(good, "beijing", sh.publicKey)).toThrow(/is not this node's key/);
    expect(load({ nodes: [{ ...good.nodes[0], extra: 1 }] })).toThrow(/nodes\.0/);
    expect(load({ nodes: [] })).toThrow(/nodes/);
    expect(() => loadCluster("/nonexistent/cluster.json", { self: "beijing", selfKey: bj.publicKey })).toThrow(/cannot read it \(ENOENT\)/);
  });

  it("reads the organisation's CA (`ca`, relative to the file) and refuses one that is not a CA certificate", () => {
    const dir = tmp();
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=org", "-addext", "basicConstraints=critical,CA:TRUE"], { cwd: dir, stdio: "ignore" });
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.pem", "-days", "1", "-subj", "/CN=leaf", "-addext", "basicConstraints=critical,CA:FALSE"], { cwd: dir, stdio: "ignore" });
    const at = (ca: string) => {
      fs.writeFileSync(path.join(dir, "cluster.json"), JSON.stringify({ ca, ...good }));
      return () => loadCluster("cluster.json", { self: "beijing", selfKey: bj.publicKey, baseDir: dir });
    };
    const c = at("ca.pem")();
    expect(c.ca?.file).toBe(path.join(dir, "ca.pem"));
    expect(c.ca?.pem).toContain("-----BEGIN CERTIFICATE-----");
    expect(at("missing.pem")).toThrow(/ca: cannot read .*missing\.pem \(ENOENT\)/);
    expect(at("ca.key")).toThrow(/ca: .*holds no PEM certificate/);
    expect(at("leaf.pem")).toThrow(/not a CA certificate/);
  });
});
