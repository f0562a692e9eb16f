// @ts-check
/**
 * How `npm run backup` and `npm run restore` get into the audit trail.
 *
 * They work on files, on a running or a stopped node, so they cannot write a
 * record inside a transaction of an object (workerd owns the files), and an
 * admin-authenticated endpoint would need credentials an operator's cron job
 * should not hold. Instead each leaves a stamp: one JSON line appended to
 * `<data>/files/ops-audit/stamps.jsonl`, under the node's file store, which
 * the directory object can read through its `FILES` disk binding. The
 * directory turns every stamp it has not yet taken into a record of its own
 * chain (`node.backup`, `node.restore`), idempotently (it keeps how many
 * lines it took), at its next start and whenever an admin reads the trail
 * (durable-objects/directory/ops-stamps.ts).
 *
 * The file is only ever appended to, one `write` of one short line, so a
 * reader sees whole lines (a torn last line is skipped and read next time).
 * Fail closed: a tool that cannot leave its stamp says so and exits non-zero,
 * so an unrecorded backup or restore never looks like a recorded one.
 */
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";

export const STAMPS_FILE = path.join("files", "ops-audit", "stamps.jsonl");

/**
 * @param {string} dataDir the node's data folder
 * @param {"node.backup" | "node.restore"} action
 * @param {Record<string, string | number | boolean | null>} detail
 */
export function appendAuditStamp(dataDir, action, detail) {
  const file = path.join(dataDir, STAMPS_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const line = JSON.stringify({ id: randomUUID(), action, at: Date.now(), detail }) + "\n";
  fs.appendFileSync(file, line, { mode: 0o600 });
}
