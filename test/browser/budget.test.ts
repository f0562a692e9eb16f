/**
 * The first screen's JavaScript stays within 60 KB gzipped, and the node serves
 * the built client itself: index.html revalidated, hashed assets cached for a
 * year, client routes falling back to index.html, API paths never HTML.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, type OutpostNode } from "../harness";

const dist = path.resolve(import.meta.dirname, "../../web/dist");
const BUDGET = 60 * 1024;

/** Scripts the browser loads before anything else: module entries and their modulepreloads. */
export function firstScreenScripts(html: string): string[] {
  const srcs = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]);
  return [...new Set([...srcs, ...preloads])];
}

describe("web client build", () => {
  const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");

  it(`loads at most ${BUDGET / 1024} KB of gzipped JavaScript for the first screen`, () => {
    const scripts = firstScreenScripts(html);
    expect(scripts.length).toBeGreaterThan(0);
    let total = 0;
    for (const src of scripts) total += zlib.gzipSync(fs.readFileSync(path.join(dist, src))).length;
    console.log(`first-screen JS: ${(total / 1024).toFixed(1)} KB gzipped (${scripts.join(", ")})`);
    expect(total).toBeLessThanOrEqual(BUDGET);
  });

  it("index.html has no inline script or style (the CSP would refuse them)", () => {
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });
});

describe("the node serves the client", () => {
  let node: OutpostNode;
  beforeAll(async () => {
    node = await startNode();
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  it("index.html at / and for client routes, no-cache, with the strict CSP", async () => {
    for (const p of ["/", "/r/r_aaaaaaaaaaaaaaaa@local", "/setup"]) {
      const res = await fetch(node.url + p);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await res.text()).toContain('<div id="app">');
    }
  });

  it("hashed assets are immutable and revalidate by ETag", async () => {
    const html = await (await fetch(node.url + "/")).text();
    const [src] = firstScreenScripts(html);
    const res = await fetch(node.url + src);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(res.headers.get("cache-control")).toContain("immutable");
    await res.arrayBuffer();
    const again = await fetch(node.url + src, { headers: { "if-none-match": res.headers.get("etag")! } });
    expect(again.status).toBe(304);
  });

  it("API paths and missing files are JSON 404s, never the HTML page", async () => {
    for (const p of ["/api/v1/no-such-thing", "/api/nope", "/assets/missing-abc123.js"]) {
      const res = await fetch(node.url + p);
      // Unknown /api/v1 paths meet the sign-in check first: 401, still JSON.
      expect(p.startsWith("/api/v1/") ? [401, 404] : [404]).toContain(res.status);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
    }
    expect((await fetch(node.url + "/api/v1/me")).status).toBe(401);
  });
});
