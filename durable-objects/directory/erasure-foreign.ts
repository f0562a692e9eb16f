/**
 * Erasure of a person homed on ANOTHER node from this node's rooms, asked by
 * their home while its own job runs (erasure-peers.ts there,
 * `POST /link/v1/erasures` here: worker/routes/link-erasures.ts, which checks
 * the person is homed on the asking node).
 *
 * The same room-level erasure as at home (room/erasure.ts, in bounded
 * batches): their messages become tombstones, their reactions, files and
 * search rows go, their member row carries the placeholder. The rooms' mirrors
 * on other nodes follow through the rooms' pushes.
 *
 * A job row in the directory's `settings` table (`erasure.foreign:<user id>`),
 * written before the first room is touched: a crash resumes it (the
 * directory's alarm, or the home asking again), a second ask finds the same
 * job (and a finished one answers `done` at once). Rooms already done are
 * skipped, or redone harmlessly.
 *
 * Legal holds are this node's: a hold on the room, or on the person (a hold
 * here may name a person of another node: it covers what they sent in this
 * node's rooms), keeps a copy of their content for the hold while it leaves
 * view — as room/erasure.ts does for a held room at home. Refusing instead
 * (as the home refuses to erase a person it holds) would leave the home's job
 * pending on a hold its administrators cannot see nor release.
 */
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { LinkErasureAnswer } from "../../protocol/cluster";
import type { Env } from "../shared/env";
import type { Compliance } from "./compliance";
import { erasedPlaceholder } from "./erasure";
import { eraseInJobRooms, ErasureJobStore } from "./erasure-jobs";
import { SingleFlight } from "../shared/single-flight";
import * as schema from "./schema";

const JOB_PREFIX = "erasure.foreign:";

interface ForeignErasureJob {
  userId: string;
  /** the node that asked (the person's home) */
  from: string;
  state: "running" | "done";
  startedAt: number;
  finishedAt: number | null;
  /** every room homed on this node when the job began */
  rooms: string[];
  roomsDone: number;
}

type Db = DrizzleSqliteDODatabase<typeof schema>;

export class ForeignErasures {
  private readonly driving = new SingleFlight<string, void>();
  private readonly jobs: ErasureJobStore<ForeignErasureJob>;

  constructor(
    db: Db,
    private readonly env: Env,
    private readonly compliance: Compliance,
    /** rooms homed on this node, now */
    private readonly localRooms: () => string[],
    /** arm the directory's alarm (the resume of a job a crash interrupted) */
    private readonly armAlarm: (at: number) => void,
  ) {
    this.jobs = new ErasureJobStore(db, JOB_PREFIX);
  }

  /**
   * The home of `userId` (`from`, checked by the caller) asks: start the job,
   * or find it, and drive it for at most `waitMs`; it goes on after the answer
   * (a link request must answer within the link's timeout), and the home asks
   * again until the answer is `done`.
   */
  async request(userId: string, from: string, waitMs: number): Promise<LinkErasureAnswer> {
    let job = this.jobs.get(userId);
    if (!job) {
      job = { userId, from, state: "running", startedAt: Date.now(), finishedAt: null, rooms: this.localRooms(), roomsDone: 0 };
      this.jobs.save(job);
      this.armAlarm(Date.now() + 30_000);
    }
    if (job.state === "running") {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const failed = this.drive(userId).then(
        () => null,
        (err: unknown) => err,
      );
      const err = await Promise.race([failed, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)))]);
      if (timer !== undefined) clearTimeout(timer);
      // A failure of a room (unavailable, a full disk) is the home's to retry: it asks again.
      if (err) console.error(`erasure of ${userId} for ${from}: interrupted, resumed on the next ask or alarm`, err);
      job = this.jobs.get(userId)!;
    }
    return { state: job.state, roomsTotal: job.rooms.length, roomsDone: job.roomsDone };
  }

  /** From the directory's alarm: every job still running. Returns whether any is left. */
  async resumeAll(): Promise<boolean> {
    let left = false;
    for (const job of this.jobs.running()) {
      await this.drive(job.userId).catch((err) => {
        console.error(`erasure of ${job.userId} for ${job.from}: interrupted, the alarm tries again`, err);
        left = true;
      });
    }
    return left;
  }

  private drive(userId: string): Promise<void> {
    return this.driving.run(userId, () => this.run(userId));
  }

  private async run(userId: string): Promise<void> {
    const job = this.jobs.get(userId)!;
    // The same placeholder the home gives the account (erasure.ts `start`); the directory feed brings it too.
    const placeholder = erasedPlaceholder(userId);
    // A hold on the room or on the person keeps a copy (see above); asked per room, so a hold
    // placed while the job runs applies from the next room on. The actor of each room's
    // `erasure.user` audit record: the node that asked (the person's home).
    const held = (roomId: string) => this.compliance.isRoomHeld(roomId) || this.compliance.isUserHeld(userId);
    await eraseInJobRooms(this.env, this.jobs, job, placeholder, held, `node:${job.from}`);
    job.state = "done";
    job.finishedAt = Date.now();
    this.jobs.save(job);
  }
}
