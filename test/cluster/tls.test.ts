/**
 * A cluster over https. Each node listens with TLS on a certificate made here by
 * the organisation's own CA (openssl); the cluster file lists `https://` URLs
 * and names that CA (`ca`), which the nodes trust for their links besides the
 * system's CAs. A room spanning two nodes delivers messages both ways over the
 * https links; a third node whose certificate another CA signed never gets a
 * link up (the others refuse it at the handshake), while the rest stay up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Agent, setGlobalDispatcher } from "undici";
import type { ClusterView } from "../../protocol/cluster";
import { loginAs } from "../harness";
import { startCluster, type TestCluster } from "./cluster-harness";
import { callNode, eventually } from "./cluster-client";

const PASSWORD = "cluster operator passphrase";
const USER_PASSWORD = "a long enough passphrase";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-tls-"));
let cluster: TestCluster;
const admin: Record<string, string> = {};

const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A CA: its key and self-signed certificate (CA:TRUE). */
function makeCa(name: string): void {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
}

/** A node's keypair for 127.0.0.1 (the name its URL uses), signed by `ca`. */
function makeNodeCert(node: string, ca: string): { cert: string; key: string } {
  fs.writeFileSync(path.join(dir, `${node}.ext`), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${node}.key`, "-out", `${node}.csr`, "-subj", `/CN=${node}`);
  openssl("x509", "-req", "-in", `${node}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${node}.pem`, "-days", "2", "-extfile", `${node}.ext`);
  return { cert: path.join(dir, `${node}.pem`), key: path.join(dir, `${node}.key`) };
}

async function linkState(from: string, to: string): Promise<string> {
  const res = await callNode(cluster, from, admin[from], "GET", "/cluster");
  return (res.body as ClusterView).nodes.find((n) => n.node === to)!.state;
}

beforeAll(async () => {
  makeCa("org-ca");
  makeCa("rogue-ca");
  const certs = { beijing: makeNodeCert("beijing", "org-ca"), shanghai: makeNodeCert("shanghai", "org-ca"), shenzhen: makeNodeCert("shenzhen", "rogue-ca") };
  // This test process trusts both CAs: it talks to every node directly; only the nodes choose whom to trust.
  setGlobalDispatcher(new Agent({ connect: { ca: [fs.readFileSync(path.join(dir, "org-ca.pem"), "utf8"), fs.readFileSync(path.join(dir, "rogue-ca.pem"), "utf8")] } }));
  cluster = await startCluster(["beijing", "shanghai", "shenzhen"], { adminPassword: PASSWORD, tls: { ca: path.join(dir, "org-ca.pem"), certs } });
  for (const n of cluster.names) admin[n] = await loginAs(cluster.nodes[n].url, "admin", PASSWORD);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a cluster over https", () => {
  it("lists https URLs and trusts the organisation's CA for its links", async () => {
    for (const n of cluster.names) expect(cluster.nodes[n].url).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const capnp = fs.readFileSync(cluster.nodes.beijing.configPath, "utf8");
    expect(capnp).toMatch(/trustedCertificates = \[embed "tls\/peers-ca\.pem"\]/);
    await eventually("beijing ↔ shanghai up over https", async () => (await linkState("beijing", "shanghai")) === "up" && (await linkState("shanghai", "beijing")) === "up", 15_000, 300);
  });

  it("delivers a room's messages between two nodes over https links", async () => {
    const made = await callNode(cluster, "shanghai", admin.shanghai, "POST", "/users", { username: "chenmei", password: USER_PASSWORD, displayName: "陈梅" });
    expect(made.status).toBe(201);
    const chenmei = { id: made.body.id as string, token: await loginAs(cluster.nodes.shanghai.url, "chenmei", USER_PASSWORD) };
    await eventually("beijing knows chenmei", async () => (await callNode(cluster, "beijing", admin.beijing, "GET", `/users/${chenmei.id}`)).status === 200, 15_000);
    const room = await callNode(cluster, "beijing", admin.beijing, "POST", "/rooms", { name: "TLS 测试", visibility: "private", members: [chenmei.id] });
    expect(room.status).toBe(201);
    const id = encodeURIComponent(room.body.id);
    expect((await callNode(cluster, "beijing", admin.beijing, "POST", `/rooms/${id}/messages`, { clientId: "bj-tls", text: "over https from Beijing" })).status).toBe(201);
    const seen = await eventually("the message in Shanghai's mirror", async () => {
      const h = await callNode(cluster, "shanghai", chenmei.token, "GET", `/rooms/${id}/messages`);
      return h.status === 200 && (h.body.messages as { text: string }[]).some((m) => m.text === "over https from Beijing") ? h.body.messages : null;
    }, 15_000);
    expect(seen.length).toBe(1);
    const back = await callNode(cluster, "shanghai", chenmei.token, "POST", `/rooms/${id}/messages`, { clientId: "sh-tls", text: "收到 over https" });
    expect(back.status).toBe(201);
    expect(back.body.seq).toBe(2);
    const home = await callNode(cluster, "beijing", admin.beijing, "GET", `/rooms/${id}/messages`);
    expect((home.body.messages as { text: string }[]).map((m) => m.text)).toEqual(["over https from Beijing", "收到 over https"]);
    // The room's pushes rode its channel over TLS (wss), not requests: no upgrade was refused.
    expect(cluster.nodes.beijing.stdout()).not.toContain('"room.channel_refused"');
  });

  it("keeps the link to a node whose certificate the CA did not sign down", async () => {
    // Several heartbeats (1.5 s each): it never comes up, from either trusting node.
    await new Promise((r) => setTimeout(r, 6000));
    expect(await linkState("beijing", "shenzhen")).toBe("down");
    expect(await linkState("shanghai", "shenzhen")).toBe("down");
    expect(await linkState("beijing", "shanghai")).toBe("up");
  });
});
