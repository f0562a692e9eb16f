/**
 * What the directory's two erasure jobs share: erasure.ts (a person of this
 * node, everywhere) and erasure-foreign.ts (a person of another node, from
 * this node's rooms, asked by their home).
 *
 * Both keep the job as one JSON row of the directory's `settings` table under
 * their own key prefix, one row per person, and both walk the rooms listed
 * when the job began, saving `roomsDone` after each room: a crash resumes at
 * the room it was in (which is redone harmlessly: each room's erasure is
 * idempotent), and rooms before it are skipped.
 */
import { eq, like } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { ErasePlaceholder } from "../room/erasure";
import type { Env } from "../shared/env";
import { storedRoom } from "../shared/objects";
import * as schema from "./schema";

type Db = DrizzleSqliteDODatabase<typeof schema>;

/** The part of a job the store and the room walk read. */
export interface ErasureJobRow {
  userId: string;
  state: "running" | "done";
  /** every room homed on this node when the job began */
  rooms: string[];
  roomsDone: number;
}

/**
 * The jobs of one kind: rows `<prefix><user id>` of `settings`.
 *
 * @example
 *   const jobs = new ErasureJobStore<ErasureJob>(db, "erasure:");
 *   for (const job of jobs.running()) …
 */
export class ErasureJobStore<J extends ErasureJobRow> {
  constructor(
    private readonly db: Db,
    private readonly prefix: string,
  ) {}

  get(userId: string): J | null {
    const row = this.db.select().from(schema.settings).where(eq(schema.settings.key, this.prefix + userId)).get();
    return row ? (JSON.parse(row.value) as J) : null;
  }

  save(job: J): void {
    const value = JSON.stringify(job);
    this.db.insert(schema.settings).values({ key: this.prefix + job.userId, value }).onConflictDoUpdate({ target: schema.settings.key, set: { value } }).run();
  }

  /** Every job not yet done (the directory's alarm resumes them). */
  running(): J[] {
    return this.db
      .select()
      .from(schema.settings)
      .where(like(schema.settings.key, `${this.prefix}%`))
      .all()
      .map((r) => JSON.parse(r.value) as J)
      .filter((j) => j.state === "running");
  }
}

/**
 * The job's rooms from `job.roomsDone` on, one after another: each erased
 * (eraseInRoom), then `roomsDone` saved. `held` is asked per room, just before
 * that room, so a hold placed while the job runs applies from the next room
 * on; `by` is the actor of each room's `erasure.user` audit record.
 */
export async function eraseInJobRooms<J extends ErasureJobRow>(env: Env, jobs: ErasureJobStore<J>, job: J, placeholder: ErasePlaceholder, held: (roomId: string) => boolean, by: string): Promise<void> {
  for (let i = job.roomsDone; i < job.rooms.length; i++) {
    const roomId = job.rooms[i];
    await eraseInRoom(env, roomId, job.userId, placeholder, held(roomId), by);
    job.roomsDone = i + 1;
    jobs.save(job);
  }
}

/**
 * Every batch of `userId`'s erasure in one room of this node (room/erasure.ts),
 * `by` the actor of its audit records. Idempotent: a room already done answers
 * done at once, so a job resumed after a crash may redo its current room.
 */
export async function eraseInRoom(env: Env, roomId: string, userId: string, placeholder: ErasePlaceholder, held: boolean, by: string): Promise<void> {
  const room = storedRoom(env, roomId);
  for (let afterSeq = 0; ; ) {
    const step = await room.eraseUser(userId, placeholder, held, afterSeq, by);
    if (step.done) return;
    afterSeq = step.afterSeq;
  }
}
