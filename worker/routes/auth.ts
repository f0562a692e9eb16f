/** `/auth`: sign-in and sign-out (first-run setup, which also starts a session: setup.ts). */
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../app-env";
import { readJson } from "../http";
import { reply } from "../reply";
import { LoginBody, MfaLoginBody } from "../../protocol/rest";
import { LoginAnswerSchema, OkSchema, SignInSchema, type SignIn } from "../../protocol/responses";
import { AppError } from "../../durable-objects/shared/app-error";
import { dummyHash, verifyPassword } from "../../durable-objects/shared/passwords";
import { MAX_DEVICE_TOKEN_LENGTH } from "../../durable-objects/directory/device-tokens";
import { directoryStub as directory, storedUser } from "../../durable-objects/shared/objects";
import { requireAuth, SESSION_COOKIE } from "../middleware/auth";
import { authOf, limitsOf, type Limits } from "../../durable-objects/shared/env";
import type { User } from "../../protocol/models";
import { clusterOf } from "../../durable-objects/shared/cluster";
import { endVisit, isVisitorId, signInAtHome } from "../visitors/visit";

/**
 * The address a login comes from, for throttling. Self-hosted workerd does not
 * expose the peer address; behind the node's reverse proxy these headers are
 * set by the proxy. Without them every login shares one address bucket, and the
 * per-username limit is what stops guessing.
 */
function clientAddress(c: Context): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
}

/**
 * Node-wide budget for password checks. PBKDF2 at 600,000 iterations costs
 * ~77 ms of the node's one JavaScript thread, so a login storm (random
 * usernames defeat per-username throttling) could starve chat. Two limits,
 * both answered with an immediate 429 instead of a hash: at most 4 checks in
 * flight (a queue of logins would only make everyone wait), and at most
 * `signInsPerSecond` a second on average (default 5; bursts of `signInBurst`,
 * default 15), which leaves the node most of its time for everything else even
 * when the hashes run at full speed. Both are node limits so a node with
 * cheaper hashes (a test node) can take more.
 */
const KDF_IN_FLIGHT = 4;
let kdfInFlight = 0;
let kdfTokens = 0;
let kdfRefilledAt = 0; // workerd reads the clock as 0 at start-up; the first take refills fully

function takeKdfBudget(limits: Pick<Limits, "signInsPerSecond" | "signInBurst">, now = Date.now()): boolean {
  kdfTokens = Math.min(limits.signInBurst, kdfTokens + ((now - kdfRefilledAt) / 1000) * limits.signInsPerSecond);
  kdfRefilledAt = now;
  if (kdfTokens < 1 || kdfInFlight >= KDF_IN_FLIGHT) return false;
  kdfTokens -= 1;
  kdfInFlight++;
  return true;
}

/** Run a password check inside the node's sign-in budget, or refuse at once. */
export async function withKdfBudget<T>(limits: Pick<Limits, "signInsPerSecond" | "signInBurst">, fn: () => Promise<T>): Promise<T> {
  if (!takeKdfBudget(limits)) throw new AppError("rate_limited", "the node is busy with sign-ins; try again in a moment", 1);
  try {
    return await fn();
  } finally {
    kdfInFlight--;
  }
}

/**
 * The device cookie (see durable-objects/directory/device-tokens.ts): sent only
 * to the sign-in routes, never readable by scripts, kept for a year — it is
 * what lets its owner sign in while someone else is guessing the password.
 */
export const DEVICE_COOKIE = "outpost_device";
/** A hint for the web client that a session cookie was set (not a credential: see startSession). */
export const SIGNED_IN_COOKIE = "outpost_signed_in";
export const DEVICE_HEADER = "x-outpost-device";
const DEVICE_COOKIE_PATH = "/api/v1/auth";
const DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600;

/** The device token a login presents: the API client's header, else the browser's cookie. */
function presentedDeviceToken(c: Context): string | null {
  const token = c.req.header(DEVICE_HEADER) ?? getCookie(c, DEVICE_COOKIE) ?? null;
  // Hostile until checked: the directory verifies it; only bound its size here.
  return token && token.length <= MAX_DEVICE_TOKEN_LENGTH ? token : null;
}

function setDeviceCookie(c: Context, deviceToken: string) {
  setCookie(c, DEVICE_COOKIE, deviceToken, {
    httpOnly: true,
    sameSite: "Strict",
    path: DEVICE_COOKIE_PATH,
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: DEVICE_COOKIE_MAX_AGE,
  });
}

/** A new session for `user`: its cookies set, and the sign-in answer (login and setup). */
export async function startSession(c: Context<AppEnv>, user: User, deviceToken: string | null): Promise<SignIn> {
  const { token, session } = await storedUser(c.env, user.id).createSession(c.req.header("user-agent") ?? "");
  return sessionCookies(c, { token, expiresAt: session.expiresAt, user, deviceToken });
}

/** Set a session's cookies and answer it (a session of this node, or a visitor's issued by their home). */
function sessionCookies(c: Context<AppEnv>, { token, expiresAt, user, deviceToken }: { token: string; expiresAt: number; user: Pick<User, "id" | "username" | "displayName" | "isAdmin">; deviceToken: string | null }): SignIn {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: limitsOf(c.env).sessionTtlSeconds,
  });
  // Readable by the web client (it holds nothing but "1"): a page loaded without it knows at once that
  // nobody is signed in and does not ask GET /me, whose 401 every browser would log as an error.
  setCookie(c, SIGNED_IN_COOKIE, "1", { sameSite: "Strict", path: "/", secure: new URL(c.req.url).protocol === "https:", maxAge: limitsOf(c.env).sessionTtlSeconds });
  if (deviceToken) setDeviceCookie(c, deviceToken);
  return {
    token,
    expiresAt,
    user: { id: user.id, username: user.username, displayName: user.displayName, isAdmin: user.isAdmin },
    ...(deviceToken ? { deviceToken } : {}),
  };
}

export const auth = new Hono<AppEnv>()
  .post("/login", async (c) => {
    const body = await readJson(c, LoginBody);
    // SSO only (node config oidc.passwordSignIn = false): the password form is off for everyone.
    if (authOf(c.env).oidc?.passwordSignIn === false) throw new AppError("forbidden", "this node signs in through single sign-on only");
    const dir = directory(c.env);
    const address = clientAddress(c);
    // Someone of another branch signing in here: their home checks the password (worker/visitors/).
    const visitor = clusterOf(c.env) ? await dir.visitorAccount(body.username) : null;
    if (visitor) {
      const s = await signInAtHome(c.env, visitor, { username: body.username, password: body.password, address, deviceToken: presentedDeviceToken(c), userAgent: c.req.header("user-agent") ?? "" });
      return reply(c, LoginAnswerSchema, sessionCookies(c, { token: s.token, expiresAt: s.expiresAt, user: s.user, deviceToken: s.deviceToken }));
    }
    const found = await dir.loginLookup(body.username, address, presentedDeviceToken(c));
    if ("retryAfter" in found) throw new AppError("rate_limited", "too many failed sign-ins; wait and try again", found.retryAfter);
    // Always run the KDF, so an unknown username takes as long as a wrong password.
    const limits = limitsOf(c.env);
    const ok = await withKdfBudget(limits, () => verifyPassword(body.password, found.passwordHash ?? dummyHash(limits.passwordHashIterations)));
    if (!ok || !found.user || !found.user.active) {
      await dir.loginFailed(body.username, address, found.deviceId);
      throw new AppError("unauthorized", "wrong username or password, or the account is deactivated");
    }
    // Two factors: no session yet, a challenge for the second step (the throttle's failures stay until it passes).
    const challenge = await dir.mfaChallengeFor(found.user, found.deviceId);
    if (challenge) return reply(c, LoginAnswerSchema, { mfaRequired: true, ...challenge });
    const deviceToken = await dir.loginSucceeded(body.username, found.deviceId);
    return reply(c, LoginAnswerSchema, await startSession(c, found.user, deviceToken));
  })
  .post("/login/mfa", async (c) => {
    const body = await readJson(c, MfaLoginBody);
    const { user, deviceToken } = await directory(c.env).completeMfaLogin(body.challenge, body.code, clientAddress(c));
    return reply(c, SignInSchema, await startSession(c, user, deviceToken));
  })
  .post("/logout", requireAuth(), async (c) => {
    const caller = c.get("caller");
    if (isVisitorId(c.env, caller.userId)) await endVisit(c, caller);
    else await storedUser(c.env, caller.userId).revokeSession(caller.sessionId, { actor: caller.userId, action: "auth.signout" });
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    deleteCookie(c, SIGNED_IN_COOKIE, { path: "/" });
    return reply(c, OkSchema, { ok: true });
  });
