/** What a failed REST call throws: the server's stable `code` (see protocol/errors) and its message. */
export class OutpostApiError extends Error {
  constructor(
    /** HTTP status; 0 when the node could not be reached at all */
    readonly status: number,
    /** stable machine-readable code (`unauthorized`, `not_found`, …); `network` when unreachable */
    readonly code: string,
    message: string,
    /** with `rate_limited` (429): how long the node asked to wait before the same request again */
    readonly retryAfterMs?: number,
    /** with `invalid_request` from a form's body: the field at fault (`name`, `members.0`), when the node said */
    readonly field?: string,
  ) {
    super(message);
    this.name = "OutpostApiError";
  }

  /** Worth retrying later with the same request (node down, overloaded, rate-limited). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/**
 * login() of an account with two-factor sign-in, without a code: the password
 * was right; finish with `client.loginMfa(err.challenge, code)` before `expiresAt`.
 */
export class MfaRequiredError extends OutpostApiError {
  constructor(
    readonly challenge: string,
    readonly expiresAt: number,
  ) {
    super(200, "mfa_required", "this account signs in with a second factor: send a code to loginMfa()");
    this.name = "MfaRequiredError";
  }
}
