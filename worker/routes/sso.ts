/**
 * `/auth/sso`: single sign-on with the organisation's OpenID Connect provider
 * (authorization code flow with PKCE S256, `state` and `nonce`; the client in
 * worker/sso/oidc-client.ts, the account rules in
 * durable-objects/directory/sso-accounts.ts).
 *
 * `state`, `nonce` and the PKCE verifier are kept in the directory, single use
 * and ten minutes long. The state is also set in a cookie of this browser
 * (HttpOnly, SameSite=Lax: it must come back on the provider's top-level
 * redirect, which Strict would withhold), and the callback must bring the same
 * value in the URL and the cookie: a callback URL someone else started (login
 * CSRF, "sign the victim in as me") fails, because the victim's browser has no
 * such cookie.
 *
 * The callback answers browsers, so it answers with redirects: to `/` signed in,
 * or to `/?sso_error=<code>`, which the sign-in page shows in the person's language.
 */
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../app-env";
import { reply } from "../reply";
import { SsoInfoSchema } from "../../protocol/responses";
import { AppError, asAppError } from "../../durable-objects/shared/app-error";
import { randomSecret, timingSafeEqual } from "../../durable-objects/shared/bytes";
import { authOf, type OidcConfig } from "../../durable-objects/shared/env";
import { directoryStub as directory } from "../../durable-objects/shared/objects";
import { discover, pkce, redeemCode, verifyIdToken } from "../sso/oidc-client";
import { startSession } from "./auth";

const STATE_COOKIE = "outpost_sso_state";
const STATE_COOKIE_PATH = "/api/v1/auth/sso";

function oidcOf(c: Context<AppEnv>): OidcConfig {
  const oidc = authOf(c.env).oidc;
  if (!oidc || !c.env.OIDC_CLIENT_SECRET) throw new AppError("sso_not_configured", "single sign-on is not configured on this node");
  return oidc;
}

/**
 * Where the provider sends the browser back: this node's own origin as the
 * browser reached it. Behind a TLS-terminating proxy the node sees plain http;
 * the first of `allowedOrigins` (the proxy's public origin) is used then.
 */
function redirectUri(c: Context<AppEnv>): string {
  const own = new URL(c.req.url).origin;
  const pub = Array.isArray(c.env.ALLOWED_ORIGINS) && c.env.ALLOWED_ORIGINS.length ? c.env.ALLOWED_ORIGINS[0] : own;
  return `${pub}/api/v1/auth/sso/callback`;
}

const claimString = (v: unknown) => (typeof v === "string" ? v : undefined);

export const sso = new Hono<AppEnv>()
  .get("/", (c) => {
    const oidc = authOf(c.env).oidc;
    return reply(c, SsoInfoSchema, oidc && c.env.OIDC_CLIENT_SECRET ? { enabled: true, displayName: oidc.displayName, passwordSignIn: oidc.passwordSignIn } : { enabled: false, passwordSignIn: true });
  })
  .get("/start", async (c) => {
    const oidc = oidcOf(c);
    let meta;
    try {
      meta = await discover(oidc.issuer);
    } catch (thrown) {
      // The provider down or misconfigured: back to the sign-in page with the reason, not a JSON page.
      const err = asAppError(thrown);
      if (!err) throw thrown;
      console.error(`sso: ${err.detail}`);
      return c.redirect(`/?sso_error=${encodeURIComponent(err.code)}`, 302);
    }
    const state = randomSecret(24);
    const nonce = randomSecret(24);
    const { verifier, challenge } = await pkce();
    await directory(c.env).ssoSaveState(state, nonce, verifier);
    setCookie(c, STATE_COOKIE, state, { httpOnly: true, sameSite: "Lax", path: STATE_COOKIE_PATH, secure: new URL(c.req.url).protocol === "https:", maxAge: 600 });
    const to = new URL(meta.authorization_endpoint);
    const params = { response_type: "code", client_id: oidc.clientId, redirect_uri: redirectUri(c), scope: oidc.scopes.join(" "), state, nonce, code_challenge: challenge, code_challenge_method: "S256" };
    for (const [k, v] of Object.entries(params)) to.searchParams.set(k, v);
    return c.redirect(to.toString(), 302);
  })
  .get("/callback", async (c) => {
    const oidc = oidcOf(c);
    try {
      const state = c.req.query("state") ?? "";
      const cookie = getCookie(c, STATE_COOKIE) ?? "";
      deleteCookie(c, STATE_COOKIE, { path: STATE_COOKIE_PATH });
      if (!state || !cookie || !timingSafeEqual(state, cookie)) throw new AppError("sso_state_invalid", "the sign-in's state does not match this browser's");
      // Taken (deleted) before anything else can fail: a state is good for one callback.
      const pending = await directory(c.env).ssoTakeState(state);
      if (!pending) throw new AppError("sso_state_invalid", "this sign-in expired or was already used");
      if (c.req.query("error")) throw new AppError("sso_failed", `the identity provider refused: ${c.req.query("error")}`.slice(0, 200));
      const code = c.req.query("code");
      if (!code || code.length > 2000) throw new AppError("sso_failed", "the identity provider sent no code");
      const meta = await discover(oidc.issuer);
      const { idToken } = await redeemCode(meta, { clientId: oidc.clientId, clientSecret: c.env.OIDC_CLIENT_SECRET!, redirectUri: redirectUri(c) }, code, pending.verifier);
      const claims = await verifyIdToken(idToken, { issuer: oidc.issuer, clientId: oidc.clientId, nonce: pending.nonce, jwksUri: meta.jwks_uri });
      const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === "string") : undefined;
      const dir = directory(c.env);
      const { user } = await dir.ssoSignIn(
        {
          issuer: oidc.issuer,
          subject: claims.sub as string,
          username: claimString(claims[oidc.usernameClaim]),
          displayName: claimString(claims.name),
          email: claimString(claims.email),
          emailVerified: claims.email_verified === true,
          groups,
        },
        { autoCreate: oidc.autoCreate, linkExisting: oidc.linkExisting, allowedDomains: oidc.allowedDomains, allowedGroups: oidc.allowedGroups },
      );
      // The provider is in charge of its own factors: a sign-in through it is not asked for the node's TOTP code.
      await startSession(c, user, await dir.issueDeviceToken(user.id));
      return c.redirect("/", 302);
    } catch (thrown) {
      // Errors of the directory cross RPC as plain Errors: asAppError recovers their code.
      const err = asAppError(thrown);
      if (!err) throw thrown;
      // The reason for the operator (the person sees only the code's sentence).
      console.error(`sso: refused: ${err.detail}`);
      await directory(c.env).ssoRefused(oidc.issuer, err.code);
      return c.redirect(`/?sso_error=${encodeURIComponent(err.code)}`, 302);
    }
  });
