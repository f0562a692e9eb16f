/**
 * The node's room directory: every room's id, name, kind and creator (rooms
 * are registered here before their own object is first touched), one DM per
 * pair of people, the group-room quota (room-quota.ts) and the public
 * directory (public-rooms.ts); and the rooms of other nodes that have a
 * mirror here (`mirrors`).
 */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { rateLimited } from "../shared/app-error";
import { foldName, pagePublicRooms, type PublicRoomsPage } from "./public-rooms";
import { roomQuotaWaitMs } from "./room-quota";
import * as schema from "./schema";

export type RoomRow = typeof schema.rooms.$inferSelect;
export type NewRoom = Omit<RoomRow, "dmKey" | "createdAt" | "nameFold" | "memberCount" | "topic">;

/** The settings row that records that older rooms' names were folded. */
const NAMES_FOLDED = "rooms.name_fold";

export class RoomsDirectory {
  constructor(
    private readonly db: DrizzleSqliteDODatabase<typeof schema>,
    private readonly storage: DurableObjectStorage,
  ) {}

  /**
   * Rooms registered before names were stored folded for search (migration
   * 0001 adds the column empty): fold them, once — SQL's lower() would fold
   * ASCII only. A settings row records that it was done.
   */
  foldOlderNames(): void {
    if (this.db.select().from(schema.settings).where(eq(schema.settings.key, NAMES_FOLDED)).get()) return;
    const r = schema.rooms;
    this.storage.transactionSync(() => {
      const rows = this.db.select({ id: r.id, name: r.name }).from(r).where(and(eq(r.nameFold, ""), sql`${r.name} <> ''`)).all();
      for (const row of rows) this.db.update(r).set({ nameFold: foldName(row.name) }).where(eq(r.id, row.id)).run();
      this.db.insert(schema.settings).values({ key: NAMES_FOLDED, value: "1" }).run();
    });
  }

  /**
   * Record a new group room, within its creator's quota of `perDay` (0 or
   * `quotaExempt`: no limit). Refused: nothing is written, and the answer says
   * when the creator may try again.
   */
  register(room: NewRoom, perDay: number, quotaExempt: boolean): void {
    const now = Date.now();
    const wait = quotaExempt ? 0 : roomQuotaWaitMs(this.db, room.createdBy, perDay, now);
    if (wait > 0) throw rateLimited(`at most ${perDay} new rooms a day per person; the next one is possible in ${Math.ceil(wait / 60_000)} minutes`, wait);
    this.db.insert(schema.rooms).values({ ...room, nameFold: foldName(room.name), dmKey: null, createdAt: now }).run();
  }

  /** The DM room id for a pair: the existing one, or `candidate` newly reserved. */
  dmFor(a: string, b: string, candidate: string): { roomId: string; created: boolean } {
    const dmKey = [a, b].sort().join("|");
    const existing = this.db.select().from(schema.rooms).where(eq(schema.rooms.dmKey, dmKey)).get();
    if (existing) return { roomId: existing.id, created: false };
    this.db.insert(schema.rooms).values({ id: candidate, name: "", kind: "dm", visibility: "private", dmKey, createdBy: a, createdAt: Date.now() }).run();
    return { roomId: candidate, created: true };
  }

  get(id: string): RoomRow | null {
    return this.db.select().from(schema.rooms).where(eq(schema.rooms.id, id)).get() ?? null;
  }

  /** Which of `ids` (at most 90: SQLite in workerd binds at most 100 parameters) are rooms. */
  existing(ids: string[]): string[] {
    return ids.length ? this.db.select({ id: schema.rooms.id }).from(schema.rooms).where(inArray(schema.rooms.id, ids)).all().map((r) => r.id) : [];
  }

  /** The rows of `ids` (at most 90, as in `existing`) that are rooms here: their names for the admin screens (admin-names.ts). */
  named(ids: string[]): Pick<RoomRow, "id" | "name" | "kind" | "dmKey">[] {
    const r = schema.rooms;
    return ids.length ? this.db.select({ id: r.id, name: r.name, kind: r.kind, dmKey: r.dmKey }).from(r).where(inArray(r.id, ids)).all() : [];
  }

  /**
   * Every room of this node by id, a page at a time (ids after `after`): the
   * user export asks each for the person's messages, since a person may have
   * written in rooms they have since left. Mirrors of other nodes' rooms are
   * in their own table, not here.
   */
  idsAfter(after: string, limit: number): string[] {
    return this.db.select({ id: schema.rooms.id }).from(schema.rooms).where(gt(schema.rooms.id, after)).orderBy(asc(schema.rooms.id)).limit(limit).all().map((r) => r.id);
  }

  /** One page of the public room directory; a cursor it did not give out is `invalid_request`. */
  publicPage(query: { q?: string; limit: number; cursor?: string }): PublicRoomsPage {
    return pagePublicRooms(this.db, query);
  }

  /**
   * What the public directory shows of a room besides its name: its member
   * count (each room reports it after every change of members) and its topic.
   */
  describe(id: string, info: { memberCount?: number; topic?: string }): void {
    const set: Partial<Pick<RoomRow, "memberCount" | "topic">> = {};
    if (info.memberCount !== undefined) set.memberCount = info.memberCount;
    if (info.topic !== undefined) set.topic = info.topic;
    if (Object.keys(set).length) this.db.update(schema.rooms).set(set).where(eq(schema.rooms.id, id)).run();
  }

  rename(id: string, name: string): void {
    this.db.update(schema.rooms).set({ name, nameFold: foldName(name) }).where(eq(schema.rooms.id, id)).run();
  }

  /** Which of `ids` (at most 90, as in `existing`) are rooms of other nodes that have a mirror here. */
  mirrored(ids: string[]): string[] {
    return ids.length ? this.db.select({ id: schema.mirrors.id }).from(schema.mirrors).where(inArray(schema.mirrors.id, ids)).all().map((r) => r.id) : [];
  }

  /**
   * A room of another node now has a mirror here (its home pushed to us).
   * Idempotent. A DM also takes its pair's place here, so either person opening
   * a DM with the other from this node finds that one instead of making a second.
   */
  registerMirror(roomId: string, dm: { members: string[]; createdBy: string; createdAt: number } | null): void {
    this.storage.transactionSync(() => {
      this.db.insert(schema.mirrors).values({ id: roomId, registeredAt: Date.now() }).onConflictDoNothing().run();
      if (dm && dm.members.length === 2) {
        const dmKey = [...dm.members].sort().join("|");
        this.db.insert(schema.rooms).values({ id: roomId, name: "", kind: "dm", visibility: "private", dmKey, createdBy: dm.createdBy, createdAt: dm.createdAt, nameFold: "" }).onConflictDoNothing().run();
      }
    });
  }
}
