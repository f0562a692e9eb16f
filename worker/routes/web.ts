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
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app-env";
import { notFoundHandler } from "../middleware/errors";
import { ASSETS, type WebAsset } from "../../web/dist/assets.gen";

const decoded = new Map<string, Uint8Array>();
function bodyOf(path: string, asset: WebAsset): string | Uint8Array {
  if (!asset.base64) return asset.body;
  let bytes = decoded.get(path);
  if (!bytes) {
    bytes = Uint8Array.from(atob(asset.body), (ch) => ch.charCodeAt(0));
    decoded.set(path, bytes);
  }
  return bytes;
}

function serve(c: Context, path: string, asset: WebAsset): Response {
  const headers: Record<string, string> = {
    "Content-Type": asset.contentType,
    ETag: asset.etag,
    "Cache-Control": path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
  };
  if (c.req.header("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
  return new Response(c.req.method === "HEAD" ? null : bodyOf(path, asset), { status: 200, headers });
}

export const web = new Hono<AppEnv>().get("*", (c) => {
  const path = new URL(c.req.url).pathname;
  if (path === "/api" || path.startsWith("/api/")) return notFoundHandler(c);
  const asset = ASSETS[path];
  if (asset && path !== "/index.html") return serve(c, path, asset);
  // A missing file with an extension (an old hashed script) is a 404, not HTML in its place.
  if (/\.[a-z0-9]{1,8}$/i.test(path) && path !== "/index.html") return notFoundHandler(c);
  const index = ASSETS["/index.html"];
  return index ? serve(c, "/index.html", index) : c.text("web client not built: run npm run build", 503);
});
