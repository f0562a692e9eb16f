/**
 * What every `/link/v1` handler shares: the request's verified context (the
 * calling node, the request's nonce and body, set by link.ts's signature
 * check) and the signed answer bound to that nonce.
 */
import type { Context } from "hono";
import type { Env } from "../../durable-objects/shared/env";
import { nodeKey } from "../../durable-objects/shared/cluster";
import { LINK_HEADERS, LINK_PROTOCOL_VERSION, signResponse } from "../../durable-objects/shared/link-auth";

export interface LinkEnv {
  Bindings: Env;
  Variables: { linkFrom: string; linkNonce: string; linkBody: string };
}

/** A signed JSON answer to the link request being served. */
export async function linkReply(c: Context<LinkEnv>, status: number, body: unknown): Promise<Response> {
  const text = JSON.stringify(body);
  const signature = await signResponse(await nodeKey(c.env), { nonce: c.get("linkNonce"), status, from: c.env.NODE_NAME, to: c.get("linkFrom"), body: text });
  return new Response(text, { status, headers: { "content-type": "application/json", [LINK_HEADERS.signature]: signature, [LINK_HEADERS.version]: String(LINK_PROTOCOL_VERSION) } });
}
