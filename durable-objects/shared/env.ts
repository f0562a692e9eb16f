/**
 * The bindings every part of the node sees (the Worker and every object), and
 * the node's limits. It lives beside the objects, not in worker/, because the
 * objects need it and must never import the Worker (which imports them).
 * The generated workerd capnp (ops/workerd-config.mjs) and wrangler.toml provide
 * these bindings; test/config.test.ts checks they agree.
 */
import type { RoomObject } from "../room/room-object";
import type { UserObject } from "../user/user-object";
import type { DirectoryObject } from "../directory/directory-object";
import type { LinkObject } from "../link/link-object";
import type { MirrorObject } from "../mirror/mirror-object";
import type { FileBindings } from "./file-store";
import { DEFAULT_LIMITS, parseLimits, type Limits, type LimitsInput } from "./limits.mjs";

export type { Limits };

/** `FILES` (a node's disk) or `FILES_BUCKET` (R2): see durable-objects/shared/file-store.ts. */
export interface Env extends FileBindings {
  NODE_NAME: string;
  VERSION: string;
  /** any subset of the limits; the rest take their defaults (durable-objects/shared/limits.mjs) */
  LIMITS?: LimitsInput;
  /**
   * Origins besides the node's own whose pages may use the session cookie to act
   * and to open sockets (node config `allowedOrigins`); absent under wrangler.
   */
  ALLOWED_ORIGINS?: string[];
  /** sign-in policy from the node config (ops/workerd-config.mjs authBinding); absent under wrangler: no SSO, 2FA optional */
  AUTH?: AuthConfig;
  /** the SSO client secret, from the environment of `npm start` (node config `oidc.clientSecret`) */
  OIDC_CLIENT_SECRET?: string;
  /** one-time token that lets the first visitor create the admin (from `npm start`) */
  SETUP_TOKEN?: string;
  /** if set at first start, an `admin` account with this password is created */
  ADMIN_PASSWORD?: string;
  /** random per start (from `npm start`), echoed by /healthz so the start-up check knows it reached this process */
  INSTANCE_TOKEN?: string;
  /** the token a metrics scraper sends to `GET /metrics` (node config `metrics.token`, from the environment); ≥ 32 characters or ignored */
  METRICS_TOKEN?: string;
  /** this node's Ed25519 public key (base64url), shown by /healthz; empty under wrangler */
  NODE_PUBLIC_KEY?: string;
  /** its private key (PKCS #8, base64url), from the environment of `npm start` only */
  NODE_PRIVATE_KEY?: string;
  /** the organisation's nodes (ops/cluster.mjs); absent when the node runs alone */
  CLUSTER?: { self: string; nodes: { name: string; url: string; publicKey: string }[] };
  /** a network service that reaches exactly the cluster's other nodes */
  PEERS?: Fetcher;
  ROOMS: DurableObjectNamespace<RoomObject>;
  USERS: DurableObjectNamespace<UserObject>;
  DIRECTORY: DurableObjectNamespace<DirectoryObject>;
  /** one per other node: the link's state, heartbeats and queue (durable-objects/link/) */
  LINKS: DurableObjectNamespace<LinkObject>;
  /** this node's copies of rooms homed on other nodes (durable-objects/mirror/) */
  MIRRORS: DurableObjectNamespace<MirrorObject>;
}

/** The node config's `oidc` (without its secret) and `mfa`, as ops/node-config.mjs checked them. */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  displayName: string;
  scopes: string[];
  usernameClaim: string;
  allowedDomains: string[];
  allowedGroups: string[];
  autoCreate: boolean;
  linkExisting: boolean;
  /** false: the password form is refused (`POST /auth/login` answers forbidden); SSO only */
  passwordSignIn: boolean;
}
export interface AuthConfig {
  oidc: OidcConfig | null;
  mfa: { requiredForAdmins: boolean };
}

export function authOf(env: Env): AuthConfig {
  return env.AUTH ?? { oidc: null, mfa: { requiredForAdmins: false } };
}

/** Each LIMITS binding checked once per isolate: the objects and some routes ask on every request. */
const parsed = new WeakMap<object, Limits>();

/**
 * The node's limits: the `LIMITS` binding with every limit it leaves out at its default.
 * A binding that breaks the schema's rules (a node's config is checked before it starts;
 * a hand-edited wrangler.toml is not) throws, naming the limit, rather than running a
 * node whose limits nobody chose.
 */
export function limitsOf(env: Env): Limits {
  const given = env.LIMITS;
  if (!given) return DEFAULT_LIMITS;
  let limits = parsed.get(given);
  if (!limits) {
    limits = parseLimits(given, "LIMITS");
    parsed.set(given, limits);
  }
  return limits;
}
