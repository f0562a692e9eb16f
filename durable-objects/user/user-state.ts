/**
 * What a user object's modules share: the user's profile (who they are,
 * whether the account is active) and whether their tables exist yet, plus
 * the `profile` table's typed rows.
 */
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Presence } from "../../protocol/device";
import * as schema from "./schema";

export type UserDb = DrizzleSqliteDODatabase<typeof schema>;

export interface Profile {
  userId: string;
  username: string;
  displayName: string;
  isAdmin: boolean;
  active: boolean;
  /** personal setting: may others see my read receipts? */
  sendReceipts?: boolean;
  /** personal setting: the interface language on every device (absent/null: each browser's own) */
  language?: "zh" | "en" | null;
}

export class UserState {
  /** null: not provisioned (an object the directory never made) */
  profile: Profile | null = null;
  /** the tables exist (migrated at wake, or at the first provision) */
  ready = false;
}

/**
 * The JSON rows of the `profile` key/value table, by key. (The table also
 * holds `pos`, the inbox positions reserved on disk, written and read as a
 * number by inbox-store.ts.)
 */
interface ProfileRows {
  profile: Profile;
  /** the user's presence as last computed from their device sockets (presence.ts) */
  presence: Presence;
}

export function readProfileRow<K extends keyof ProfileRows>(db: UserDb, key: K): ProfileRows[K] | null {
  const row = db.select().from(schema.profile).where(eq(schema.profile.key, key)).get();
  return row ? (JSON.parse(row.value) as ProfileRows[K]) : null;
}

export function writeProfileRow<K extends keyof ProfileRows>(db: UserDb, key: K, value: ProfileRows[K]): void {
  const text = JSON.stringify(value);
  db.insert(schema.profile).values({ key, value: text }).onConflictDoUpdate({ target: schema.profile.key, set: { value: text } }).run();
}
