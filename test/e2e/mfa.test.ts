/**
 * Two-factor sign-in against a real node: enrol (secret → confirm with a
 * code → recovery codes), then a password alone gets a challenge, not a
 * session; a code finishes it, the same code again does not; a recovery code
 * works once; wrong codes count toward the sign-in throttle; and under
 * `mfa.requiredForAdmins` an admin without 2FA can only enrol.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode, type TestNode } from "../fixtures";
import { totpAt } from "../../durable-objects/shared/totp";

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string } };
}

async function call(url: string, method: string, path: string, token: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

/** Enrol `token`'s account; answers its secret and recovery codes. */
async function enrol(url: string, token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const started = await call(url, "POST", "/me/mfa/enrol", token);
  expect(started.status).toBe(200);
  const secret = started.body.secret as string;
  expect(started.body.uri).toMatch(/^otpauth:\/\/totp\/.*secret=/);
  const wrong = await call(url, "POST", "/me/mfa/confirm", token, { code: "000000" === (await totpAt(secret, Date.now())) ? "111111" : "000000" });
  expect(wrong.body.error?.code).toBe("mfa_code_invalid");
  const confirmed = await call(url, "POST", "/me/mfa/confirm", token, { code: await totpAt(secret, Date.now()) });
  expect(confirmed.status).toBe(200);
  return { secret, recoveryCodes: confirmed.body.recoveryCodes as string[] };
}

/** A code of the next 30-second step (a code of the step already used is refused by design). */
const nextCode = (secret: string) => totpAt(secret, Date.now() + 30_000);

describe("two-factor sign-in", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await withNode();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("enrol, then sign-in needs a code; a used code and a wrong one are refused; a recovery code works once", async () => {
    const ann = await t.user("ann");
    const { secret, recoveryCodes } = await enrol(t.node.url, ann.token);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    expect((await call(t.node.url, "GET", "/me/mfa", ann.token)).body).toEqual({ enabled: true, recoveryCodesLeft: 10, required: false });

    const first = await call(t.node.url, "POST", "/auth/login", null, { username: "ann", password: ann.password });
    expect(first.status).toBe(200);
    expect(first.body.mfaRequired).toBe(true);
    expect(first.body.token).toBeUndefined();
    const challenge = first.body.challenge as string;

    const wrong = await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge, code: "12345x" });
    expect(wrong.body.error?.code).toBe("mfa_code_invalid");
    const code = await nextCode(secret);
    const ok = await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge, code });
    expect(ok.status).toBe(200);
    expect(typeof ok.body.token).toBe("string");
    expect((await call(t.node.url, "GET", "/me", ok.body.token as string)).status).toBe(200);
    // The challenge is used up.
    expect((await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge, code })).body.error?.code).toBe("mfa_challenge_invalid");

    // The same code on a new challenge: replay, refused.
    const again = await call(t.node.url, "POST", "/auth/login", null, { username: "ann", password: ann.password });
    const replay = await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge: again.body.challenge, code });
    expect(replay.status).toBe(401);
    expect(replay.body.error?.code).toBe("mfa_code_invalid");

    // A recovery code (typed in capitals, without its dash) works, once.
    const typed = recoveryCodes[0].replace("-", "").toUpperCase();
    const rec = await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge: again.body.challenge, code: typed });
    expect(rec.status).toBe(200);
    const third = await call(t.node.url, "POST", "/auth/login", null, { username: "ann", password: ann.password });
    expect((await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge: third.body.challenge, code: recoveryCodes[0] })).body.error?.code).toBe("mfa_code_invalid");
    expect((await call(t.node.url, "GET", "/me/mfa", ann.token)).body.recoveryCodesLeft).toBe(9);

    // Turning it off needs the password; then a password signs in again.
    expect((await call(t.node.url, "POST", "/me/mfa/disable", ann.token, { password: "not it at all" })).body.error?.code).toBe("forbidden");
    expect((await call(t.node.url, "POST", "/me/mfa/disable", ann.token, { password: ann.password })).status).toBe(200);
    const plain = await call(t.node.url, "POST", "/auth/login", null, { username: "ann", password: ann.password });
    expect(typeof plain.body.token).toBe("string");
  });

  it("wrong codes count toward the sign-in throttle: the sixth attempt of a username is refused with 429", async () => {
    const bob = await t.user("bob");
    const { secret } = await enrol(t.node.url, bob.token);
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const login = await call(t.node.url, "POST", "/auth/login", null, { username: "bob", password: bob.password });
      codes.push((await call(t.node.url, "POST", "/auth/login/mfa", null, { challenge: login.body.challenge, code: "999999" === (await nextCode(secret)) ? "999998" : "999999" })).body.error?.code);
    }
    expect(codes).toEqual(Array(5).fill("mfa_code_invalid"));
    const locked = await call(t.node.url, "POST", "/auth/login", null, { username: "bob", password: bob.password });
    expect(locked.status).toBe(429);
  });
});

describe("an administrator turns someone's two-factor sign-in off (lost phone)", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await withNode();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("admins only, not for themselves; then the password alone signs in", async () => {
    const gus = await t.user("gus");
    const hal = await t.user("hal");
    await enrol(t.node.url, gus.token);
    expect((await call(t.node.url, "DELETE", `/users/${encodeURIComponent(gus.id)}/mfa`, hal.token)).status).toBe(403);
    const me = (await call(t.node.url, "GET", "/me", t.admin)).body.id as string;
    expect((await call(t.node.url, "DELETE", `/users/${encodeURIComponent(me)}/mfa`, t.admin)).body.error?.code).toBe("invalid_request");
    expect((await call(t.node.url, "POST", "/auth/login", null, { username: "gus", password: gus.password })).body.mfaRequired).toBe(true);
    expect((await call(t.node.url, "DELETE", `/users/${encodeURIComponent(gus.id)}/mfa`, t.admin)).status).toBe(200);
    expect(typeof (await call(t.node.url, "POST", "/auth/login", null, { username: "gus", password: gus.password })).body.token).toBe("string");
    // Both changes are in the audit trail, the reset with the administrator as its actor.
    const trail = await call(t.node.url, "GET", `/admin/audit?user=${encodeURIComponent(gus.id)}`, t.admin);
    const records = (trail.body.records as { action: string; actor: string; detail: string }[]).filter((r) => r.action.startsWith("mfa."));
    expect(records.map((r) => [r.action, r.actor === me ? "admin" : r.actor === gus.id ? "gus" : r.actor])).toEqual([
      ["mfa.removed", "admin"],
      ["mfa.enrolled", "gus"],
    ]);
  });
});

describe("mfa.requiredForAdmins", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await withNode({ mfa: { requiredForAdmins: true } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("an admin without 2FA can only read /me and enrol until they have; a non-admin is not held", async () => {
    const blocked = await call(t.node.url, "GET", "/me/rooms", t.admin);
    expect(blocked.status).toBe(403);
    expect(blocked.body.error?.code).toBe("mfa_enrolment_required");
    expect((await call(t.node.url, "POST", "/users", t.admin, { username: "carol", displayName: "Carol" })).body.error?.code).toBe("mfa_enrolment_required");
    expect((await call(t.node.url, "GET", "/me", t.admin)).status).toBe(200);
    expect((await call(t.node.url, "GET", "/me/mfa", t.admin)).body).toEqual({ enabled: false, recoveryCodesLeft: 0, required: true });
    await enrol(t.node.url, t.admin);
    expect((await call(t.node.url, "GET", "/me/rooms", t.admin)).status).toBe(200);
    const carol = await t.user("carol");
    expect((await call(t.node.url, "GET", "/me/rooms", carol.token)).status).toBe(200);
  });
});
