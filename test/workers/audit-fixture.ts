/**
 * What the audit-trail tests (audit.test.ts, compliance-audit.test.ts) share:
 * reaching an object's own SQLite file, reading its chain as stored, checking
 * every link, and a real storage fault on its audit writes.
 *
 * The fault is a real SQLite failure inside the object's transaction: a
 * trigger that aborts every INSERT into `audit_log`, installed with
 * runInDurableObject, exactly where a full disk would fail the write.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import { GENESIS, recordHash } from "../../durable-objects/shared/audit-chain.mjs";

/** One record of `audit_log` as the object's SQLite file holds it. */
export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  room_id: string | null;
  user_id: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export const roomStub = (id: string) => env.ROOMS.get(env.ROOMS.idFromName(id));
export const userStub = (id: string) => env.USERS.get(env.USERS.idFromName(id));
export const dirStub = () => env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));

/** Runs `text` in the object's own SQLite file; e.g. `sql(roomStub(id), "SELECT count(*) AS n FROM messages")`. */
export function sql<T>(stub: DurableObjectStub, text: string, ...params: unknown[]): Promise<T[]> {
  return runInDurableObject(stub, async (_i, state) => state.storage.sql.exec(text, ...params).toArray() as T[]);
}

/** The object's whole chain, in order. */
export const chain = (stub: DurableObjectStub) => sql<AuditRow>(stub, "SELECT * FROM audit_log ORDER BY seq");

/** A real SQLite failure on every audit write of this object, until the returned heal. */
export async function breakAuditWrites(stub: DurableObjectStub): Promise<() => Promise<void>> {
  await sql(stub, "CREATE TRIGGER audit_fault BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'injected storage fault'); END");
  return async () => void (await sql(stub, "DROP TRIGGER audit_fault"));
}

/** Every link of a chain: seq 1.., each prevHash the hash before, each hash the record's own. */
export function expectIntact(rows: AuditRow[]) {
  let prev = GENESIS;
  rows.forEach((r, i) => {
    expect(r.seq).toBe(i + 1);
    expect(r.prev_hash).toBe(prev);
    expect(r.hash).toBe(recordHash({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, roomId: r.room_id, userId: r.user_id, detail: r.detail, prevHash: r.prev_hash }));
    prev = r.hash;
  });
}
