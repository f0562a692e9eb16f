/**
 * One room's history for an administrator: `room.json`, `members.jsonl`,
 * `messages.jsonl` (every message in seq order), `files.jsonl` and the files'
 * bytes under `files/`, then `manifest.json` — or, as CSV, one row per
 * message. Pulled from the room a page at a time as the answer streams out,
 * so memory stays flat whatever the room's size.
 */
import type { Env } from "../../durable-objects/shared/env";
import type { Caller } from "../../durable-objects/shared/identity";
import type { RoomStub } from "../../durable-objects/shared/objects";
import type { ExportFile } from "../../protocol/export";
import { ExportArchive } from "./archive";
import { CSV_BOM, CSV_COLUMNS, csvRow, messageRow } from "./csv";
import { SenderNames } from "./sender-names";
import type { ExportTarget } from "./start";

/** Messages per RPC to the room: ~100–300 KB of JSON, a few ms of the room's time between pages. */
export const EXPORT_PAGE = 500;

export function roomExport(env: Env, caller: Caller, room: RoomStub, format: "zip" | "csv"): ExportTarget {
  return {
    async run(out, meta) {
      const head = await room.exportHead(caller);
      const names = new SenderNames(env);
      for (const m of head.members) names.know(m.userId, m.displayName);
      if (format === "csv") {
        const enc = new TextEncoder();
        let buffer = CSV_BOM + csvRow(CSV_COLUMNS);
        for (let after = 0; ; ) {
          const page = await room.exportPage(caller, after, EXPORT_PAGE);
          await names.fill(page.messages);
          for (const m of page.messages) buffer += messageRow(m, head.room.name);
          await out(enc.encode(buffer));
          buffer = "";
          if (page.next === null) return;
          after = page.next;
        }
      }
      const archive = new ExportArchive(out, env);
      await archive.json("room.json", head.room);
      const members = archive.jsonl("members.jsonl");
      for (const m of head.members) await members.line(m);
      await members.end();
      archive.count("members", head.members.length);
      const messages = archive.jsonl("messages.jsonl");
      for (let after = 0; ; ) {
        const page = await room.exportPage(caller, after, EXPORT_PAGE);
        await names.fill(page.messages);
        await messages.lines(page.messages);
        archive.count("messages", page.messages.length);
        if (page.next === null) break;
        after = page.next;
      }
      await messages.end();
      // The bytes first (each entry records whether they were there), then the list.
      const files: ExportFile[] = [];
      for (const { storageKey, ...f } of head.files) files.push({ ...f, entry: await archive.file({ ...f, storageKey }) });
      const list = archive.jsonl("files.jsonl");
      for (const f of files) await list.line(f);
      await list.end();
      archive.count("files", files.length);
      await archive.finish(meta);
    },
  };
}
