/**
 * The web client, served by the node itself. The built files (web/dist) are
 * embedded in the Worker bundle through web/dist/assets.gen.ts, written by
 * `npm run build` (scripts/build-web.mjs; `npm start`, `npm run dev` and the test
 * scripts run it when the sources changed), so a self-hosted node needs no static
 * file server and no change to its workerd config.
 *
 * Hashed files under /assets/ never change: cached for a year. index.html is
 * `no-cache` (revalidated by ETag), so a new release is picked up at once. Any
 * other GET that is not an API path gets index.html: the client routes itself.
 *
 * Text files come precompressed from the build (brotli and gzip); each request
 * gets the form its Accept-Encoding prefers (content-coding.ts), with `Vary:
 * Accept-Encoding` and an ETag per form (`"<hash>.br"`, `"<hash>.gz"`, `"<hash>"`),
 * so a cache never hands a gzip body to a client that asked for brotli, or one
 * form's validator to another. `encodeBody: "manual"` matters: without it workerd
 * reads a Content-Encoding header as "compress this for me" and would compress
 * the already compressed bytes again (chunked, no Content-Length).
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env";
import { notFoundHandler } from "../middleware/errors";
import { chooseEncoding, noneMatch, type ChosenEncoding, type StoredEncoding } from "../content-coding";
import { ASSETS, type WebAsset } from "../../web/dist/assets.gen";

const SUFFIX: Record<ChosenEncoding, string> = { br: ".br", gzip: ".gz", identity: "" };

/** Decoded bodies, per path and coding: base64 (and, for identity, gunzip) once per isolate. */
const bodies = new Map<string, Uint8Array | string>();

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function bodyOf(path: string, asset: WebAsset, encoding: ChosenEncoding): Promise<Uint8Array | string> {
  const key = `${encoding} ${path}`;
  let body = bodies.get(key);
  if (body === undefined) {
    if (encoding === "br") body = fromBase64(asset.br!);
    else if (encoding === "gzip") body = fromBase64(asset.gzip!);
    else if (asset.body !== undefined) body = asset.base64 ? fromBase64(asset.body) : asset.body;
    else body = await gunzip(fromBase64(asset.gzip!)); // only compressed forms stored: see scripts/build-web.mjs
    bodies.set(key, body);
  }
  return body;
}

async function serve(c: Context, path: string, asset: WebAsset): Promise<Response> {
  const available: StoredEncoding[] = [];
  if (asset.br) available.push("br");
  if (asset.gzip) available.push("gzip");
  const encoding = chooseEncoding(c.req.header("accept-encoding"), available);
  const etag = `"${asset.hash}${SUFFIX[encoding]}"`;
  const headers: Record<string, string> = {
    "Content-Type": asset.contentType,
    ETag: etag,
    "Cache-Control": path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
  };
  if (available.length) headers.Vary = "Accept-Encoding";
  if (noneMatch(c.req.header("if-none-match"), etag)) return new Response(null, { status: 304, headers });
  const body = await bodyOf(path, asset, encoding);
  if (encoding !== "identity") headers["Content-Encoding"] = encoding;
  headers["Content-Length"] = String(typeof body === "string" ? asset.size : body.byteLength);
  return new Response(c.req.method === "HEAD" ? null : body, { status: 200, headers, encodeBody: "manual" });
}

export const web = new Hono<AppEnv>().get("*", async (c) => {
  const path = new URL(c.req.url).pathname;
  if (path === "/api" || path.startsWith("/api/")) return notFoundHandler(c);
  const asset = ASSETS[path];
  if (asset && path !== "/index.html") return serve(c, path, asset);
  // A missing file with an extension (an old hashed script) is a 404, not HTML in its place.
  if (/\.[a-z0-9]{1,8}$/i.test(path) && path !== "/index.html") return notFoundHandler(c);
  const index = ASSETS["/index.html"];
  return index ? serve(c, "/index.html", index) : c.text("web client not built: run npm run build", 503);
});
