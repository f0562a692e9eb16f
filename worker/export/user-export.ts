/**
 * Everything of one person on this node, for a GDPR access request (Art. 15):
 *
 * - `account.json`: the account (never the password hash: `UserSchema` has no
 *   such field, and the answer is checked against it), settings, sessions
 *   (never their tokens: the user object keeps only hashes, and `SessionSchema`
 *   lists none) and their inbox (rooms with read positions and counts);
 * - `rooms.jsonl`: the rooms they are in, with role and read position;
 * - `messages.jsonl`: every message they sent in every room of this node —
 *   including rooms they have left, so every room of the node is asked (a
 *   scan of each room's messages by sender; heavy on a node with many rooms,
 *   but an access request is rare and must be complete);
 * - `reactions.jsonl`, `files.jsonl` and the files they uploaded under
 *   `files/`, and `avatar.<ext>` when they have one.
 *
 * Messages are written as each room is read; the smaller lists are kept until
 * the scan is done (they grow with one person's activity, not a room's size).
 * Rooms of other nodes are not included: their home node holds them and
 * answers for them.
 */
import type { Env } from "../../durable-objects/shared/env";
import type { Caller } from "../../durable-objects/shared/identity";
import { directoryStub, storedRoom, storedUser } from "../../durable-objects/shared/objects";
import type { ExportFile, ExportMembership, ExportReaction } from "../../protocol/export";
import type { ExportFileRow } from "../../durable-objects/room/export-rows";
import type { User } from "../../protocol/models";
import { readStoredAvatar, sniffImageType } from "../avatars";
import { asAppError } from "../../durable-objects/shared/app-error";
import { ExportArchive } from "./archive";
import { CSV_BOM, CSV_COLUMNS, csvRow, messageRow } from "./csv";
import { EXPORT_PAGE } from "./room-export";
import { SenderNames } from "./sender-names";
import type { ExportTarget } from "./start";

/** Room ids asked of the directory at a time. */
const ROOM_PAGE = 200;

export function userExport(env: Env, caller: Caller, user: User, format: "zip" | "csv"): ExportTarget {
  return {
    async run(out, meta) {
      const names = new SenderNames(env);
      names.know(user.id, user.displayName);
      const enc = new TextEncoder();
      const archive = format === "zip" ? new ExportArchive(out, env) : null;
      const messages = archive?.jsonl("messages.jsonl");
      if (!archive) await out(enc.encode(CSV_BOM + csvRow(CSV_COLUMNS)));
      const memberships: ExportMembership[] = [];
      const reactions: ExportReaction[] = [];
      const files: ExportFileRow[] = [];
      for (let after = ""; ; ) {
        const ids = await directoryStub(env).roomIdsAfter(after, ROOM_PAGE);
        for (const roomId of ids) {
          const room = storedRoom(env, roomId);
          let part;
          try {
            part = await room.exportUserPart(caller, user.id);
          } catch (err) {
            // A room registered but never created (a DM reserved, its creation failed) has nothing.
            if (asAppError(err)?.code === "not_found") continue;
            throw err;
          }
          if (part.member) {
            const { role, joinedAt, lastReadSeq } = part.member;
            memberships.push({ roomId, name: part.room.name, kind: part.room.kind, role, joinedAt, lastReadSeq });
          }
          reactions.push(...part.reactions);
          files.push(...part.files);
          for (let seq = 0; ; ) {
            const page = await room.exportPage(caller, seq, EXPORT_PAGE, user.id);
            await names.fill(page.messages);
            if (messages) await messages.lines(page.messages);
            else await out(enc.encode(page.messages.map((m) => messageRow(m, part.room.name)).join("")));
            archive?.count("messages", page.messages.length);
            if (page.next === null) break;
            seq = page.next;
          }
        }
        if (ids.length < ROOM_PAGE) break;
        after = ids[ids.length - 1];
      }
      if (!archive || !messages) return;
      await messages.end();
      const person = storedUser(env, user.id);
      const [settings, sessions, inbox] = await Promise.all([person.settings(), person.listSessions(), person.inboxRooms()]);
      await archive.json("account.json", { user, settings, sessions, inbox });
      await writeList(archive, "rooms.jsonl", memberships);
      archive.count("rooms", memberships.length);
      await writeList(archive, "reactions.jsonl", reactions);
      archive.count("reactions", reactions.length);
      const listed: ExportFile[] = [];
      for (const { storageKey, ...f } of files) listed.push({ ...f, entry: await archive.file({ ...f, storageKey }) });
      await writeList(archive, "files.jsonl", listed);
      archive.count("files", listed.length);
      if (user.avatar) {
        const bytes = await readStoredAvatar(env, user.id, user.avatar).catch(() => null);
        const type = bytes && sniffImageType(bytes);
        if (bytes && type) await archive.bytes(`avatar.${type.slice("image/".length)}`, bytes);
        else archive.notes.push("avatar: its bytes are missing from the file store");
      }
      await archive.finish(meta);
    },
  };
}

async function writeList(archive: ExportArchive, path: string, records: unknown[]): Promise<void> {
  const list = archive.jsonl(path);
  for (const r of records) await list.line(r);
  await list.end();
}
