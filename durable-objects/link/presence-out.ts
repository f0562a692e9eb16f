/**
 * This node's people's presence, told to one peer node: kept by this node's
 * LinkObject for that peer. A person's presence is decided at their home node
 * (their devices connect there, user/presence.ts); every change is noted here
 * and sent to the peer coalesced — all changes of PRESENCE_BATCH_MS in one
 * signed `POST /link/v1/presence`, one request in flight at a time, so the
 * peer sees them in order — and the peer passes them on to its own people who
 * watch them (presence-in.ts).
 *
 * Why every peer, not only the nodes where someone shares a room with the
 * person: a bank with 30 branches and 5,000 people changes presence perhaps
 * 100,000 times a day in all (connect, idle, back, leave); each node then gets
 * about one small request a second at the morning peak (~80 bytes a change,
 * coalesced) and keeps ~5,000 entries (~0.5 MB) in memory. Sending only where
 * someone can see the person would need the home to know, for each person,
 * which nodes hold members of each of their rooms, kept current as
 * memberships change — a second membership index across nodes, for a saving
 * nobody would notice. Presence is not secret from the organisation's own
 * nodes (they hold its whole directory); who may *see* it — only people who
 * share a room with the person — is decided per viewer where the viewer is
 * (shared/presence-delivery.ts), as for local people.
 *
 * A full report (everyone of this node who is online or away; the rest are
 * offline) goes when the link comes up, when a report failed, and when the
 * peer's answer to our heartbeat says it holds nothing current of ours (it
 * restarted, or counted the link down). So a cut, a lost request or a restart
 * on either side is repaired within a heartbeat or two of the link working.
 *
 * The people who are online or away are kept in the link object's SQLite file
 * as well as in memory, so a link object that is rebuilt (a restart of the
 * object) still sends the right full report.
 */
import { errorText, log } from "../shared/log";
import type { Presence } from "../../protocol/device";
import { LinkPresenceAnswer, type LinkPresenceReport } from "../../protocol/cluster";
import type { Env } from "../shared/env";
import { LinkError, linkFetch } from "../shared/cluster";

/** How long changes gather before they go (a person connecting two devices is one change). */
export const PRESENCE_BATCH_MS = 200;

export class PresenceOutbox {
  /** this node's people who are online or away, as the peer should know them */
  private readonly current = new Map<string, Presence>();
  /** changes not yet sent */
  private pending = new Map<string, Presence>();
  private fullDue = true;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending: Promise<void> = Promise.resolve();
  /** names this object's life: the peer orders reports by (epoch, seq) */
  private readonly epoch = crypto.randomUUID();
  private seq = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
    private readonly node: () => string | null,
    /** how a report went, for the link's state (like any request over the link) */
    private readonly noteResult: (ok: boolean) => void,
  ) {
    sql.exec("CREATE TABLE IF NOT EXISTS presence_out (user_id TEXT PRIMARY KEY, status TEXT NOT NULL, last_seen INTEGER)");
    for (const row of sql.exec<{ user_id: string; status: string; last_seen: number | null }>("SELECT user_id, status, last_seen FROM presence_out")) {
      if (row.status === "online" || row.status === "away") this.current.set(row.user_id, { userId: row.user_id, status: row.status, lastSeen: row.last_seen });
    }
  }

  /** A person of this node is in `p.status` now. True when that changes what the peer should know. */
  note(p: Presence): boolean {
    if ((this.current.get(p.userId)?.status ?? "offline") === p.status) return false;
    if (p.status === "offline") {
      this.current.delete(p.userId);
      this.sql.exec("DELETE FROM presence_out WHERE user_id = ?", p.userId);
    } else {
      this.current.set(p.userId, p);
      this.sql.exec("INSERT INTO presence_out (user_id, status, last_seen) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen", p.userId, p.status, p.lastSeen);
    }
    this.pending.set(p.userId, p);
    return true;
  }

  /** The next report is a full one (the link came up, or the peer asked). */
  wantFull(): void {
    this.fullDue = true;
  }

  /** Is anything waiting to be sent? */
  due(): boolean {
    return this.fullDue || this.pending.size > 0;
  }

  /** Send what gathered in PRESENCE_BATCH_MS from now. */
  schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, PRESENCE_BATCH_MS);
  }

  /** Send what is due, after any report already on its way. */
  flush(): Promise<void> {
    this.sending = this.sending.then(() => this.sendOnce()).catch((err) => log("error", "presence.report_failed", { error: errorText(err) }));
    return this.sending;
  }

  private async sendOnce(): Promise<void> {
    const node = this.node();
    if (!node || !this.due()) return;
    const full = this.fullDue;
    // A full report carries every pending change too.
    const items = full ? [...this.current.values()] : [...this.pending.values()];
    this.fullDue = false;
    this.pending = new Map();
    const report: LinkPresenceReport = { epoch: this.epoch, seq: ++this.seq, full, items };
    let status: number;
    let body: unknown;
    try {
      ({ status, body } = await linkFetch(this.env, node, "POST", "/link/v1/presence", report));
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      // What did not arrive is repaired by a full report once the link works again.
      this.fullDue = true;
      this.noteResult(false);
      return;
    }
    this.noteResult(true);
    const answer = LinkPresenceAnswer.safeParse(body);
    if (status === 200 && answer.success) return;
    // 503: the peer counts the link down and has marked our people offline; it asks for a
    // full report (presenceWanted) once its own heartbeats get through, not before.
    if (status !== 503) log("error", "presence.report_refused", { peer: node, status, answer: JSON.stringify(body).slice(0, 200) });
  }
}
