/**
 * Visitors: a person signing in at a node that is not their home
 * (worker/visitors/). The bodies the visited node sends the home over the
 * signed link, and the home's answers. Loose: a newer node may say more.
 */
import { z } from "zod";
import { SessionUserSchema } from "./models";

/** `POST /link/v1/visitors/sign-in`: the credentials, checked and throttled by the home. */
export const VisitorSignIn = z.looseObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
  /** the client's address as the visited node knows it ("unknown" without a trusted proxy) */
  address: z.string().max(100),
  /** the device token the client presented (the home's own, from an earlier sign-in) */
  deviceToken: z.string().max(1000).nullable(),
  userAgent: z.string().max(300),
});
export type VisitorSignIn = z.infer<typeof VisitorSignIn>;

/** The home's answer to a good sign-in: a session of the home, which the visited node serves. */
export const VisitorSession = z.looseObject({
  token: z.string(),
  sessionId: z.string(),
  expiresAt: z.number(),
  user: SessionUserSchema,
  deviceToken: z.string().nullable(),
});
export type VisitorSession = z.infer<typeof VisitorSession>;

/** `POST /link/v1/visitors/api`: one REST request of a visitor, for the home to serve as that person. */
export const VisitorRelay = z.looseObject({
  token: z.string().max(300),
  method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
  /** `/api/v1/…` with its query */
  path: z.string().startsWith("/api/v1/").max(4000),
  contentType: z.string().max(200).nullable(),
  /** the body, base64url; null for none */
  body: z.string().nullable(),
});
export type VisitorRelay = z.infer<typeof VisitorRelay>;

/** The home's answer, as it would have answered the person directly. */
export const VisitorRelayAnswer = z.looseObject({
  status: z.number().int(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
});
export type VisitorRelayAnswer = z.infer<typeof VisitorRelayAnswer>;
