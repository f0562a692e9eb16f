/**
 * Backups and restores into the audit trail: the ops tools append a stamp
 * line to `ops-audit/stamps.jsonl` in the node's file store (ops/audit-stamp.mjs
 * says why a stamp and not a request); the directory reads the file through
 * its `FILES` disk binding and records each line it has not taken yet as a
 * record of its own chain. How many lines it took is kept in a setting, in the
 * same transaction as the records, so a line is recorded exactly once however
 * often this runs. The file is hostile until checked (anyone who can write the
 * data folder can write it): every line is parsed with a schema, a bad one is
 * skipped and logged, and details are bounded.
 */
import { z } from "zod";
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";
import type { AuditEntry } from "../shared/audit";

/** Where the stamps are, under the file store's root (`<data>/files`). */
export const STAMPS_KEY = "ops-audit/stamps.jsonl";
const TAKEN_SETTING = "audit_stamps_taken";

const Stamp = z.object({
  id: z.string().max(64),
  action: z.enum(["node.backup", "node.restore"]),
  at: z.number().int().min(0),
  detail: z.record(z.string().max(40), z.union([z.string().max(500), z.number(), z.boolean(), z.null()])).refine((d) => Object.keys(d).length <= 12, "too many fields"),
});

/** The stamps file's text, or null when there is none (or no disk binding: a Cloudflare deploy, miniflare). */
export async function readStamps(files: Fetcher | undefined): Promise<string | null> {
  if (!files) return null;
  const res = await files.fetch(`http://files/${STAMPS_KEY}`);
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) throw new Error(`the files disk answered ${res.status} for ${STAMPS_KEY}`);
  return res.text();
}

/**
 * The records for the lines after those already taken, and the new count.
 * Call inside the transaction that writes the records; `taken()` reads the count.
 */
export function newStamps(db: DrizzleSqliteDODatabase<typeof schema>, text: string): { entries: AuditEntry[]; taken: number } {
  const row = db.select().from(schema.settings).where(eq(schema.settings.key, TAKEN_SETTING)).get();
  const already = row ? Number(row.value) : 0;
  // Only whole lines: a line still being appended has no "\n" yet and is taken next time.
  const lines = text.split("\n").slice(0, -1);
  const entries: AuditEntry[] = [];
  for (const line of lines.slice(already)) {
    let parsed: z.infer<typeof Stamp> | null = null;
    try {
      const r = Stamp.safeParse(JSON.parse(line));
      if (r.success) parsed = r.data;
    } catch {
      // not JSON: skipped below
    }
    if (!parsed) {
      console.error(`audit: a line of ${STAMPS_KEY} is not a stamp the ops tools write; skipped`);
      continue;
    }
    entries.push({ actor: "system", action: parsed.action, at: parsed.at, detail: { ...parsed.detail, stamp: parsed.id } });
  }
  return { entries, taken: Math.max(already, lines.length) };
}

export function saveTaken(db: DrizzleSqliteDODatabase<typeof schema>, taken: number): void {
  db.insert(schema.settings)
    .values({ key: TAKEN_SETTING, value: String(taken) })
    .onConflictDoUpdate({ target: schema.settings.key, set: { value: String(taken) } })
    .run();
}
