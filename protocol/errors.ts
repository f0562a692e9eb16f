import { z } from "zod";

/**
 * Stable, machine-readable error codes. Clients switch on `code`, never on
 * `message` (which is for people and may change). REST errors are rendered as
 * `{ "error": { "code", "message" } }`; WebSocket errors as an `error` frame.
 */
export const ERROR_STATUS = {
  bad_json: 400,
  invalid_request: 400,
  // A password the node refuses to set: too short, the username, or a common one
  // (the message says which). Answered before anything is written.
  weak_password: 400,
  unauthorized: 401,
  setup_token_invalid: 401,
  forbidden: 403,
  // A room (or message, or user) the caller may not see is reported exactly like
  // one that does not exist, so ids cannot be probed.
  not_found: 404,
  conflict: 409,
  // An administrator's action that only a room's home node can do (a compliance
  // export): this node holds a mirror of the room; the message names its home.
  not_home_node: 409,
  username_taken: 409,
  setup_done: 409,
  // People administration: the node keeps at least one active administrator, so
  // the last one cannot be deactivated or lose the admin flag.
  last_admin: 409,
  // Invite links (POST /api/v1/invites/…): never issued (or mistyped), already used
  // (single use), or past their 7 days. Each asks the invitee to get a new link.
  invite_invalid: 404,
  invite_used: 410,
  invite_expired: 410,
  // A legal hold (node administrators: /api/v1/admin/holds) covers the person: their
  // data cannot be erased until the hold is released.
  under_legal_hold: 409,
  // Two-factor sign-in: a wrong or already used code (counted like a wrong password); the
  // second step's challenge expired or used up (sign in again); a session that may only
  // enrol a second factor until it has one (node config mfa.requiredForAdmins).
  mfa_code_invalid: 401,
  mfa_challenge_invalid: 401,
  mfa_enrolment_required: 403,
  // Single sign-on (OpenID Connect): not configured on this node; the callback's state is
  // unknown, used or expired (start again); the provider's answer failed a check; the
  // identity has no account here (and none is created); it is outside the allowed
  // domains or groups; the account is deactivated.
  sso_not_configured: 404,
  sso_state_invalid: 400,
  sso_failed: 502,
  sso_no_account: 403,
  sso_not_allowed: 403,
  account_deactivated: 403,
  recall_window_passed: 403,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  // The room's database file is damaged (not a transient fault): retrying will not help, an admin must look.
  room_unavailable: 500,
  storage_error: 503,
  // A room homed on another node whose link is down (or a home-only room's data,
  // which never leaves its node) cannot be reached now; the link's return fixes it.
  room_unreachable: 503,
  // Signing in at a node that is not one's home: the home checks the password, and
  // cannot be reached now. Sessions issued earlier keep working; the link's return fixes it.
  home_unreachable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * Every failed REST answer (rendered in one place, worker/middleware/errors.ts).
 * A newer node may add codes: a client that meets one it does not know acts on
 * the HTTP status (the SDK reads error bodies by hand for that reason).
 */
export const ErrorBodySchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    /** with `rate_limited` (and its `Retry-After` header): how long to wait before the same request */
    retryAfterMs: z.number().nonnegative().optional(),
    /**
     * with `invalid_request` from a body or query that did not fit its schema: the
     * first field at fault (its path, dot-separated: `name`, `members.0`), so a form
     * can point at it
     */
    field: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** WebSocket close codes we use, with the standard meaning. */
export const CLOSE = {
  normal: 1000,
  going_away: 1001,
  /** policy: removed from the room, session revoked, user deactivated */
  policy: 1008,
  /** a frame larger than the node accepts */
  too_big: 1009,
  internal: 1011,
} as const;
