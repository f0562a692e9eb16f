// Types for node-config.mjs (plain ESM so that node runs it without a TS loader).

export interface DurableObjectDescription {
  readonly binding: string;
  readonly className: string;
}

export interface Limits {
  maxTextBytes: number;
  recallWindowSeconds: number;
  maxFrameBytes: number;
  sessionTtlSeconds: number;
  maxSessionsPerUser: number;
  /** largest upload in bytes */
  maxFileBytes: number;
  /** messages a user may send per second, across all their rooms (0: no limit) */
  messagesPerSecondPerUser: number;
  /** messages a user may send at once before the per-second rate applies (0: no limit) */
  messageBurstPerUser: number;
  /** group rooms a user may create in any 24 hours (0: no limit; admins are exempt) */
  roomsPerUserPerDay: number;
  /** node-wide sign-in budget: password checks a second on average */
  signInsPerSecond: number;
  /** node-wide sign-in budget: password checks at once after a quiet spell */
  signInBurst: number;
  /** PBKDF2 iterations for new password hashes (each hash records its own count) */
  passwordHashIterations: number;
  /** upload types (exact, or `image/` + `*`); absent: the Worker's built-in list */
  allowedFileTypes?: string[];
}

/** The shape of the JSON file `OUTPOST_CONFIG` names. */
export interface NodeDescription {
  name?: string;
  listen?: string;
  dataDir?: string;
  tls?: { cert: string; key: string } | null;
  limits?: Partial<Limits>;
  trustProxy?: boolean;
  /** origins besides the node's own whose pages may use the session cookie (e.g. a TLS proxy's public origin) */
  allowedOrigins?: string[];
}

export interface NodeConfig {
  name: string;
  /** normalised "host:port" */
  listen: string;
  host: string;
  port: number;
  /** where this machine reaches the node (wildcard hosts become loopback), http or https */
  url: string;
  /** absolute */
  dataDir: string;
  /** absolute paths */
  tls: { cert: string; key: string } | null;
  limits: Limits;
  trustProxy: boolean;
  allowedOrigins: string[];
  configFile: string | null;
}

export type Binding =
  | { name: string; text: string }
  | { name: string; json: string }
  | { name: string; fromEnvironment: string }
  | { name: string; durableObjectNamespace: string }
  | { name: string; service: string };

export const DURABLE_OBJECTS: readonly DurableObjectDescription[];
export const COMPATIBILITY_DATE: string;
export const COMPATIBILITY_FLAGS: readonly string[];
export const DEFAULT_LIMITS: Readonly<Limits>;
export const DEFAULT_LISTEN: string;
export const DEFAULT_DATA_DIR: string;
export const DEFAULT_NODE_NAME: string;
export const NODE_NAME_RE: RegExp;
export const WORKER_SERVICE: string;
export const DO_DISK_SERVICE: string;
export const FILES_DISK_SERVICE: string;
export const NETWORK_SERVICE: string;
export const WORKERD_DIR: string;
export const CAPNP_FILE: string;
export const BUNDLE_FILE: string;
export const VERSION: string;
export function uniqueKeyFor(className: string): string;

export function loadNodeConfig(env?: Record<string, string | undefined>, options?: { cwd?: string }): NodeConfig;
export function makeNodeConfig(
  description: NodeDescription & { configFile?: string | null },
  options?: { baseDir?: string; cwd?: string; sources?: Record<string, string> },
): NodeConfig;
export function mergeLimits(overrides: unknown, label?: string): Limits;
export function parseListen(listen: unknown, label?: string): { host: string; port: number };
export function bindings(config: Pick<NodeConfig, "name"> & { limits?: Partial<Limits> }): Binding[];
export function capnpString(value: unknown): string;
export function renderCapnp(
  config: NodeConfig,
  paths: { bundlePath: string; configDir?: string; tlsCertPath?: string; tlsKeyPath?: string },
): string;
/** Also removes uploads a crash left half-written under `<dataDir>/files` (ops/files-sweep.mjs). */
export function writeWorkerdFiles(
  config: NodeConfig,
  options: { bundlePath: string },
): { configPath: string; configDir: string; sweptUploads: { removed: string[]; bytes: number } };
