/**
 * Configuration changes into the audit trail. A node's configuration (its
 * limits, allowed origins, cluster, version, key) only changes by restarting
 * it with a new description (ops/node-config.mjs), so the directory compares,
 * at each start, what it runs with now against what it last recorded, and
 * records `config.changed` with the parts that differ (each as a short hash
 * and, for limits, the changed names and values: nothing secret is in them;
 * the private key is never looked at). The first start records the starting
 * configuration the same way.
 */
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import type { AuditEntry } from "../shared/audit";
import { limitsOf, type Env } from "../shared/env";
import { sha256Hex } from "../shared/audit-chain.mjs";

const SETTING = "audit_config";

/** What is compared: plain JSON of every setting that changes how the node behaves. */
function currentConfig(env: Env): Record<string, string> {
  const limits = limitsOf(env) as unknown as Record<string, unknown>;
  return {
    version: env.VERSION,
    limits: JSON.stringify(Object.fromEntries(Object.keys(limits).sort().map((k) => [k, limits[k]]))),
    allowedOrigins: JSON.stringify(env.ALLOWED_ORIGINS ?? []),
    cluster: JSON.stringify(env.CLUSTER ?? null),
    publicKey: env.NODE_PUBLIC_KEY ?? "",
  };
}

/** The record to write for a changed configuration (and the new state to keep), or null. Call inside a transaction. */
export function configChange(db: DrizzleSqliteDODatabase<typeof schema>, env: Env): { entry: AuditEntry; save: () => void } | null {
  const now = currentConfig(env);
  const row = db.select().from(schema.settings).where(eq(schema.settings.key, SETTING)).get();
  const before = row ? (JSON.parse(row.value) as Record<string, string>) : null;
  const changed = Object.keys(now).filter((k) => before?.[k] !== now[k]);
  if (changed.length === 0) return null;
  const detail: Record<string, string> = { changed: changed.join(" ") };
  for (const k of changed) detail[k] = sha256Hex(now[k]).slice(0, 12);
  if (changed.includes("version")) detail.version = now.version;
  if (before && changed.includes("limits")) {
    const a = JSON.parse(before.limits) as Record<string, unknown>;
    const b = JSON.parse(now.limits) as Record<string, unknown>;
    detail.limits = Object.keys(b)
      .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      .map((k) => `${k}=${JSON.stringify(b[k])}`)
      .join(" ")
      .slice(0, 500);
  }
  const value = JSON.stringify(now);
  return {
    entry: { actor: "system", action: "config.changed", detail: { ...detail, first: before === null } },
    save: () => {
      db.insert(schema.settings).values({ key: SETTING, value }).onConflictDoUpdate({ target: schema.settings.key, set: { value } }).run();
    },
  };
}
