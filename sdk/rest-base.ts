/**
 * What every REST call of OutpostClient goes through: the node's origin, the
 * bearer token or the session cookie, the device token, and `request` (JSON
 * in, the answer checked leniently with its schema out, `OutpostApiError` on
 * failure: answers.ts).
 *
 * OutpostClient's methods are split by resource over the files beside this
 * one, each a class extending the one before (rest-session.ts ← rest-people.ts
 * ← rest-admin.ts ← rest-rooms.ts ← rest-messages.ts ← rest.ts): a bot or the
 * web client still calls every method on the one client (`api.login`,
 * `api.send`), and TypeScript checks each file on its own. The order of the
 * chain means nothing beyond this base coming first.
 */
import type { z } from "zod";
import type { SignIn } from "../protocol/responses";
import { parseAnswer } from "./answers";
import { OutpostApiError } from "./errors";

export interface ClientOptions {
  /** origin of the node, e.g. "https://chat.example.org"; "" (default) = same origin (browser) */
  baseUrl?: string;
  /** bearer token for non-browser clients */
  token?: string | null;
  /** fetch implementation (default: globalThis.fetch) */
  fetch?: typeof fetch;
  /** the `deviceToken` an earlier sign-in of this device returned (see rest.ts) */
  deviceToken?: string | null;
}

/** The answer to login() and setup(). */
export type LoginResult = SignIn;

/** `k=v&…` of the parameters that are set (undefined and "" are left out), values URI-encoded. */
export function queryString(params: object): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join("&");
}

export class RestBase {
  baseUrl: string;
  token: string | null;
  /** this device's token for the node's sign-in throttling; updated by every login() and setup() */
  deviceToken: string | null;
  protected readonly fetchImpl: typeof fetch;
  protected readonly customFetch: boolean;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/$/, "");
    this.token = options.token ?? null;
    this.deviceToken = options.deviceToken ?? null;
    // Bound: some runtimes refuse fetch called with another `this`.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.customFetch = !!options.fetch;
  }

  /** The underlying request: JSON in, JSON out (checked leniently with `schema`), `OutpostApiError` on failure. */
  async request<T = unknown>(method: string, path: string, body?: unknown, schema?: z.ZodType<T>, extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...extraHeaders };
    // A Blob is sent as it is (an avatar), anything else as JSON.
    const raw = typeof Blob !== "undefined" && body instanceof Blob;
    if (body !== undefined) headers["content-type"] = raw ? body.type || "application/octet-stream" : "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      throw new OutpostApiError(0, "network", `the node could not be reached (${(err as Error).message})`);
    }
    return parseAnswer(res.status, await res.text(), `${method} ${path}`, schema);
  }

  /** Keep the device token a sign-in answered with (login, the second step, setup, an invite). */
  protected keepDeviceToken(result: LoginResult): LoginResult {
    if (result.deviceToken) this.deviceToken = result.deviceToken;
    return result;
  }

  /** ws(s):// URL of a socket path on this node (same origin in the browser). */
  socketUrl(path: string): string {
    const base = this.baseUrl || (typeof location !== "undefined" ? location.origin : "");
    return base.replace(/^http/, "ws") + "/api/v1" + path;
  }
}
