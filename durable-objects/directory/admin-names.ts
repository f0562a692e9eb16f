/**
 * Names for the ids an administrator's screens show (the legal holds, the
 * audit trail): an admin is often not a member of the rooms they hold or
 * audit, so the client cannot name them from its own room list.
 *
 * Read-only lookups in the directory's own tables — nothing is created for an
 * id it does not know (shared/objects.ts): this node's rooms by their
 * registered name, people (this node's and, as replicated, other nodes') by
 * their display name. A DM has no name of its own: it is named by its two
 * people. Rooms of other nodes that have a mirror here are listed apart, for
 * the caller to ask each mirror (worker/admin-names.ts); the directory keeps
 * only their ids.
 */
import type { Accounts } from "./accounts";
import type { RoomsDirectory } from "./rooms-directory";
import type { LegalHold } from "../../protocol/models";

export interface DirectoryNames {
  /** id → name, for the ids the directory could name; unknown ids are absent */
  names: Record<string, string>;
  /** rooms of other nodes with a mirror here, not named yet (their mirror knows) */
  mirrored: string[];
}

/** At most this many distinct ids per call: a page of 500 audit records mentions at most 1,500 (actor, room, user). */
export const MAX_NAMED_IDS = 1500;

/** Names for `ids` (room and user ids; anything else is ignored). */
export function namesOf(accounts: Accounts, rooms: RoomsDirectory, ids: readonly string[]): DirectoryNames {
  const wanted = [...new Set(ids)].slice(0, MAX_NAMED_IDS);
  const names: Record<string, string> = {};
  const dmPairs = new Map<string, string[]>();
  const roomIds = wanted.filter((id) => id.startsWith("r_"));
  const userIds = new Set(wanted.filter((id) => id.startsWith("u_")));
  // 90 at a time: SQLite in workerd binds at most 100 parameters.
  for (let i = 0; i < roomIds.length; i += 90) {
    const chunk = roomIds.slice(i, i + 90);
    for (const row of rooms.named(chunk)) {
      if (row.kind === "dm" && row.dmKey) {
        const pair = row.dmKey.split("|");
        dmPairs.set(row.id, pair);
        for (const u of pair) userIds.add(u);
      } else if (row.name) names[row.id] = row.name;
    }
  }
  const people = new Map<string, string>();
  const users = [...userIds];
  // Accounts.many looks at most 500 at a time.
  for (let i = 0; i < users.length; i += 500) for (const u of accounts.many(users.slice(i, i + 500))) people.set(u.id, u.displayName);
  for (const id of wanted) if (id.startsWith("u_") && people.has(id)) names[id] = people.get(id)!;
  for (const [id, pair] of dmPairs) names[id] = dmName(pair, people);
  const unnamed = roomIds.filter((id) => !(id in names) && !dmPairs.has(id));
  const mirrored: string[] = [];
  for (let i = 0; i < unnamed.length; i += 90) mirrored.push(...rooms.mirrored(unnamed.slice(i, i + 90)));
  return { names, mirrored };
}

/**
 * A DM's name: "Alice & Bob" (sorted by name, so the same DM reads the same
 * everywhere), the same in both of the client's languages, and neither person
 * left out — one the node cannot name shows as their id. `pair`: the DM's
 * `dmKey` split; `people`: id → display name.
 */
export function dmName(pair: readonly string[], people: ReadonlyMap<string, string>): string {
  return pair.map((u) => people.get(u) ?? u).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(" & ");
}

/**
 * Holds with their targets' names, looked up when read (a name changes; the
 * stored hold keeps the id only). A held room is always one of this node's
 * (placeHold refuses others), so the directory names every target itself.
 */
export function namedHolds(accounts: Accounts, rooms: RoomsDirectory, holds: LegalHold[]): LegalHold[] {
  const { names } = namesOf(accounts, rooms, holds.map((h) => h.targetId));
  return holds.map((h) => ({ ...h, targetName: names[h.targetId] ?? null }));
}
