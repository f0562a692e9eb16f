/**
 * How many group rooms one person may create: `roomsPerUserPerDay` in any
 * rolling 24 hours, counted from the directory's own `rooms` rows (created_by,
 * created_at; indexed), so the quota survives restarts and needs no table of
 * its own.
 *
 * What counts: group rooms, public or private. Not direct messages: there is
 * one per pair of people (so at most one per colleague on the node, however
 * often it is "created"), they never reach the public directory this quota
 * protects, and what can be said in them is bounded by the message budget; a
 * help desk that starts conversations with many people in a day must not be
 * refused.
 *
 * Who is exempt: node admins. An operator scripts room creation (a branch's
 * departments, a migration from another system), and an admin can create
 * accounts anyway, each with its own quota, so limiting admins would bound
 * nothing and only break their scripts.
 */
import { and, asc, count, eq, gt } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import * as schema from "./schema";

export const QUOTA_WINDOW_MS = 24 * 3600 * 1000;

/**
 * 0 when `userId` may create another group room at `now`; otherwise the ms
 * until the oldest room that keeps them at the limit leaves the window.
 */
export function roomQuotaWaitMs(db: DrizzleSqliteDODatabase<typeof schema>, userId: string, perDay: number, now: number): number {
  if (perDay <= 0) return 0;
  const r = schema.rooms;
  const recent = and(eq(r.createdBy, userId), gt(r.createdAt, now - QUOTA_WINDOW_MS), eq(r.kind, "group"));
  const n = db.select({ n: count() }).from(r).where(recent).get()?.n ?? 0;
  if (n < perDay) return 0;
  // With the limit lowered since, more than perDay may be in the window: one
  // slot frees when all but perDay - 1 of them have aged out.
  const freeing = db.select({ at: r.createdAt }).from(r).where(recent).orderBy(asc(r.createdAt)).limit(1).offset(n - perDay).get();
  return Math.max(1, (freeing?.at ?? now) + QUOTA_WINDOW_MS - now);
}
