/**
 * Erasure jobs (GDPR, `POST /api/v1/admin/users/{id}/erase`): a person of
 * this node is removed from everything the node keeps about them, while the
 * rooms stay readable for everyone else.
 *
 * A job is a row in the directory's `settings` table (`erasure:<user id>` →
 * ErasureJob), written in the same transaction that anonymises the account,
 * so there is never an anonymised account without a job that finishes the
 * rest. Then, in order, each step idempotent:
 *   1. the account (this transaction): placeholder username/name, no avatar,
 *      no password, inactive — the cluster's other nodes learn it from the
 *      directory feed like any rename (replication.ts);
 *   2. the avatar's bytes, the user object (sessions end, inbox emptied);
 *   3. every room homed on this node, one after another, each in bounded
 *      batches (room/erasure.ts); `roomsDone` is saved after each room;
 *      Then what this node keeps of their sends into other nodes' rooms
 *      (erasure-mirrors.ts);
 *   4. every other node of the cluster erases them from the rooms homed
 *      there (erasure-peers.ts): the job stays `running`, naming the nodes
 *      still owed, until each has answered `done`.
 * A crash anywhere leaves the job `running`: the directory's alarm (armed
 * when the job starts) or the same request again resumes it, and rooms that
 * were already done are skipped, or redone harmlessly.
 */
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Erasure } from "../../protocol/models";
import type { ErasePlaceholder } from "../room/erasure";
import { homeNode } from "../../protocol/ids";
import { AppError } from "../shared/app-error";
import type { AuditEntry } from "../shared/audit";
import type { Env } from "../shared/env";
import { deleteStoredFile } from "../shared/file-store";
import { storedUser } from "../shared/objects";
import type { Accounts } from "./accounts";
import type { Compliance } from "./compliance";
import { eraseInJobRooms, ErasureJobStore } from "./erasure-jobs";
import { eraseFromLocalCopies } from "./erasure-mirrors";
import { askPeers, peersToErase, pendingNodes, type PeerErasures } from "./erasure-peers";
import { SingleFlight } from "../shared/single-flight";
import * as schema from "./schema";

const JOB_PREFIX = "erasure:";
/** The name an erased person's messages and memberships show. */
export const ERASED_DISPLAY_NAME = "Deleted user";

/** An erased person's placeholder, the same on every node: `deleted-` and the id's random part (unique). */
export function erasedPlaceholder(userId: string): ErasePlaceholder {
  return { username: `deleted-${userId.slice(2, 18)}`, displayName: ERASED_DISPLAY_NAME };
}

/** `nodesPending` is not stored: it is read from `peers`. */
interface ErasureJob extends Omit<Erasure, "nodesPending"> {
  /** the placeholder username (unique: `deleted-` + the id's random part) */
  username: string;
  /** every room of this node when the job began */
  rooms: string[];
  /** the avatar's hash, deleted in step 2 */
  avatar: string | null;
  /** this node's records of their sends into other nodes' rooms are gone (erasure-mirrors.ts): not redone at each retry of step 4 */
  copiesDone?: boolean;
  /** the cluster's other nodes, step 4 (absent in a job of an older version: set when it resumes) */
  peers?: PeerErasures;
}

type Db = DrizzleSqliteDODatabase<typeof schema>;

export class Erasures {
  /** one drive per person at a time (a second request waits for it) */
  private readonly driving = new SingleFlight<string, Erasure>();
  private readonly jobs: ErasureJobStore<ErasureJob>;

  constructor(
    private readonly db: Db,
    private readonly env: Env,
    private readonly accounts: Accounts,
    private readonly compliance: Compliance,
    private readonly transaction: <T>(fn: () => T) => T,
    /** rooms homed on this node, now */
    private readonly localRooms: () => string[],
    /** arm the directory's alarm (the resume of a job a crash interrupted) */
    private readonly armAlarm: (at: number) => void,
    /** append to the directory's audit chain; called inside `start`'s transaction */
    private readonly record: (entry: AuditEntry) => void,
  ) {
    this.jobs = new ErasureJobStore(db, JOB_PREFIX);
  }

  /**
   * Start (or resume) `userId`'s erasure and drive it to the end. The one
   * place an erasure begins: its audit record (`erasure.user`, actor the
   * administrator) is written in `start`'s transaction; each room records its
   * own part in its chain (room/erasure.ts).
   */
  async erase(userId: string, by: string): Promise<Erasure> {
    let job = this.jobs.get(userId);
    // A hold on the person stops an erasure, also one that began before the hold.
    if (this.compliance.isUserHeld(userId) && job?.state !== "done") {
      throw new AppError("under_legal_hold", "this person is under a legal hold: their data cannot be erased until the hold is released");
    }
    job ??= this.start(userId, by);
    if (job.state === "done") return publicView(job);
    return this.drive(userId);
  }

  status(userId: string): Erasure | null {
    const job = this.jobs.get(userId);
    return job && publicView(job);
  }

  /** From the directory's alarm: every job still running. Returns whether any is left. */
  async resumeAll(): Promise<boolean> {
    let left = false;
    for (const job of this.jobs.running()) {
      if (this.compliance.isUserHeld(job.userId)) continue; // paused until the hold ends and someone asks again
      const after = await this.drive(job.userId).catch((err) => {
        console.error(`erasure of ${job.userId}: interrupted, the alarm tries again`, err);
        return null;
      });
      if (!after || after.state !== "done") left = true;
    }
    return left;
  }

  private start(userId: string, by: string): ErasureJob {
    if (homeNode(userId) !== this.env.NODE_NAME || !this.accounts.byId(userId)) throw new AppError("not_found", "no such user");
    const { username } = erasedPlaceholder(userId);
    const now = Date.now();
    return this.transaction(() => {
      const { previousAvatar } = this.accounts.anonymise(userId, { username, displayName: ERASED_DISPLAY_NAME });
      const job: ErasureJob = { userId, state: "running", startedAt: now, finishedAt: null, startedBy: by, roomsTotal: 0, roomsDone: 0, username, rooms: this.localRooms(), avatar: previousAvatar };
      job.roomsTotal = job.rooms.length;
      job.peers = peersToErase(this.env);
      this.jobs.save(job);
      // No username or name in the detail: the record outlives the erasure, and those are what it removes.
      this.record({ actor: by, action: "erasure.user", userId, detail: { step: "started", rooms: job.roomsTotal } });
      // Should this isolate die mid-way, the alarm resumes the job.
      this.armAlarm(now + 30_000);
      return job;
    });
  }

  private drive(userId: string): Promise<Erasure> {
    return this.driving.run(userId, () => this.run(userId));
  }

  private async run(userId: string): Promise<Erasure> {
    const job = this.jobs.get(userId)!;
    const placeholder = { username: job.username, displayName: ERASED_DISPLAY_NAME };
    if (job.avatar) await deleteStoredFile(this.env, `avatars/${userId.slice(2, 18)}/${job.avatar}`);
    await storedUser(this.env, userId).erase(placeholder);
    await eraseInJobRooms(this.env, this.jobs, job, placeholder, (roomId) => this.compliance.isRoomHeld(roomId), job.startedBy);
    if (!job.copiesDone) {
      await eraseFromLocalCopies(this.env, this.db, userId);
      job.copiesDone = true;
    }
    job.peers ??= peersToErase(this.env);
    const again = await askPeers(this.env, userId, job.peers);
    if (again !== null) {
      this.jobs.save(job);
      this.armAlarm(again);
      return publicView(job);
    }
    job.state = "done";
    job.finishedAt = Date.now();
    this.jobs.save(job);
    return publicView(job);
  }
}

function publicView(job: ErasureJob): Erasure {
  return { userId: job.userId, state: job.state, startedAt: job.startedAt, finishedAt: job.finishedAt, startedBy: job.startedBy, roomsTotal: job.roomsTotal, roomsDone: job.roomsDone, nodesPending: pendingNodes(job.peers) };
}

/** Rooms homed on this node (the directory's rows of mirrored DMs are another node's). */
export function localRoomIds(db: Db, node: string): string[] {
  return db
    .select({ id: schema.rooms.id })
    .from(schema.rooms)
    .all()
    .map((r) => r.id)
    .filter((id) => homeNode(id) === node);
}
