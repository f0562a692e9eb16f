/**
 * Single sign-on (OpenID Connect) against a real `workerd serve` node:
 * - with the real `oidc-provider` on 127.0.0.1: the whole redirect dance with
 *   a cookie jar (start → provider login → callback → session), first sign-in
 *   creates the account (autoCreate), the next finds it by subject; a wrong
 *   state, a replayed code and a deactivated account are refused;
 * - with a fake provider that signs what the test asks: an ID token for
 *   another audience, with another nonce, from another issuer, expired, signed
 *   by another key or not at all is refused; a good one passes (so each refusal
 *   is the check's doing), sent with client_secret_post; a username that names
 *   an existing account is not linked to it unless the node says so.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startNode, type OutpostNode } from "../harness";
import { withNode, type TestNode } from "../fixtures";
import { get, Jar, startFakeIdp, startOidcProvider, throughProvider, type FakeIdp, type Idp } from "./oidc-idps";

async function meWithCookies(nodeUrl: string, jar: Jar): Promise<{ status: number; body: { id?: string; username?: string; displayName?: string } }> {
  const res = await fetch(`${nodeUrl}/api/v1/me`, { headers: { cookie: jar.header() } });
  return { status: res.status, body: (await res.json()) as { id?: string; username?: string } };
}

const errorOf = (location: string | null) => (location ? new URL(location).searchParams.get("sso_error") : null);

describe("SSO with oidc-provider", () => {
  let idp: Idp;
  let t: TestNode;
  beforeAll(async () => {
    const port = await freePort();
    idp = await startOidcProvider(`http://127.0.0.1:${port}/api/v1/auth/sso/callback`, [
      { sub: "sub-alice-1", preferred_username: "alice", name: "Alice Example", email: "alice@example.org" },
      { sub: "sub-dave-2", preferred_username: "dave", name: "Dave Example", email: "dave@example.org" },
    ]);
    t = await withNode({ port, outboundAllow: ["127.0.0.1/32"], oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, displayName: "Example IdP", autoCreate: true } });
  });
  afterAll(async () => {
    await t?.stop();
    await idp?.close();
  });

  it("the sign-in page learns the button's name; the secret never leaves the node", async () => {
    const res = await fetch(`${t.node.url}/api/v1/auth/sso`);
    expect(await res.json()).toEqual({ enabled: true, displayName: "Example IdP", passwordSignIn: true });
  });

  it("the dance signs in and creates the account from the claims; the next sign-in finds it by subject", async () => {
    const jar = new Jar();
    const callback = await throughProvider(t.node.url, "sub-alice-1", jar);
    const back = await get(callback, jar);
    expect(back.status).toBe(302);
    expect(back.location).toBe(`${t.node.url}/`);
    expect(jar.cookies.has("outpost_session")).toBe(true);
    const me = await meWithCookies(t.node.url, jar);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: "alice", displayName: "Alice Example" });

    const jar2 = new Jar();
    await get(await throughProvider(t.node.url, "sub-alice-1", jar2), jar2);
    expect((await meWithCookies(t.node.url, jar2)).body.id).toBe(me.body.id);
  });

  it("a callback whose state is not this browser's is refused, and signs nobody in", async () => {
    const jar = new Jar();
    const callback = new URL(await throughProvider(t.node.url, "sub-alice-1", jar));
    callback.searchParams.set("state", "x" + callback.searchParams.get("state"));
    const back = await get(callback.toString(), jar);
    expect(errorOf(back.location)).toBe("sso_state_invalid");
    expect(jar.cookies.has("outpost_session")).toBe(false);
    // Another browser (no state cookie) with the genuine callback URL: refused too (login CSRF).
    const genuine = await throughProvider(t.node.url, "sub-alice-1", new Jar());
    const stranger = new Jar();
    expect(errorOf((await get(genuine, stranger)).location)).toBe("sso_state_invalid");
  });

  it("a replayed callback, and a used code under a fresh state, are refused", async () => {
    const jar = new Jar();
    const callback = await throughProvider(t.node.url, "sub-alice-1", jar);
    const stateCookie = jar.cookies.get("outpost_sso_state")!;
    expect((await get(callback, jar)).location).toBe(`${t.node.url}/`);
    // The same URL with the same cookie again: the state is used up.
    jar.cookies.set("outpost_sso_state", stateCookie);
    expect(errorOf((await get(callback, jar)).location)).toBe("sso_state_invalid");
    // The used code with a fresh state of this browser: the provider refuses the code.
    const fresh = new Jar();
    const start = await get(`${t.node.url}/api/v1/auth/sso/start`, fresh);
    const state = new URL(start.location!).searchParams.get("state")!;
    const replay = new URL(callback);
    replay.searchParams.set("state", state);
    const back = await get(replay.toString(), fresh);
    expect(errorOf(back.location)).toBe("sso_failed");
    expect(fresh.cookies.has("outpost_session")).toBe(false);
  });

  it("a deactivated account cannot sign in through SSO", async () => {
    const jar = new Jar();
    await get(await throughProvider(t.node.url, "sub-dave-2", jar), jar);
    const dave = await meWithCookies(t.node.url, jar);
    expect(dave.body.username).toBe("dave");
    const off = await fetch(`${t.node.url}/api/v1/users/${encodeURIComponent(dave.body.id!)}/deactivate`, { method: "POST", headers: { authorization: `Bearer ${t.admin}` } });
    expect(off.status).toBe(200);
    expect((await meWithCookies(t.node.url, jar)).status).toBe(401);
    const again = new Jar();
    const back = await get(await throughProvider(t.node.url, "sub-dave-2", again), again);
    expect(errorOf(back.location)).toBe("account_deactivated");
    expect(again.cookies.has("outpost_session")).toBe(false);
    // Refused single sign-ons are audited like failed password sign-ins.
    const trail = await fetch(`${t.node.url}/api/v1/admin/audit?action=auth.signin_failed`, { headers: { authorization: `Bearer ${t.admin}` } });
    const details = ((await trail.json()) as { records: { detail: string }[] }).records.map((r) => JSON.parse(r.detail));
    expect(details).toContainEqual(expect.objectContaining({ via: "sso", code: "account_deactivated" }));
  });
});

describe("SSO against a provider that sends bad ID tokens", () => {
  let idp: FakeIdp;
  let t: { node: OutpostNode; stop(): Promise<void> };
  beforeAll(async () => {
    idp = await startFakeIdp();
    // SSO only: the password form is off (the admin account exists, for the linking test below).
    const node = await startNode({ adminPassword: "an operator passphrase here", outboundAllow: ["127.0.0.1/32"], oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, autoCreate: true, passwordSignIn: false } });
    t = { node, stop: () => node.stop() };
  });
  afterAll(async () => {
    await t?.stop();
    await idp?.close();
  });

  /** start → the fake provider → the callback; the callback's redirect. */
  async function signIn(jar = new Jar()): Promise<{ error: string | null; jar: Jar }> {
    const start = await get(`${t.node.url}/api/v1/auth/sso/start`, jar);
    const authorize = new URL(start.location!);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("nonce")).toMatch(/^\S{16,}$/);
    const back = await get(start.location!, jar);
    const done = await get(back.location!, jar);
    return { error: errorOf(done.location), jar };
  }

  it.each(["wrong-aud", "wrong-nonce", "wrong-iss", "expired", "other-key", "alg-none"] as const)("an ID token with %s is refused", async (mode) => {
    idp.mode = mode;
    idp.claims = { preferred_username: "mallory" };
    const { error, jar } = await signIn();
    expect(error).toBe("sso_failed");
    expect(jar.cookies.has("outpost_session")).toBe(false);
  });

  it("a good one (ES256, client_secret_post) signs in", async () => {
    idp.mode = "good";
    idp.claims = { preferred_username: "erin", name: "Erin" };
    const { error, jar } = await signIn();
    expect(error).toBeNull();
    expect((await meWithCookies(t.node.url, jar)).body.username).toBe("erin");
    expect(idp.tokenRequests.at(-1)?.auth).toBe("post");
  });

  it("with passwordSignIn false the password form is refused, and the sign-in page is told so", async () => {
    const res = await fetch(`${t.node.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "an operator passphrase here" }) });
    expect(res.status).toBe(403);
    expect(await (await fetch(`${t.node.url}/api/v1/auth/sso`)).json()).toEqual({ enabled: true, displayName: "SSO", passwordSignIn: false });
  });

  it("a new subject whose username names an existing account (admin) is not linked to it", async () => {
    idp.mode = "good";
    idp.claims = { sub: "someone-who-picked-admin", preferred_username: "admin" };
    const { error, jar } = await signIn();
    expect(error).toBe("sso_no_account");
    expect(jar.cookies.has("outpost_session")).toBe(false);
  });
});

describe("SSO with a provider that cannot be reached", () => {
  it("'Sign in with …' sends the browser back to the sign-in page with sso_failed, not an error page", async () => {
    const node = await startNode({ outboundAllow: ["127.0.0.1/32"], oidc: { issuer: `http://127.0.0.1:${await freePort()}`, clientId: "c", clientSecret: "s" } });
    try {
      const start = await get(`${node.url}/api/v1/auth/sso/start`, new Jar());
      expect(start.status).toBe(302);
      expect(errorOf(start.location)).toBe("sso_failed");
    } finally {
      await node.stop();
    }
  });
});
