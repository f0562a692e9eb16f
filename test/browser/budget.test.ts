/**
 * The first screen's JavaScript stays within 60 KB on the wire, as Chromium
 * receives it (the Performance API's transfer sizes, not a size computed from
 * the files), and the node serves the built client itself: precompressed
 * (brotli, gzip) by Accept-Encoding, index.html revalidated, hashed assets
 * cached for a year, client routes falling back to index.html, API paths never HTML.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compress } from "../../scripts/build-web.mjs";
import { startNode, type OutpostNode } from "../harness";
import { openBrowser } from "./browser";

const dist = path.resolve(import.meta.dirname, "../../web/dist");
const BUDGET = 60 * 1024;

/** Scripts the browser loads before anything else: module entries and their modulepreloads. */
export function firstScreenScripts(html: string): string[] {
  const srcs = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]);
  return [...new Set([...srcs, ...preloads])];
}

/** Every file of the build, by the URL path the node serves it at. */
function builtFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>([["/", fs.readFileSync(path.join(dist, "index.html"))]]);
  for (const name of fs.readdirSync(path.join(dist, "assets"))) files.set(`/assets/${name}`, fs.readFileSync(path.join(dist, "assets", name)));
  return files;
}

/** Node's http, which (unlike fetch) neither asks for nor undoes a content coding: the bytes as sent. */
function raw(url: string, headers: Record<string, string>, method = "GET"): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === "br") return zlib.brotliDecompressSync(body);
  if (encoding === "gzip") return zlib.gunzipSync(body);
  expect(encoding).toBeUndefined();
  return body;
}

describe("web client build", () => {
  const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");

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

  it("sends each file in the coding Accept-Encoding prefers, with its length, Vary and an ETag per coding", async () => {
    const cases: [string | null, string | undefined][] = [
      ["gzip, deflate, br, zstd", "br"], // Chromium over https
      ["gzip, deflate", "gzip"], // Chromium over plain http
      ["br;q=0, gzip", "gzip"],
      ["gzip;q=1, br;q=0.5", "gzip"],
      ["*", "br"],
      ["deflate", undefined],
      ["br;q=0, gzip;q=0", undefined],
      [null, undefined], // curl, scripts: the original bytes
    ];
    for (const [urlPath, original] of builtFiles()) {
      // Images and fonts are compressed already, and a text file of a few hundred bytes does not
      // shrink by a tenth (scripts/build-web.mjs): those go as they are, whatever is asked.
      const shrinks = (await compress(original)).gzip.length <= original.length * 0.9;
      const text = (urlPath === "/" || /\.(js|css|html|svg|json|txt)$/.test(urlPath)) && shrinks;
      const etags = new Map<string | undefined, string>();
      for (const [accept, expected] of cases) {
        const res = await raw(node.url + urlPath, accept === null ? {} : { "accept-encoding": accept });
        const what = `${urlPath} with Accept-Encoding: ${accept}`;
        expect(res.status, what).toBe(200);
        if (!text) {
          expect(res.headers["content-encoding"], what).toBeUndefined();
          expect(res.body.equals(original), what).toBe(true);
          continue;
        }
        expect(res.headers["content-encoding"], what).toBe(expected);
        expect(res.headers.vary, what).toMatch(/accept-encoding/i);
        expect(res.headers["transfer-encoding"], what).toBeUndefined();
        expect(Number(res.headers["content-length"]), what).toBe(res.body.length);
        expect(decode(res.body, expected).equals(original), what).toBe(true);
        if (expected) expect(res.body.length, what).toBeLessThan(original.length);
        const etag = res.headers.etag!;
        expect(etags.get(expected) ?? etag, what).toBe(etag);
        etags.set(expected, etag);
      }
      if (text) expect(new Set(etags.values()).size).toBe(3); // br, gzip and identity: three validators
    }
  });

  it("answers 304 per coding, and HEAD with the coded length and no body", async () => {
    const [src] = firstScreenScripts(await (await fetch(node.url + "/")).text());
    for (const accept of ["br", "gzip", "identity"]) {
      const first = await raw(node.url + src, { "accept-encoding": accept });
      const etag = first.headers.etag!;
      const again = await raw(node.url + src, { "accept-encoding": accept, "if-none-match": `"nope", W/${etag}` });
      expect(again.status).toBe(304);
      expect(again.headers.etag).toBe(etag);
      expect(again.headers.vary).toMatch(/accept-encoding/i);
      expect(again.body.length).toBe(0);
      // The same validator under another coding names another body: a full answer.
      const other = await raw(node.url + src, { "accept-encoding": accept === "br" ? "gzip" : "br", "if-none-match": etag });
      expect(other.status).toBe(200);
      const head = await raw(node.url + src, { "accept-encoding": accept }, "HEAD");
      expect(head.status).toBe(200);
      expect(head.headers["content-length"]).toBe(String(first.body.length));
      expect(head.headers["content-encoding"]).toBe(first.headers["content-encoding"]);
      expect(head.body.length).toBe(0);
    }
  });

  it(`Chromium receives at most ${BUDGET / 1024} KB of JavaScript for the first screen, compressed`, async () => {
    const browser = await openBrowser(node.url);
    try {
      const { page } = browser;
      await page.goto("/");
      await page.locator('input[name="username"]').waitFor();
      // Every script the page fetched before its first screen showed: the ones index.html names,
      // and the chunks they import on the way (the language's strings), not only the former.
      const named = firstScreenScripts(await (await fetch(node.url + "/")).text()).map((s) => new URL(s, node.url).href);
      const entries = await page.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .filter((e) => /\/assets\/[^/]+\.js$/.test(new URL(e.name).pathname))
          .map((e) => {
            const r = e as PerformanceResourceTiming;
            return { name: r.name, transferSize: r.transferSize, encodedBodySize: r.encodedBodySize, decodedBodySize: r.decodedBodySize };
          }),
      );
      const scripts = entries.map((e) => e.name);
      for (const n of named) expect(scripts).toContain(n);
      expect(scripts.some((n) => /strings-(en|zh)/.test(n)), "the language's strings are fetched for the first screen").toBe(true);
      const wire = entries.reduce((n, e) => n + e.transferSize, 0);
      console.log(`first-screen JS on the wire (Chromium, ${new URL(node.url).protocol}): ${(wire / 1024).toFixed(1)} KB transferred, ${(entries.reduce((n, e) => n + e.decodedBodySize, 0) / 1024).toFixed(1)} KB decoded (${entries.map((e) => `${e.name.slice(node.url.length)} ${e.transferSize} B`).join(", ")})`);
      for (const e of entries) expect(e.encodedBodySize, e.name).toBeLessThan(e.decodedBodySize * 0.5);
      expect(wire).toBeGreaterThan(0);
      expect(wire).toBeLessThanOrEqual(BUDGET);
      // Chromium offers brotli only to secure origins (loopback counts as one): an office
      // reaching its node over plain http on the LAN gets gzip, which must fit too.
      let gzip = 0;
      for (const src of scripts) gzip += (await raw(src, { "accept-encoding": "gzip, deflate" })).body.length;
      console.log(`first-screen JS as gzip (a browser on plain http): ${(gzip / 1024).toFixed(1)} KB`);
      expect(gzip).toBeLessThanOrEqual(BUDGET);
    } finally {
      await browser.close();
    }
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
