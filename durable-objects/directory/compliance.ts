/**
 * The node's retention default and its legal holds, kept in the directory's
 * `settings` table (key → JSON):
 *
 *   retention.default_days   "forever" or a number of days
 *   hold:<hold id>           one LegalHold
 *
 * The settings table, not a table of their own, on purpose: holds are few (a
 * handful per legal matter), are read whole by every retention run, and need
 * no index; and the directory's schema is changed by other work at the same
 * time (one migration fewer to merge).
 *
 * Each action is one method here (setDefault, place, release), inside one
 * transaction; compliance-admin.ts wraps each call in `audited(…)`, so the audit
 * record (`retention.changed`, `hold.placed`, `hold.released`) commits with it
 * or the action is rolled back (the nested transaction is a savepoint).
 */
import { eq, like } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { newHoldId } from "../../protocol/ids";
import type { LegalHold } from "../../protocol/models";
import { AppError } from "../shared/app-error";
import type { RetentionDays, RetentionInputs } from "../room/retention";
import * as schema from "./schema";

const DEFAULT_KEY = "retention.default_days";
const HOLD_PREFIX = "hold:";

type Db = DrizzleSqliteDODatabase<typeof schema>;

export class Compliance {
  constructor(
    private readonly db: Db,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  /** The node's default retention (null: keep forever, the default of a new node). */
  defaultDays(): RetentionDays {
    const row = this.db.select().from(schema.settings).where(eq(schema.settings.key, DEFAULT_KEY)).get();
    return !row || row.value === "forever" ? null : Number(row.value);
  }

  /** Set the node's default (the caller records it, then tells every room). */
  setDefault(days: RetentionDays, _by: string): void {
    const value = days === null ? "forever" : String(days);
    this.transaction(() => {
      this.db.insert(schema.settings).values({ key: DEFAULT_KEY, value }).onConflictDoUpdate({ target: schema.settings.key, set: { value } }).run();
    });
  }

  holds(): LegalHold[] {
    return this.db
      .select()
      .from(schema.settings)
      .where(like(schema.settings.key, `${HOLD_PREFIX}%`))
      .all()
      .map((r) => JSON.parse(r.value) as LegalHold)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Place a hold on a room or a person (the caller checked the target exists, and records it). */
  place(target: { roomId: string } | { userId: string }, reason: string, by: string): LegalHold {
    const hold: LegalHold = {
      id: newHoldId(),
      ...("roomId" in target ? { kind: "room" as const, targetId: target.roomId } : { kind: "user" as const, targetId: target.userId }),
      reason,
      createdBy: by,
      createdAt: Date.now(),
    };
    this.transaction(() => {
      this.db.insert(schema.settings).values({ key: HOLD_PREFIX + hold.id, value: JSON.stringify(hold) }).run();
    });
    return hold;
  }

  /** Release a hold (the caller records it). What it kept out of view is dropped by each room's next retention run. */
  release(id: string, _by: string): LegalHold {
    const row = this.db.select().from(schema.settings).where(eq(schema.settings.key, HOLD_PREFIX + id)).get();
    if (!row) throw new AppError("not_found", "no such legal hold");
    this.transaction(() => {
      this.db.delete(schema.settings).where(eq(schema.settings.key, HOLD_PREFIX + id)).run();
    });
    return JSON.parse(row.value) as LegalHold;
  }

  isUserHeld(userId: string): boolean {
    return this.holds().some((h) => h.kind === "user" && h.targetId === userId);
  }

  isRoomHeld(roomId: string): boolean {
    return this.holds().some((h) => h.kind === "room" && h.targetId === roomId);
  }

  /** What a room's retention run obeys (room/retention.ts). */
  inputsFor(roomId: string): RetentionInputs {
    const holds = this.holds();
    return {
      defaultDays: this.defaultDays(),
      roomHeld: holds.some((h) => h.kind === "room" && h.targetId === roomId),
      heldUsers: [...new Set(holds.filter((h) => h.kind === "user").map((h) => h.targetId))],
    };
  }
}
