/**
 * The OpenID Connect relying party: discovery, PKCE, the token request and the
 * ID token's verification, on fetch and WebCrypto only (no library: the
 * Worker's bundle stays small and every check is in view).
 *
 * What is trusted: only the ID token, after its signature (RS256 or ES256,
 * against the provider's JWKS) and its `iss`, `aud`, `azp`, `exp`, `iat` and
 * `nonce` are checked. The userinfo endpoint is never asked: its answer is not
 * signed, and the ID token carries the claims the node needs when the scopes
 * ask for them.
 */
import { AppError } from "../../durable-objects/shared/app-error";
import { b64url, fromB64url } from "../../durable-objects/shared/bytes";

export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  token_endpoint_auth_methods_supported?: string[];
}

/** Clock skew forgiven on `exp` and `iat` (the node's and the provider's clocks are not the same clock). */
const SKEW_S = 60;
/** Discovery and keys are fetched again after this (a provider rotating keys is seen within the hour). */
const CACHE_MS = 60 * 60_000;

const failed = (why: string) => new AppError("sso_failed", `single sign-on failed: ${why}`);

const metadataCache = new Map<string, { at: number; value: ProviderMetadata }>();
const keysCache = new Map<string, { at: number; keys: JsonWebKey[] }>();

async function getJson(url: string, init?: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: "manual" });
  } catch (err) {
    throw failed(`the identity provider could not be reached (${(err as Error).message}); is its address in the node config's outboundAllow?`);
  }
  const text = await res.text();
  if (!res.ok) throw failed(`${new URL(url).pathname} answered ${res.status}`);
  try {
    return JSON.parse(text);
  } catch {
    throw failed(`${new URL(url).pathname} did not answer JSON`);
  }
}

const isUrl = (v: unknown): v is string => typeof v === "string" && /^https?:\/\//.test(v);

/** The provider's metadata from `${issuer}/.well-known/openid-configuration`, whose `issuer` must be exactly ours. */
export async function discover(issuer: string, now = Date.now()): Promise<ProviderMetadata> {
  const cached = metadataCache.get(issuer);
  if (cached && now - cached.at < CACHE_MS) return cached.value;
  const doc = (await getJson(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`)) as Partial<ProviderMetadata> | null;
  if (!doc || doc.issuer !== issuer || !isUrl(doc.authorization_endpoint) || !isUrl(doc.token_endpoint) || !isUrl(doc.jwks_uri)) {
    throw failed("the provider's discovery document is not for this issuer or lacks an endpoint");
  }
  const value = doc as ProviderMetadata;
  metadataCache.set(issuer, { at: now, value });
  return value;
}

/** PKCE (RFC 7636): a verifier and its S256 challenge. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  const verifier = b64url(bytes);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

/** Trade the authorization code for tokens: client_secret_basic unless the provider only takes client_secret_post. */
export async function redeemCode(
  meta: ProviderMetadata,
  client: { clientId: string; clientSecret: string; redirectUri: string },
  code: string,
  verifier: string,
): Promise<{ idToken: string }> {
  const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: client.redirectUri, code_verifier: verifier });
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  const methods = meta.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  if (methods.includes("client_secret_basic") || !methods.includes("client_secret_post")) {
    // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
    headers.authorization = `Basic ${btoa(`${enc(client.clientId)}:${enc(client.clientSecret)}`)}`;
  } else {
    form.set("client_id", client.clientId);
    form.set("client_secret", client.clientSecret);
  }
  const answer = (await getJson(meta.token_endpoint, { method: "POST", headers, body: form })) as { id_token?: unknown } | null;
  if (!answer || typeof answer.id_token !== "string") throw failed("the token endpoint sent no ID token");
  return { idToken: answer.id_token };
}

async function keysFor(jwksUri: string, refresh: boolean, now: number): Promise<JsonWebKey[]> {
  const cached = keysCache.get(jwksUri);
  if (cached && !refresh && now - cached.at < CACHE_MS) return cached.keys;
  const doc = (await getJson(jwksUri)) as { keys?: unknown } | null;
  if (!doc || !Array.isArray(doc.keys)) throw failed("the provider's JWKS has no keys");
  keysCache.set(jwksUri, { at: now, keys: doc.keys as JsonWebKey[] });
  return doc.keys as JsonWebKey[];
}

const ALGS = {
  RS256: { kty: "RSA", import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" } },
  ES256: { kty: "EC", import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } },
} as const;

function decodePart(part: string): Record<string, unknown> {
  const bytes = fromB64url(part);
  if (!bytes) throw failed("the ID token is not a JWT");
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw failed("the ID token is not a JWT");
}

/**
 * The ID token's claims, once its signature and every claim OpenID Connect
 * Core §3.1.3.7 asks a client to check have passed; `sso_failed` otherwise.
 */
export async function verifyIdToken(
  idToken: string,
  expected: { issuer: string; clientId: string; nonce: string; jwksUri: string },
  nowMs = Date.now(),
): Promise<Record<string, unknown>> {
  const parts = idToken.split(".");
  if (parts.length !== 3) throw failed("the ID token is not a JWT");
  const header = decodePart(parts[0]);
  const claims = decodePart(parts[1]);
  const signature = fromB64url(parts[2]);
  const alg = header.alg;
  if (alg !== "RS256" && alg !== "ES256") throw failed(`the ID token is signed with ${String(alg)}, not RS256 or ES256`);
  if (!signature) throw failed("the ID token's signature is not base64url");
  const spec = ALGS[alg];
  const pick = (keys: JsonWebKey[]) =>
    keys.filter((k) => k.kty === spec.kty && (header.kid === undefined || (k as { kid?: string }).kid === header.kid) && (k.use === undefined || k.use === "sig"));
  let candidates = pick(await keysFor(expected.jwksUri, false, nowMs));
  // An unknown kid: the provider may have rotated its keys since they were cached.
  if (candidates.length === 0) candidates = pick(await keysFor(expected.jwksUri, true, nowMs));
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  let ok = false;
  for (const jwk of candidates) {
    try {
      const { kty, n, e, crv, x, y } = jwk;
      const key = await crypto.subtle.importKey("jwk", { kty, n, e, crv, x, y }, spec.import, false, ["verify"]);
      if (await crypto.subtle.verify(spec.verify, key, signature, signed)) {
        ok = true;
        break;
      }
    } catch {
      // a key of another shape: try the next
    }
  }
  if (!ok) throw failed("the ID token's signature does not verify against the provider's keys");
  const now = nowMs / 1000;
  if (claims.iss !== expected.issuer) throw failed("the ID token is from another issuer");
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(expected.clientId)) throw failed("the ID token is for another client");
  if (aud.length > 1 && claims.azp !== expected.clientId) throw failed("the ID token was issued to another party");
  if (typeof claims.exp !== "number" || claims.exp + SKEW_S < now) throw failed("the ID token has expired");
  if (typeof claims.iat !== "number" || claims.iat - SKEW_S > now) throw failed("the ID token was issued in the future");
  if (typeof claims.nonce !== "string" || claims.nonce !== expected.nonce) throw failed("the ID token's nonce is not this sign-in's");
  if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.length > 255) throw failed("the ID token has no subject");
  return claims;
}
