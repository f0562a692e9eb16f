/**
 * The room's `meta` table: its own settings (id, name, kind, …) and the
 * counters and positions other parts of the room keep, one row per key. Keys
 * are typed: a misspelt key is a type error, not a counter that silently
 * reads 0.
 */
import * as schema from "../schema";
import type { RoomDb } from "./room-store";

export interface RoomMeta {
  id: string;
  name: string;
  /** "" when none (rooms from before topics have no row) */
  topic: string;
  kind: "group" | "dm";
  visibility: "public" | "private";
  createdAt: number;
  createdBy: string;
}

/** Numbers kept in meta (absent reads as 0). */
export type MetaNumberKey =
  /** highest seq whose text is in the full-text index (search-index.ts) */
  | "fts_seq"
  /** the index format the room's index holds (INDEX_VERSION, search-tokens.ts) */
  | "fts_version"
  /** format 1's marker, from before fts_version existed */
  | "fts_ready"
  /** a re-index in progress: messages at or above this seq are in the new format (search-reindex.ts) */
  | "fts_reindex_below"
  /** the format that re-index rewrites to */
  | "fts_reindex_to"
  /** members' inboxes have heard about every message up to this seq … (inbox-activity.ts) */
  | "notified_seq"
  /** … and every change up to this room version */
  | "notified_version"
  /** when retention next looks at the room (retention.ts); absent: never armed */
  | "retention_next_at"
  /** members' inboxes were told to drop notifications below this seq (retention.ts) */
  | "retention_forgot_below";

/** Texts kept in meta. */
export type MetaTextKey =
  /** members whose inbox summary is held back (away-members.ts) */
  | "held_back"
  /** "home": no message of this room is stored on another node (peers.ts) */
  | "residency"
  /** per other node: the room version and member list it has confirmed (peer-push.ts) */
  | "peer_cursors"
  /** the room's own retention policy ("forever" or a number of days); absent: the node's default (retention.ts) */
  | "retention_days"
  /** the node's default as the directory last said ("forever" or days) */
  | "retention_default_days"
  /** JSON RetentionMarker: what the last purge removed (store/retention.ts) */
  | "retention_marker";

/** The room's settings are stored under their own names; the rest under these. */
type MetaKey = keyof RoomMeta | MetaNumberKey | MetaTextKey;

export class MetaStore {
  constructor(
    private readonly db: RoomDb,
    private readonly sql: SqlStorage,
  ) {}

  /** The room's settings; null for a room that was never created. */
  load(): RoomMeta | null {
    const rows = this.db.select().from(schema.meta).all();
    if (rows.length === 0) return null;
    const kv = Object.fromEntries(rows.map((r) => [r.key, r.value])) as Partial<Record<MetaKey, string>>;
    if (!kv.id) return null;
    return {
      id: kv.id,
      name: kv.name ?? "",
      topic: kv.topic ?? "",
      kind: kv.kind as RoomMeta["kind"],
      visibility: kv.visibility as RoomMeta["visibility"],
      createdAt: Number(kv.createdAt),
      createdBy: kv.createdBy ?? "",
    };
  }

  save(meta: Partial<RoomMeta>): void {
    for (const [key, value] of Object.entries(meta) as [keyof RoomMeta, RoomMeta[keyof RoomMeta] | undefined][]) {
      if (value === undefined) continue;
      this.db
        .insert(schema.meta)
        .values({ key, value: String(value) })
        .onConflictDoUpdate({ target: schema.meta.key, set: { value: String(value) } })
        .run();
    }
  }

  /** A number kept in meta, 0 when absent (fixed SQL, no query builder: counters are read on the activity path). */
  number(key: MetaNumberKey): number {
    return Number(this.text(key) ?? 0);
  }

  /** The stored number, or undefined when none was ever written (a room from before the key existed). */
  storedNumber(key: MetaNumberKey): number | undefined {
    const value = this.text(key);
    return value === undefined ? undefined : Number(value);
  }

  setNumber(key: MetaNumberKey, value: number): void {
    this.setText(key, String(value));
  }

  delete(key: MetaNumberKey): void {
    this.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  /** Members whose inbox summary the room is holding back (see away-members.ts). */
  heldBack(): string[] {
    const value = this.text("held_back");
    return value ? (JSON.parse(value) as string[]) : [];
  }

  setHeldBack(userIds: Iterable<string>): void {
    this.setText("held_back", JSON.stringify([...userIds]));
  }

  /** A text kept in meta (undefined when never written). */
  getText(key: MetaTextKey): string | undefined {
    return this.text(key);
  }

  putText(key: MetaTextKey, value: string): void {
    this.setText(key, value);
  }

  deleteText(key: MetaTextKey): void {
    this.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  private text(key: MetaKey): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  private setText(key: MetaKey, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }
}
