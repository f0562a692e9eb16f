/**
 * Part of step 3 of a person's erasure at their home (erasure.ts): what this
 * node keeps of their words in rooms homed ELSEWHERE. Those rooms are erased
 * by their homes (erasure-peers.ts) and this node's copies follow through the
 * homes' pushes (tombstones, search rows), but two things here are this
 * node's own and no push touches them:
 *
 * - the link queues' sends of theirs not yet delivered (a cut link): dropped,
 *   so their words do not reach a room after its home erased them;
 * - each copy's record of their sends (mirror-sends.ts), which holds the
 *   home's answer with the message's text.
 *
 * Idempotent: run again on every resume of the job.
 */
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { peersOf } from "../shared/cluster";
import type { Env } from "../shared/env";
import { linkStub, storedMirror } from "../shared/objects";
import * as schema from "./schema";

/** Copies asked at once. */
const PARALLEL = 20;

export async function eraseFromLocalCopies(env: Env, db: DrizzleSqliteDODatabase<typeof schema>, userId: string): Promise<void> {
  await Promise.all(peersOf(env).map((p) => linkStub(env, p.name).dropSendsOf(p.name, userId)));
  const mirrors = db.select({ id: schema.mirrors.id }).from(schema.mirrors).all().map((r) => r.id);
  for (let i = 0; i < mirrors.length; i += PARALLEL) {
    await Promise.all(mirrors.slice(i, i + PARALLEL).map((id) => storedMirror(env, id).eraseSender(userId)));
  }
}
