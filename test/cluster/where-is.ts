/**
 * Where a message is, on disk, across a cluster: for a test that found one
 * missing, so its failure says whether the sender's node still holds it (the
 * mirror's record of the send, the link's queue) or no node ever had it.
 *
 * Reads every object's SQLite file under each node's data folder read-only
 * (the ordinary WAL read locks, never a checkpoint: safe while workerd runs,
 * as ops/doctor.mjs does). Only tables that carry sends are looked at:
 * `messages` (a room's history, or a mirror's copy), `sends` (a mirror's
 * record of its members' sends and their outcome), `send_queue` (a link's
 * queue to a room's home).
 */
import path from "node:path";
import Database from "better-sqlite3";
import { sqliteFiles } from "../sqlite-files";

export interface Sighting {
  node: string;
  file: string;
  table: "messages" | "sends" | "send_queue";
  detail: string;
}

/** Every row of the three send-carrying tables that names one of `clientIds`, on every node. */
export function whereIs(dataDirs: Record<string, string>, clientIds: string[]): Map<string, Sighting[]> {
  const found = new Map<string, Sighting[]>(clientIds.map((id) => [id, []]));
  const note = (id: string, s: Sighting) => found.get(id)?.push(s);
  for (const [node, dir] of Object.entries(dataDirs)) {
    for (const file of sqliteFiles(dir)) {
      let db: Database.Database | null = null;
      try {
        db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
        const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
        const short = path.relative(dir, file);
        const messageCols = tables.has("messages") ? new Set((db.prepare("PRAGMA table_info(messages)").all() as { name: string }[]).map((c) => c.name)) : new Set<string>();
        for (const id of clientIds) {
          if (messageCols.has("client_id")) for (const r of db.prepare("SELECT seq FROM messages WHERE client_id = ?").all(id) as { seq: number }[]) note(id, { node, file: short, table: "messages", detail: `seq ${r.seq}` });
          if (tables.has("sends")) for (const r of db.prepare("SELECT state, at FROM sends WHERE client_key LIKE ?").all(`%|${id}`) as { state: string; at: number }[]) note(id, { node, file: short, table: "sends", detail: `${r.state} at ${new Date(r.at).toISOString()}` });
          if (tables.has("send_queue")) for (const r of db.prepare("SELECT id, enqueued_at FROM send_queue WHERE item LIKE ?").all(`%"clientId":"${id}"%`) as { id: number; enqueued_at: number }[]) note(id, { node, file: short, table: "send_queue", detail: `#${r.id} since ${new Date(r.enqueued_at).toISOString()}` });
        }
      } catch (err) {
        console.log(`where-is: ${node} ${file}: ${(err as Error).message}`);
      } finally {
        db?.close();
      }
    }
  }
  return found;
}
