/// <reference path="./oidc-provider.d.ts" />
/**
 * Identity providers for the SSO tests, on 127.0.0.1 in the test process:
 * - `startOidcProvider`: the real `oidc-provider` (npm), its development login
 *   form (any password; the login names the account), consent skipped for our
 *   first-party client (as an organisation's own IdP does);
 * - `startFakeIdp`: a few lines of node:http that act a provider and sign
 *   whatever ID token the test asks for (wrong audience, wrong nonce, …), ES256.
 * And `Jar` + `get`: a browser's cookie jar and redirect handling, by hand.
 */
import { createServer, type Server } from "node:http";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface IdpAccount {
  sub: string;
  preferred_username: string;
  name: string;
  email: string;
}

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

export async function startOidcProvider(redirectUri: string, accounts: IdpAccount[]): Promise<Idp> {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "outpost-test";
  const clientSecret = randomBytes(24).toString("hex");
  const bySub = new Map(accounts.map((a) => [a.sub, a]));
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_basic" }],
    // The login typed on the development form is the account's subject.
    findAccount: async (_ctx, id) => {
      const a = bySub.get(id);
      return a ? { accountId: a.sub, claims: async () => ({ ...a, email_verified: true }) } : undefined;
    },
    claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email", "email_verified"] },
    // The claims in the ID token itself (the node never asks userinfo).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    // Our own client: no consent screen.
    loadExistingGrant: async (ctx) => {
      const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId });
      grant.addOIDCScope("openid profile email");
      await grant.save();
      return grant;
    },
  });
  server.on("request", provider.callback());
  return { issuer, clientId, clientSecret, close: () => closeServer(server) };
}

/** How the fake provider's next ID token is wrong ("good": not at all). */
export type FakeMode = "good" | "wrong-aud" | "wrong-nonce" | "wrong-iss" | "expired" | "other-key" | "alg-none";

export interface FakeIdp extends Idp {
  mode: FakeMode;
  /** the claims the next token carries besides the standard ones */
  claims: Record<string, unknown>;
  /** token requests seen, with how the client authenticated */
  tokenRequests: { auth: "basic" | "post" | "none" }[];
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startFakeIdp(): Promise<FakeIdp> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const codes = new Map<string, { nonce: string }>();
  const idp: FakeIdp = {
    issuer,
    clientId: "outpost-fake",
    clientSecret: "fake secret",
    mode: "good",
    claims: {},
    tokenRequests: [],
    close: () => closeServer(server),
  };
  const token = (nonce: string) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: idp.mode === "alg-none" ? "none" : "ES256", kid: "k1", typ: "JWT" };
    const body = {
      iss: idp.mode === "wrong-iss" ? "http://127.0.0.1:1" : issuer,
      aud: idp.mode === "wrong-aud" ? "someone-else" : idp.clientId,
      iat: now,
      exp: idp.mode === "expired" ? now - 3600 : now + 300,
      nonce: idp.mode === "wrong-nonce" ? "not-the-nonce" : nonce,
      sub: "fake-subject-1",
      ...idp.claims,
    };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(body))}`;
    if (idp.mode === "alg-none") return `${input}.`;
    const key = idp.mode === "other-key" ? other.privateKey : privateKey;
    return `${input}.${b64u(sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
  };
  server.on("request", (req, res) => {
    const url = new URL(req.url!, issuer);
    const json = (v: unknown, status = 200) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    if (url.pathname === "/.well-known/openid-configuration") {
      return json({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, token_endpoint_auth_methods_supported: ["client_secret_post"] });
    }
    if (url.pathname === "/jwks") return json({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "ES256" }] });
    if (url.pathname === "/authorize") {
      const code = randomBytes(16).toString("hex");
      codes.set(code, { nonce: url.searchParams.get("nonce") ?? "" });
      const back = new URL(url.searchParams.get("redirect_uri")!);
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let raw = "";
      req.on("data", (d) => (raw += d));
      req.on("end", () => {
        const form = new URLSearchParams(raw);
        idp.tokenRequests.push({ auth: req.headers.authorization ? "basic" : form.get("client_secret") ? "post" : "none" });
        if (form.get("client_secret") !== idp.clientSecret) return json({ error: "invalid_client" }, 401);
        const found = codes.get(form.get("code") ?? "");
        codes.delete(form.get("code") ?? "");
        if (!found) return json({ error: "invalid_grant" }, 400);
        json({ access_token: "at", token_type: "Bearer", id_token: token(found.nonce) });
      });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return idp;
}

/** Cookies as a browser keeps them for 127.0.0.1 (ports share cookies, as in browsers). */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

/** One request as a browser would send it (cookies from the jar, no automatic redirects). */
export async function get(url: string, jar: Jar, init: RequestInit = {}): Promise<{ status: number; location: string | null; text: string }> {
  const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } });
  jar.take(res);
  return { status: res.status, location: res.headers.get("location") ? new URL(res.headers.get("location")!, url).toString() : null, text: await res.text() };
}

/**
 * From "Sign in with …" to the provider's redirect back to the node, through
 * the real provider's login form; answers the callback URL (not followed, so a
 * test can replay or alter it).
 */
export async function throughProvider(nodeUrl: string, login: string, jar: Jar): Promise<string> {
  let step = await get(`${nodeUrl}/api/v1/auth/sso/start`, jar);
  for (let hops = 0; hops < 10; hops++) {
    if (!step.location) throw new Error(`the dance stopped at ${step.status}: ${step.text.slice(0, 300)}`);
    if (step.location.startsWith(`${nodeUrl}/api/v1/auth/sso/callback`)) return step.location;
    const page = await get(step.location, jar);
    const action = /<form[^>]*action="([^"]+)"/.exec(page.text)?.[1];
    if (page.status === 200 && action) {
      const form = new URLSearchParams({ prompt: "login", login, password: "anything" });
      step = await get(new URL(action, step.location).toString(), jar, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
    } else step = page;
  }
  throw new Error("too many redirects");
}
