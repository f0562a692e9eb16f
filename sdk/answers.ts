/** Reading a node's REST answer: the value it carries, or the error it reports. */
import type { z } from "zod";
import { lenient } from "../protocol/lenient";
import { OutpostApiError } from "./errors";

/**
 * JSON body → value (checked with the lenient copy of `schema`), or
 * `OutpostApiError` carrying the node's error code. Error bodies are read by
 * hand, not with ErrorBodySchema: any answer must give an error, whether it is
 * a proxy's HTML page or a code a newer node added.
 */
export function parseAnswer<T>(status: number, text: string, what: string, schema?: z.ZodType<T>): T {
  let value: unknown = undefined;
  try {
    value = text ? JSON.parse(text) : undefined;
  } catch {
    // an HTML error page from a proxy: reported below by status
  }
  if (status < 200 || status > 299) {
    const e = (value as { error?: { code?: unknown; message?: unknown; retryAfterMs?: unknown; field?: unknown } } | undefined)?.error;
    const wait = typeof e?.retryAfterMs === "number" && Number.isFinite(e.retryAfterMs) && e.retryAfterMs >= 0 ? e.retryAfterMs : undefined;
    throw new OutpostApiError(status, typeof e?.code === "string" ? e.code : "http_" + status, typeof e?.message === "string" ? e.message : `HTTP ${status}`, wait, typeof e?.field === "string" && e.field.length <= 200 ? e.field : undefined);
  }
  if (!schema) return value as T;
  const parsed = lenient(schema).safeParse(value);
  if (!parsed.success) throw new OutpostApiError(status, "bad_response", `unexpected response to ${what}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
