/**
 * Limits of the wire that clients check before they send, as plain numbers:
 * importing them costs a client no schema (the web client's first screen
 * would otherwise bundle every request schema of rest.ts for one constant).
 */

/** Files one message may share (the web client's composer holds at most this many too). */
export const MAX_ATTACHMENTS = 10;
