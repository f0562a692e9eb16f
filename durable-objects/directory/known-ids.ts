/**
 * The directory's answer to "does this id exist here?", asked before any
 * object is touched for an id that came from outside (shared/objects.ts): a
 * made-up id must not create an object's file. Accounts of this node, its
 * rooms, and the rooms of other nodes that have a mirror here.
 */
import type { Accounts } from "./accounts";
import type { RoomsDirectory } from "./rooms-directory";

/** Which of `ids` (the first 500) are registered rooms or users of this node, or mirrored rooms. */
export function knownIds(accounts: Accounts, rooms: RoomsDirectory, ids: string[]): string[] {
  const out: string[] = [];
  const wanted = ids.slice(0, 500);
  // 90 at a time: SQLite in workerd binds at most 100 parameters.
  for (let i = 0; i < wanted.length; i += 90) {
    const chunk = wanted.slice(i, i + 90);
    out.push(...accounts.existing(chunk.filter((id) => id.startsWith("u_"))));
    const roomIds = chunk.filter((id) => id.startsWith("r_"));
    out.push(...rooms.existing(roomIds));
    // Rooms of other nodes that have a mirror here.
    out.push(...rooms.mirrored(roomIds));
  }
  return out;
}
