/**
 * Who is calling. The Worker authenticates and passes this to objects; the
 * objects decide what the caller may do (DESIGN: "the Worker authenticates,
 * the Durable Object decides").
 */
export interface Caller {
  userId: string;
  sessionId: string;
  username: string;
  displayName: string;
  isAdmin: boolean;
  /** the user's setting: may others see their read position? */
  sendReceipts?: boolean;
  /**
   * Set only by the link's `/sends` (routes/link.ts): the send was made on
   * another node, which already held it to the person's message budget.
   */
  viaLink?: boolean;
}

/** Headers the Worker sets on WebSocket upgrades it forwards; any a client sent are stripped first. */
export const IDENTITY_HEADERS = {
  user: "x-outpost-user",
  session: "x-outpost-session",
  username: "x-outpost-username",
  displayName: "x-outpost-display-name",
} as const;

export function callerFromHeaders(h: Headers): Caller | null {
  const userId = h.get(IDENTITY_HEADERS.user);
  const sessionId = h.get(IDENTITY_HEADERS.session);
  if (!userId || !sessionId) return null;
  return {
    userId,
    sessionId,
    username: h.get(IDENTITY_HEADERS.username) ?? "",
    displayName: decodeDisplayName(h.get(IDENTITY_HEADERS.displayName) ?? ""),
    isAdmin: false,
  };
}

/**
 * Header values are bytes, so the display name travels percent-encoded.
 * Names stored before the names rule (protocol/names.ts) may hold a lone
 * surrogate, which `encodeURIComponent` throws on (a 500 on every socket of
 * that user): it is made well-formed first (U+FFFD), as it would be on disk.
 */
export function encodeDisplayName(name: string): string {
  return encodeURIComponent(name.toWellFormed());
}

/** The inverse; a value the Worker did not encode is shown as it came rather than failing the upgrade. */
export function decodeDisplayName(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
