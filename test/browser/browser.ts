/**
 * Real headless Chromium for the web client tests: Debian's /usr/bin/chromium
 * driven by playwright-core (no browser download). Each user gets their own
 * browser context, so cookies, localStorage, IndexedDB, caches and permissions
 * are as separate as two people's machines (a context is Chromium's own
 * isolation unit, the one its incognito windows use). The contexts of one test
 * file share one Chromium process: launching Chromium for every user cost
 * ~1.4 s each, a context costs ~0.6 s. The shared process is closed after the
 * file's last test (test/node-setup.ts), and by playwright if the worker dies.
 *
 * Every page records script executions the hostile corpus might cause (dialogs,
 * a global flag set by injected code) and CSP violations.
 */
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { UntypedBody } from "../untyped-body";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

export interface UserBrowser {
  context: BrowserContext;
  page: Page;
  dialogs: string[];
  cspViolations: string[];
  pageErrors: string[];
  close(): Promise<void>;
}

/** Where test/node-setup.ts finds how to close it (without loading playwright into every test file). */
export const CLOSE_CHROMIUM = "__outpostCloseChromium";

/** This test file's Chromium, launched by the first openBrowser. */
let shared: Promise<Browser> | null = null;

function sharedChromium(): Promise<Browser> {
  if (!shared) {
    const launching = chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    shared = launching;
    (globalThis as { [CLOSE_CHROMIUM]?: () => Promise<void> })[CLOSE_CHROMIUM] = closeSharedChromium;
    // A launch that fails is not kept: the next openBrowser tries again.
    launching.catch(() => {
      if (shared === launching) shared = null;
    });
  }
  return shared;
}

/** Close this file's Chromium, if one was launched (every context with it). */
export async function closeSharedChromium(): Promise<void> {
  const launching = shared;
  shared = null;
  if (!launching) return;
  const browser = await launching.catch(() => null);
  await browser?.close().catch(() => {});
}

export async function openBrowser(baseUrl: string, options: { locale?: string; viewport?: { width: number; height: number }; colorScheme?: "light" | "dark" } = {}): Promise<UserBrowser> {
  const browser = await sharedChromium();
  const context = await browser.newContext({
    locale: options.locale ?? "en-US",
    viewport: options.viewport ?? { width: 1200, height: 800 },
    colorScheme: options.colorScheme ?? "light",
    baseURL: baseUrl,
  });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  page.on("dialog", (d) => {
    // confirm() is the app's own (recall, leave): accept it. alert/prompt would be injected script.
    if (d.type() === "confirm") void d.accept();
    else {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    }
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.exposeFunction("__outpostCsp", (v: string) => cspViolations.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => (window as unknown as { __outpostCsp(v: string): void }).__outpostCsp(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
  });
  return {
    context,
    page,
    dialogs,
    cspViolations,
    pageErrors,
    async close() {
      await context.close().catch(() => {});
    },
  };
}

/**
 * The browsers a test file opens, each closed after its last test (closeAll in
 * afterAll): a test that fails half-way leaves no Chromium running and no
 * profile folder behind.
 *
 * @example
 *   const browsers = new OpenBrowsers();
 *   afterAll(() => browsers.closeAll());
 *   const b = await browsers.open(node.url, { locale: "zh-CN" });
 */
export class OpenBrowsers {
  private readonly opened: UserBrowser[] = [];

  async open(baseUrl: string, options: Parameters<typeof openBrowser>[1] = {}): Promise<UserBrowser> {
    const b = await openBrowser(baseUrl, options);
    this.opened.push(b);
    return b;
  }

  async closeAll(): Promise<void> {
    for (const b of this.opened) await b.close();
  }
}

export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto("/");
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  await page.locator("nav.sidebar").waitFor({ timeout: 15000 });
}

/** Admin REST helpers (bearer token), to create the people the browsers sign in as, and their rooms. */
export async function createUser(url: string, token: string, body: { username: string; password: string; displayName: string }): Promise<{ id: string }> {
  const res = await fetch(`${url}/api/v1/users`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`create user ${body.username}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<{ id: string }>;
}

export async function rest(url: string, token: string, method: string, p: string, body?: unknown): Promise<UntypedBody> {
  const res = await fetch(`${url}/api/v1${p}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * The node does not answer the first `times` requests matching `url` (503 unavailable, as a node
 * restarting or a proxy in between would), then answers as usual. `refused()` counts the refusals;
 * `stop()` takes the route away.
 */
export async function refuseFirst(page: Page, url: RegExp, times: number): Promise<{ refused: () => number; stop: () => Promise<void> }> {
  let refused = 0;
  await page.route(url, async (route) => {
    if (refused < times) {
      refused++;
      await route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "try again" } }) });
    } else await route.continue();
  });
  return { refused: () => refused, stop: () => page.unroute(url) };
}
