/**
 * One description of a node, two configs: wrangler.toml (dev, vitest-pool-workers) is
 * written by hand, the workerd capnp is generated. These tests fail when they drift.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_ENTRY, repoRoot } from "../ops/build.mjs";
import {
  COMPATIBILITY_DATE,
  COMPATIBILITY_FLAGS,
  DEFAULT_LIMITS,
  DEFAULT_NODE_NAME,
  DURABLE_OBJECTS,
  VERSION,
  loadNodeConfig,
  makeNodeConfig,
  uniqueKeyFor,
} from "../ops/node-config.mjs";
import { bindings, capnpString, renderCapnp } from "../ops/workerd-config.mjs";
import { limitsOf, type Env } from "../durable-objects/shared/env";
import { LIMIT_NAMES, parseLimits } from "../durable-objects/shared/limits.mjs";
import { readWranglerToml } from "./wrangler-toml";

// Bindings only a self-hosted node has: secrets from its environment, and the files disk.
const NODE_ONLY_BINDINGS = ["SETUP_TOKEN", "ADMIN_PASSWORD", "INSTANCE_TOKEN", "FILES", "ALLOWED_ORIGINS", "NODE_PUBLIC_KEY", "NODE_PRIVATE_KEY", "METRICS_TOKEN", "AUTH", "OIDC_CLIENT_SECRET"];
// Bindings only wrangler has: the R2 bucket that holds files where there is no node disk
// (wrangler dev, the workerd tests, a Cloudflare deployment). The Worker picks its file
// store from which of FILES / FILES_BUCKET is bound (durable-objects/shared/file-store.ts),
// so each config must bind exactly one of them.
const WRANGLER_ONLY_BINDINGS = ["FILES_BUCKET"];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-config-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const wrangler = readWranglerToml();

/** Undo capnpString: `\"`, `\\` and `\xNN` bytes. */
function capnpUnquote(literal: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < literal.length; i++) {
    const ch = literal[i];
    if (ch !== "\\") {
      bytes.push(...Buffer.from(ch, "utf8"));
    } else if (literal[i + 1] === "x") {
      bytes.push(parseInt(literal.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      bytes.push(literal.charCodeAt(i + 1));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

const STR = String.raw`"((?:[^"\\]|\\.)*)"`;

/**
 * Every binding name wrangler.toml declares, whatever its kind. Keys of wrangler.toml that
 * declare bindings and that this test does not know make it fail, so a new kind of binding
 * cannot slip past the comparison below.
 */
const WRANGLER_BINDING_KINDS = ["vars", "durable_objects", "r2_buckets"];
const WRANGLER_OTHER_KEYS = ["name", "main", "compatibility_date", "compatibility_flags", "migrations", "rules"];
function wranglerBindingNames(): string[] {
  return [
    ...Object.keys(wrangler.vars ?? {}),
    ...(wrangler.durable_objects?.bindings ?? []).map((b) => b.name),
    ...(wrangler.r2_buckets ?? []).map((b) => b.binding),
  ];
}

/** What the rendered capnp says, read back with regexes. */
function readCapnp(text: string) {
  const compatibilityDate = new RegExp(`compatibilityDate = ${STR}`).exec(text)?.[1];
  const flagsList = /compatibilityFlags = \[([^\]]*)\]/.exec(text)?.[1] ?? "";
  const compatibilityFlags = [...flagsList.matchAll(new RegExp(STR, "g"))].map((m) => capnpUnquote(m[1]));
  const binds = new Map<string, { kind: string; value: string }>();
  for (const m of text.matchAll(new RegExp(String.raw`\(name = ${STR}, (\w+) = ${STR}\)`, "g"))) {
    binds.set(capnpUnquote(m[1]), { kind: m[2], value: capnpUnquote(m[3]) });
  }
  const namespaces = [
    ...text.matchAll(new RegExp(String.raw`\(className = ${STR}, uniqueKey = ${STR}, enableSql = (true|false)\)`, "g")),
  ].map((m) => ({ className: m[1], uniqueKey: m[2], enableSql: m[3] === "true" }));
  const services = new Map<string, { kind: string; path: string; writable: boolean }>();
  for (const m of text.matchAll(new RegExp(String.raw`\(name = ${STR}, (\w+) = \(path = ${STR}, writable = (true|false)\)\)`, "g"))) {
    services.set(capnpUnquote(m[1]), { kind: m[2], path: capnpUnquote(m[3]), writable: m[4] === "true" });
  }
  return { compatibilityDate, compatibilityFlags, binds, namespaces, services };
}

const defaultConfig = makeNodeConfig({ dataDir: path.join(tmp, "data") });
const capnp = readCapnp(renderCapnp(defaultConfig, { bundlePath: path.join(tmp, "data/.workerd/worker.js") }));

describe("wrangler.toml and the generated workerd config agree", () => {
  it("run the same entry point", () => {
    expect(path.resolve(repoRoot, wrangler.main)).toBe(DEFAULT_ENTRY);
  });

  it("have the same compatibility date and flags", () => {
    expect(wrangler.compatibility_date).toBe(COMPATIBILITY_DATE);
    expect(wrangler.compatibility_flags).toEqual([...COMPATIBILITY_FLAGS]);
    expect(capnp.compatibilityDate).toBe(COMPATIBILITY_DATE);
    expect(capnp.compatibilityFlags).toEqual([...COMPATIBILITY_FLAGS]);
  });

  it("bind the same Durable Object classes under the same names", () => {
    const fromWrangler = wrangler.durable_objects!.bindings.map((b) => ({ binding: b.name, className: b.class_name }));
    expect(fromWrangler).toEqual(DURABLE_OBJECTS.map((d) => ({ ...d })));
    for (const d of DURABLE_OBJECTS) {
      expect(capnp.binds.get(d.binding)).toEqual({ kind: "durableObjectNamespace", value: d.className });
    }
  });

  it("store every class in SQLite", () => {
    const sqliteClasses = wrangler.migrations.flatMap((m) => m.new_sqlite_classes ?? []);
    expect(sqliteClasses.sort()).toEqual(DURABLE_OBJECTS.map((d) => d.className).sort());
    expect(wrangler.migrations.some((m) => m.new_classes)).toBe(false); // KV-backed classes cannot use SQL
    expect(capnp.namespaces).toEqual(
      DURABLE_OBJECTS.map((d) => ({ className: d.className, uniqueKey: uniqueKeyFor(d.className), enableSql: true })),
    );
  });

  it("give the Worker the same vars with the description's defaults", () => {
    expect(Object.keys(wrangler.vars!).sort()).toEqual(["LIMITS", "NODE_NAME", "VERSION"]);
    expect(wrangler.vars!.NODE_NAME).toBe(DEFAULT_NODE_NAME);
    expect(wrangler.vars!.VERSION).toBe(VERSION);
    // wrangler.toml cannot import the schema: each limit it names must be the schema's default,
    // and together with the defaults it names nothing else.
    for (const [key, value] of Object.entries(wrangler.vars!.LIMITS as Record<string, unknown>)) expect([key, value]).toEqual([key, DEFAULT_LIMITS[key as keyof typeof DEFAULT_LIMITS]]);
    expect(parseLimits(wrangler.vars!.LIMITS)).toEqual({ ...DEFAULT_LIMITS });

    expect(capnp.binds.get("NODE_NAME")).toEqual({ kind: "text", value: DEFAULT_NODE_NAME });
    expect(capnp.binds.get("VERSION")).toEqual({ kind: "text", value: VERSION });
    expect(capnp.binds.get("LIMITS")?.kind).toBe("json");
    expect(JSON.parse(capnp.binds.get("LIMITS")!.value)).toEqual({ ...DEFAULT_LIMITS });
  });

  it("declare bindings only of the kinds this test compares", () => {
    expect(Object.keys(wrangler).filter((k) => !WRANGLER_BINDING_KINDS.includes(k) && !WRANGLER_OTHER_KEYS.includes(k))).toEqual([]);
  });

  it("differ only in the node-only and wrangler-only bindings", () => {
    const wranglerNames = wranglerBindingNames();
    const capnpNames = [...capnp.binds.keys()];
    expect(capnpNames.filter((n) => !wranglerNames.includes(n)).sort()).toEqual([...NODE_ONLY_BINDINGS].sort());
    expect(wranglerNames.filter((n) => !capnpNames.includes(n)).sort()).toEqual([...WRANGLER_ONLY_BINDINGS].sort());
    expect(capnp.binds.get("SETUP_TOKEN")).toEqual({ kind: "fromEnvironment", value: "OUTPOST_SETUP_TOKEN" });
    expect(capnp.binds.get("ADMIN_PASSWORD")).toEqual({ kind: "fromEnvironment", value: "OUTPOST_ADMIN_PASSWORD" });
  });

  it("store files on the node's disk under workerd and in R2 under wrangler, never both", () => {
    // The node: FILES is a service, and that service is a writable disk under <data>/files.
    const files = capnp.binds.get("FILES");
    expect(files?.kind).toBe("service");
    expect(capnp.services.get(files!.value)).toEqual({ kind: "disk", path: path.join(defaultConfig.dataDir, "files"), writable: true });
    expect(capnp.binds.has("FILES_BUCKET")).toBe(false);
    // wrangler: exactly one R2 bucket, bound as FILES_BUCKET; nothing named FILES.
    expect(wrangler.r2_buckets).toEqual([{ binding: "FILES_BUCKET", bucket_name: expect.stringMatching(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/) }]);
    expect(wranglerBindingNames()).not.toContain("FILES");
  });

  it("give the Worker the node's defaults for every limit its LIMITS leaves out (one schema: durable-objects/shared/limits.mjs)", () => {
    const env = (LIMITS: Env["LIMITS"]) => ({ LIMITS }) as Env;
    expect(limitsOf(env(undefined))).toEqual({ ...DEFAULT_LIMITS });
    expect(limitsOf(env({ maxFileBytes: 1000 }))).toEqual({ ...DEFAULT_LIMITS, maxFileBytes: 1000 });
    expect(() => limitsOf(env({ maxTextBytes: -1 }))).toThrow("limits.maxTextBytes: must be a positive integer, got -1");
    // vitest.workers.config.ts names only the limits its tests shorten; each must be a real one.
    const testBindings = fs.readFileSync(path.join(repoRoot, "vitest.workers.config.ts"), "utf8");
    const block = /LIMITS: \{([^}]*)\}/.exec(testBindings)?.[1] ?? "";
    const named = [...block.matchAll(/^\s*(\w+):/gm)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    for (const key of named) expect(LIMIT_NAMES).toContain(key);
  });

  it("import .sql files as text, as the esbuild bundle does", () => {
    expect(wrangler.rules).toContainEqual({ type: "Text", globs: ["**/*.sql"], fallthrough: true });
  });

  it("render every binding the description lists", () => {
    expect([...capnp.binds.keys()]).toEqual(bindings(defaultConfig).map((b) => b.name));
  });
});

describe("renderCapnp", () => {
  it("quotes strings so any value round-trips", () => {
    const nasty = 'a"b\\c\nd\u00e9\u4e2d\u{1f600}\u0000';
    const lit = capnpString(nasty);
    expect(lit).toMatch(/^"[\x20-\x7e]*"$/); // plain ASCII, nothing raw
    expect(capnpUnquote(lit.slice(1, -1))).toBe(nasty);
  });

  it("embeds the bundle relative to the config file and keeps storage under the data dir", () => {
    const config = makeNodeConfig({ dataDir: path.join(tmp, "d2"), listen: "*:9000" });
    const text = renderCapnp(config, { bundlePath: path.join(tmp, "dist/worker.js"), configDir: path.join(tmp, "d2/.workerd") });
    expect(text).toContain('esModule = embed "../../dist/worker.js"');
    expect(text).toContain(`disk = (path = ${capnpString(path.join(tmp, "d2/objects"))}, writable = true)`);
    expect(text).toContain(`disk = (path = ${capnpString(path.join(tmp, "d2/files"))}, writable = true)`);
    expect(text).toContain('durableObjectStorage = (localDisk = "do-disk")');
    // Ordinary outbound reaches public addresses only (no SSRF into the branch's LAN);
    // other nodes are reached through PEERS, rendered only for a node in a cluster.
    expect(text).toContain('network = (allow = ["public"]');
    expect(text).not.toContain('"private"');
    expect(text).not.toContain('name = "PEERS"');
    expect(text).toContain('globalOutbound = "internet"');
    // Client-address headers are stripped unless the node sits behind a trusted proxy.
    expect(text).toContain('(name = "http", address = "*:9000", http = (injectRequestHeaders = [(name = "x-real-ip"), (name = "x-forwarded-for"), (name = "cf-connecting-ip")]), service = "outpost")');
  });

  it("serves https with the keypair embedded when tls is given", () => {
    fs.writeFileSync(path.join(tmp, "c.pem"), "cert");
    fs.writeFileSync(path.join(tmp, "k.pem"), "key");
    const config = makeNodeConfig({ dataDir: path.join(tmp, "d3"), tls: { cert: path.join(tmp, "c.pem"), key: path.join(tmp, "k.pem") } });
    const text = renderCapnp(config, { bundlePath: path.join(tmp, "d3/.workerd/worker.js") });
    expect(config.url).toBe("https://127.0.0.1:8787");
    expect(text).toContain('https = (options = (injectRequestHeaders = [(name = "x-real-ip"), (name = "x-forwarded-for"), (name = "cf-connecting-ip")]), tlsOptions = (keypair = (privateKey = embed "../../k.pem", certificateChain = embed "../../c.pem")))');
    expect(text).not.toContain("http = ()");
  });
});

describe("loadNodeConfig", () => {
  const cwd = tmp;

  it("has defaults", () => {
    const c = loadNodeConfig({}, { cwd });
    expect(c).toMatchObject({ name: "local", listen: "127.0.0.1:8787", host: "127.0.0.1", port: 8787, url: "http://127.0.0.1:8787", tls: null });
    expect(c.dataDir).toBe(path.join(cwd, "data"));
    expect(c.limits).toEqual({ ...DEFAULT_LIMITS });
  });

  it("takes OUTPOST_NODE, OUTPOST_LISTEN and OUTPOST_DATA (relative to the cwd)", () => {
    const c = loadNodeConfig({ OUTPOST_NODE: "shanghai-2", OUTPOST_LISTEN: "0.0.0.0:9443", OUTPOST_DATA: "var/outpost" }, { cwd });
    expect(c).toMatchObject({ name: "shanghai-2", listen: "0.0.0.0:9443", port: 9443, url: "http://127.0.0.1:9443" });
    expect(c.dataDir).toBe(path.join(cwd, "var/outpost"));
  });

  it("treats empty env values as unset", () => {
    expect(loadNodeConfig({ OUTPOST_NODE: "", OUTPOST_LISTEN: "" }, { cwd }).name).toBe("local");
  });

  it.each(["Shanghai", "-edge", "edge-", "a_b", "x".repeat(33), "a.b", "中文"])("refuses the node name %j", (name) => {
    expect(() => loadNodeConfig({ OUTPOST_NODE: name }, { cwd })).toThrow(/OUTPOST_NODE: .* is not a valid node name/);
  });

  it.each(["a", "x".repeat(32), "b2", "new-york"])("accepts the node name %j", (name) => {
    expect(loadNodeConfig({ OUTPOST_NODE: name }, { cwd }).name).toBe(name);
  });

  it.each(["8787", "localhost", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", ":8787", "::1:8787", "[nothex]:80", "a b:80"])(
    "refuses the listen address %j",
    (listen) => {
      expect(() => loadNodeConfig({ OUTPOST_LISTEN: listen }, { cwd })).toThrow(/OUTPOST_LISTEN: .*(expected "host:port")/);
    },
  );

  it.each([
    ["*:80", "http://127.0.0.1:80"],
    ["[::1]:8787", "http://[::1]:8787"],
    ["[::]:8787", "http://[::1]:8787"],
    ["chat.example.internal:8080", "http://chat.example.internal:8080"],
  ])("accepts the listen address %j", (listen, url) => {
    expect(loadNodeConfig({ OUTPOST_LISTEN: listen }, { cwd }).url).toBe(url);
  });

  it("reads the config file, resolving its paths against its own folder; env wins", () => {
    const dir = path.join(tmp, "etc");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "cert.pem"), "c");
    fs.writeFileSync(path.join(dir, "key.pem"), "k");
    const file = path.join(dir, "node.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ name: "beijing", listen: "*:8443", dataDir: "../srv/outpost", tls: { cert: "cert.pem", key: "key.pem" }, limits: { maxTextBytes: 4000 } }),
    );
    const c = loadNodeConfig({ OUTPOST_CONFIG: file }, { cwd });
    expect(c).toMatchObject({ name: "beijing", listen: "*:8443", url: "https://127.0.0.1:8443", configFile: file });
    expect(c.dataDir).toBe(path.join(tmp, "srv/outpost"));
    expect(c.tls).toEqual({ cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") });
    expect(c.limits).toEqual({ ...DEFAULT_LIMITS, maxTextBytes: 4000 });

    const overridden = loadNodeConfig({ OUTPOST_CONFIG: file, OUTPOST_NODE: "wuhan", OUTPOST_DATA: "d" }, { cwd });
    expect(overridden.name).toBe("wuhan");
    expect(overridden.dataDir).toBe(path.join(cwd, "d"));
    const limitsBinding = bindings(c).find((b) => b.name === "LIMITS");
    expect(limitsBinding && "json" in limitsBinding && JSON.parse(limitsBinding.json)).toEqual(c.limits);
  });

  const withFile = (content: string) => {
    const file = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, content);
    return () => loadNodeConfig({ OUTPOST_CONFIG: file }, { cwd });
  };

  it("names the field that is wrong in a config file", () => {
    expect(() => loadNodeConfig({ OUTPOST_CONFIG: path.join(tmp, "missing.json") }, { cwd })).toThrow(/OUTPOST_CONFIG: cannot read .*missing\.json: ENOENT/);
    expect(withFile("{ name: 1 }")).toThrow(/OUTPOST_CONFIG: .* is not valid JSON/);
    expect(withFile("[]")).toThrow(/must hold a JSON object/);
    expect(withFile('{"peer": []}')).toThrow(/unknown field "peer"/);
    expect(withFile('{"name": "Bad"}')).toThrow(/^name \(in .*\): "Bad" is not a valid node name/);
    expect(withFile('{"listen": "localhost"}')).toThrow(/^listen \(in .*\): "localhost"/);
    expect(withFile('{"dataDir": ""}')).toThrow(/dataDir .*non-empty path/);
    expect(withFile('{"tls": {"cert": "nope.pem", "key": "nope.pem"}}')).toThrow(/tls\.cert: file not found: .*nope\.pem/);
    expect(withFile('{"tls": {"cert": "x.pem"}}')).toThrow(/tls\.cert: file not found|tls\.key: a PEM file path is required/);
    expect(withFile('{"tls": {"crt": "x.pem"}}')).toThrow(/unknown field "tls\.crt"/);
    expect(withFile('{"limits": {"maxTextByte": 10}}')).toThrow(/limits\.maxTextByte: unknown limit/);
    expect(withFile('{"limits": {"maxTextBytes": -1}}')).toThrow(/limits\.maxTextBytes: must be a positive integer/);
    expect(withFile('{"limits": {"maxTextBytes": 1.5}}')).toThrow(/limits\.maxTextBytes: must be a positive integer/);
    expect(withFile('{"limits": {"maxTextBytes": "16k"}}')).toThrow(/limits\.maxTextBytes: must be a positive integer/);
    expect(withFile('{"limits": {"maxTextBytes": 70000}}')).toThrow(/limits\.maxTextBytes: 70000 must be smaller than limits\.maxFrameBytes/);
    expect(withFile('{"limits": {"maxFrameBytes": 40000000}}')).toThrow(/limits\.maxFrameBytes: at most/);
    expect(withFile('{"limits": {"maxTextBytes": 0}}')).toThrow(/limits\.maxTextBytes: must be a positive integer/);
    expect(withFile('{"limits": {"messagesPerSecondPerUser": -1}}')).toThrow(/limits\.messagesPerSecondPerUser: must be a positive integer, or 0 to turn it off/);
    expect(withFile('{"limits": {"roomsPerUserPerDay": 2.5}}')).toThrow(/limits\.roomsPerUserPerDay: must be a positive integer, or 0/);
    expect(withFile('{"limits": [1]}')).toThrow(/^limits \(in .*\): must be an object of limit names to values, got \[1\]/);
    expect(withFile('{"limits": {"allowedFileTypes": []}}')).toThrow(/limits\.allowedFileTypes: must be a non-empty list of media types/);
    expect(withFile('{"limits": {"allowedFileTypes": ["image/png", "exe"]}}')).toThrow(/limits\.allowedFileTypes: must be a non-empty list of media types/);
    expect(withFile('{"trustProxy": "yes"}')).toThrow(/^trustProxy \(in .*\): must be true or false$/);
    expect(withFile('{"allowedOrigins": "https://a.example"}')).toThrow(/^allowedOrigins \(in .*\): must be a list of origins/);
    expect(withFile('{"allowedOrigins": [5]}')).toThrow(/^allowedOrigins \(in .*\): 5 is not an origin/);
    expect(withFile('{"allowedOrigins": ["https://a.example/chat"]}')).toThrow(/^allowedOrigins \(in .*\): "https:\/\/a\.example\/chat" is not an origin/);
    expect(withFile('{"outboundAllow": "10.0.0.1"}')).toThrow(/^outboundAllow \(in .*\): must be a list of addresses or ranges/);
    expect(withFile('{"outboundAllow": ["intranet.local"]}')).toThrow(/^outboundAllow \(in .*\): "intranet\.local" is not an address or range/);
    expect(withFile('{"outboundAllow": ["10.0.0.0/33"]}')).toThrow(/^outboundAllow \(in .*\): "10\.0\.0\.0\/33" is not an address or range/);
    // Single sign-on and two-factor sign-in (docs/OPERATIONS.md "Single sign-on"): one line each.
    const oidc = (extra: string) => withFile(`{"oidc": {"issuer": "https://login.example.org", "clientId": "chat", "clientSecret": "s3cret"${extra}}}`);
    expect(withFile('{"oidc": {"issuer": "http://login.example.org", "clientId": "chat", "clientSecret": "x"}}')).toThrow(/^oidc\.issuer \(in .*\): must be an https URL/);
    expect(withFile('{"oidc": {"issuer": "https://login.example.org", "clientSecret": "x"}}')).toThrow(/^oidc\.clientId \(in .*\): must be the client id/);
    expect(withFile('{"oidc": {"issuer": "https://login.example.org", "clientId": "chat"}}')).toThrow(/^oidc\.clientSecret \(in .*\): must be the client secret/);
    expect(oidc(', "autoCreate": "yes"')).toThrow(/^oidc\.autoCreate \(in .*\): must be true or false$/);
    expect(oidc(', "allowedGroups": "staff"')).toThrow(/^oidc\.allowedGroups \(in .*\): must be a list of strings/);
    expect(oidc(', "groups": []')).toThrow(/unknown field "oidc\.groups"/);
    expect(withFile('{"mfa": {"requiredForAdmins": 1}}')).toThrow(/^mfa\.requiredForAdmins \(in .*\): must be true or false$/);
    expect(withFile('{"mfa": {"required": true}}')).toThrow(/unknown field "mfa\.required"/);
    // The sign-in budget and the hash cost have no "off": 0 would refuse every sign-in, or hash nothing.
    expect(withFile('{"limits": {"signInBurst": 0}}')).toThrow(/limits\.signInBurst: must be a positive integer, got 0/);
    expect(withFile('{"limits": {"signInsPerSecond": 1.5}}')).toThrow(/limits\.signInsPerSecond: must be a positive integer/);
    expect(withFile('{"limits": {"passwordHashIterations": 0}}')).toThrow(/limits\.passwordHashIterations: must be a positive integer, got 0/);
    // A mirror may not hold a push longer than its home waits for the answer (4 s).
    expect(withFile('{"limits": {"mirrorWriteDelayMs": 5000}}')).toThrow(/limits\.mirrorWriteDelayMs: must be a whole number of ms from 0 to 3000, got 5000/);
  });

  it("lets 0 turn off each per-user quota", () => {
    const file = path.join(tmp, "quotas-off.json");
    fs.writeFileSync(file, JSON.stringify({ limits: { messagesPerSecondPerUser: 0, messageBurstPerUser: 0, roomsPerUserPerDay: 0 } }));
    expect(loadNodeConfig({ OUTPOST_CONFIG: file }, { cwd }).limits).toEqual({ ...DEFAULT_LIMITS, messagesPerSecondPerUser: 0, messageBurstPerUser: 0, roomsPerUserPerDay: 0 });
  });

  it("refuses a data dir that is a file", () => {
    const file = path.join(tmp, "a-file");
    fs.writeFileSync(file, "");
    expect(() => loadNodeConfig({ OUTPOST_DATA: file }, { cwd })).toThrow(/OUTPOST_DATA: .* is not a directory/);
  });
});

describe("trustProxy", () => {
  it("keeps client-address headers only when the node is told it is behind a proxy", async () => {
    const direct = renderCapnp(makeNodeConfig({ dataDir: "/tmp/outpost-trust-a" }), { bundlePath: "/tmp/outpost-trust-a/worker.js" });
    expect(direct).toContain('(name = "x-real-ip")');
    const proxied = renderCapnp(makeNodeConfig({ dataDir: "/tmp/outpost-trust-b", trustProxy: true }), { bundlePath: "/tmp/outpost-trust-b/worker.js" });
    expect(proxied).not.toContain("injectRequestHeaders");
    // A string where the description wants a boolean: the mistake under test.
    expect(() => makeNodeConfig({ dataDir: "/tmp/outpost-trust-c", trustProxy: "yes" })).toThrow(/trustProxy/);
  });
});
