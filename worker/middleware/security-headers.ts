/**
 * Headers on every response. The web client needs no inline script and no
 * third-party origin, so the Content-Security-Policy can be strict.
 */
import type { Context, MiddlewareHandler } from "hono";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The response's headers, ready to change. Responses passed through from a
 * Durable Object (a refused upgrade, say) have immutable headers: those are
 * copied into a new response once.
 */
export function mutableHeaders(c: Context): Headers {
  try {
    c.res.headers.set("X-Content-Type-Options", "nosniff");
  } catch {
    c.res = new Response(c.res.body, c.res);
  }
  return c.res.headers;
}

export function securityHeaders(): MiddlewareHandler {
  return async function securityHeaders(c, next) {
    await next();
    // A 101 (WebSocket) response keeps its own headers.
    if (c.res.status === 101) return;
    const h = mutableHeaders(c);
    h.set("X-Content-Type-Options", "nosniff");
    h.set("Referrer-Policy", "no-referrer");
    h.set("X-Frame-Options", "DENY");
    h.set("Cross-Origin-Opener-Policy", "same-origin");
    h.set("Cross-Origin-Resource-Policy", "same-origin");
    h.set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()");
    if (!h.has("Content-Security-Policy")) h.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    // API answers are never cached, unless the route says otherwise (an avatar under its
    // hash is immutable: worker/avatars.ts; a file download revalidates: routes/files.ts).
    if (new URL(c.req.url).pathname.startsWith("/api/") && !h.has("Cache-Control")) h.set("Cache-Control", "no-store");
  };
}
