/**
 * Single sign-on and two-factor sign-in in real Chromium, against a real node
 * and the real `oidc-provider` on 127.0.0.1:
 * - the sign-in page's "Sign in with Example IdP" → the provider's login form
 *   → back in the app, signed in as the account the provider's claims made;
 * - two-factor sign-in set up in Settings (the secret read from the page, the
 *   code computed here), sign out, and sign in again with the password and a code.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, OpenBrowsers, type UserBrowser } from "./browser";
import { startOidcProvider, type Idp } from "../e2e/oidc-idps";
import { totpAt } from "../../durable-objects/shared/totp";

let node: OutpostNode;
let idp: Idp;
const browsers = new OpenBrowsers();
const PW = "operator-passphrase-123";
const FRANK = "kites above the harbour";

beforeAll(async () => {
  const port = await freePort();
  idp = await startOidcProvider(`http://127.0.0.1:${port}/api/v1/auth/sso/callback`, [{ sub: "sub-alice-1", preferred_username: "alice", name: "Alice Example", email: "alice@example.org" }]);
  node = await startNode({ port, adminPassword: PW, outboundAllow: ["127.0.0.1/32"], oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, displayName: "Example IdP", autoCreate: true } });
  await createUser(node.url, await loginAs(node.url, "admin", PW), { username: "frank", password: FRANK, displayName: "Frank" });
}, 120_000);

afterAll(async () => {
  await browsers.closeAll();
  await node?.stop();
  await idp?.close();
});

const meOf = (b: UserBrowser) => b.page.evaluate(async () => (await (await fetch("/api/v1/me")).json()) as { username: string; displayName: string });

describe("single sign-on in Chromium", () => {
  it("'Sign in with Example IdP' → the provider's login → back in the app as the provider's account", async () => {
    const b = await browsers.open(node.url);
    await b.page.goto("/");
    await b.page.getByRole("link", { name: "Sign in with Example IdP" }).click();
    await b.page.locator('input[name="login"]').fill("sub-alice-1");
    await b.page.locator('input[name="password"]').fill("anything");
    await b.page.getByRole("button", { name: "Sign-in" }).click();
    await b.page.locator("nav.sidebar").waitFor({ timeout: 15000 });
    expect(new URL(b.page.url()).origin).toBe(node.url);
    expect(await meOf(b)).toMatchObject({ username: "alice", displayName: "Alice Example" });
  });
});

describe("two-factor sign-in in Chromium", () => {
  it("set up in Settings, sign out, sign in with the password and a code", async () => {
    const b = await browsers.open(node.url);
    const page = b.page;
    await page.goto("/");
    await page.locator('input[name="username"]').fill("frank");
    await page.locator('input[name="password"]').fill(FRANK);
    await page.locator('button[type="submit"]').click();
    await page.locator("nav.sidebar").waitFor({ timeout: 15000 });

    await page.getByTestId("open-settings").click();
    const dialog = page.getByRole("dialog", { name: "Settings" });
    await dialog.getByRole("button", { name: "Set up two-factor sign-in" }).click();
    const secret = (await dialog.getByTestId("mfa-secret").textContent())!.trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await expect.poll(() => dialog.locator("svg.qr path").getAttribute("d")).toMatch(/^M\d/);
    await dialog.locator('input[name="mfaCode"]').fill(await totpAt(secret, Date.now()));
    await dialog.getByRole("button", { name: "Turn on two-factor sign-in" }).click();
    await expect.poll(() => dialog.getByTestId("recovery-codes").locator("li").count()).toBe(10);
    await dialog.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => dialog.getByTestId("two-factor").textContent()).toContain("Recovery codes left: 10");
    await dialog.getByRole("button", { name: "Close" }).click();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator('input[name="username"]').fill("frank");
    await page.locator('input[name="password"]').fill(FRANK);
    await page.locator('button[type="submit"]').click();
    const code = page.locator('input[name="code"]');
    await code.waitFor({ timeout: 10000 });
    // The next step's code: the current step's was used to turn 2FA on, and a code counts once.
    await code.fill(await totpAt(secret, Date.now() + 30_000));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.locator("nav.sidebar").waitFor({ timeout: 15000 });
    expect((await meOf(b)).username).toBe("frank");
    expect(b.cspViolations).toEqual([]);
    expect(b.pageErrors).toEqual([]);
  });
});

describe("mfa.requiredForAdmins in Chromium", () => {
  let strict: OutpostNode;
  afterAll(async () => {
    await strict?.stop();
  });

  it("an administrator without two-factor sign-in is sent to enrolment first, then into the app", async () => {
    strict = await startNode({ adminPassword: PW, mfa: { requiredForAdmins: true } });
    const b = await browsers.open(strict.url);
    const page = b.page;
    await page.goto("/");
    await page.locator('input[name="username"]').fill("admin");
    await page.locator('input[name="password"]').fill(PW);
    await page.locator('button[type="submit"]').click();
    await page.getByText("This node requires administrators to use two-factor sign-in").waitFor({ timeout: 15000 });
    expect(await page.locator("nav.sidebar").count()).toBe(0);
    await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
    const secret = (await page.getByTestId("mfa-secret").textContent())!.trim();
    await page.locator('input[name="mfaCode"]').fill(await totpAt(secret, Date.now()));
    await page.getByRole("button", { name: "Turn on two-factor sign-in" }).click();
    await expect.poll(() => page.getByTestId("recovery-codes").locator("li").count()).toBe(10);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.locator("nav.sidebar").waitFor({ timeout: 15000 });
    expect(b.pageErrors).toEqual([]);
  });
});
