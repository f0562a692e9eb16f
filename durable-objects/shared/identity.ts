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
    displayName: decodeURIComponent(h.get(IDENTITY_HEADERS.displayName) ?? ""),
    isAdmin: false,
  };
}
