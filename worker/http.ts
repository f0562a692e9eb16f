/**
 * Reading request input through the shared schemas: one place for "bad JSON",
 * "wrong types", "too big". Each route reads with the schema protocol/api.ts
 * lists for it (worker/route-contract.ts).
 */
import type { Context } from "hono";
import type { z } from "zod";
import { AppError, invalidField } from "../durable-objects/shared/app-error";
import { describeIssues } from "../protocol/frames";
import { assertDeclared } from "./route-contract";

/** REST bodies are small JSON documents; files have their own streamed route. */
export const MAX_JSON_BODY = 256 * 1024;

export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  assertDeclared(c, "body", schema);
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new AppError("unsupported_media_type", "send the body as application/json");
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_JSON_BODY) throw new AppError("too_large", `request bodies are limited to ${MAX_JSON_BODY} bytes`);
  const text = await readLimited(c.req.raw, MAX_JSON_BODY);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("bad_json", "the body is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidField(describeIssues(parsed.error), fieldOf(parsed.error));
  return parsed.data;
}

export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  assertDeclared(c, "query", schema);
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalidField(describeIssues(parsed.error), fieldOf(parsed.error));
  return parsed.data;
}

/** The first issue's path (`name`, `members.0`), or undefined when the whole body is at fault. */
function fieldOf(error: z.ZodError): string | undefined {
  const path = error.issues[0]?.path ?? [];
  return path.length ? path.map(String).join(".") : undefined;
}

/**
 * A request's whole body, refused with `tooLarge()` as soon as it passes `limit` bytes (a
 * declared length over it is refused unread). JSON bodies and avatars both come through here.
 */
export async function readBodyCapped(req: Request, limit: number, tooLarge: () => AppError): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await req.body?.cancel();
    throw tooLarge();
  }
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

async function readLimited(req: Request, limit: number): Promise<string> {
  const all = await readBodyCapped(req, limit, () => new AppError("too_large", `request bodies are limited to ${limit} bytes`));
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(all);
  } catch {
    throw new AppError("bad_json", "the body is not valid UTF-8");
  }
}
