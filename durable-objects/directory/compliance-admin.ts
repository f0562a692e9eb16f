/**
 * The node administrator's compliance actions at the directory, each with its
 * audit record in the same transaction (directory-audit.ts): the node's
 * retention default (then every room of the node told), legal holds placed and
 * released (compliance.ts keeps them), and the record of a compliance export
 * written before the export streams.
 */
import { homeNode } from "../../protocol/ids";
import type { LegalHold } from "../../protocol/models";
import { AppError } from "../shared/app-error";
import type { AuditEntry } from "../shared/audit";
import type { Env } from "../shared/env";
import { storedRoom } from "../shared/objects";
import type { RetentionDays } from "../room/retention";
import type { Accounts } from "./accounts";
import type { Compliance } from "./compliance";
import type { DirectoryAudit } from "./directory-audit";
import type { RoomsDirectory } from "./rooms-directory";

export class ComplianceAdmin {
  constructor(
    private readonly env: Env,
    private readonly compliance: Compliance,
    private readonly accounts: Accounts,
    private readonly rooms: RoomsDirectory,
    private readonly audit: DirectoryAudit,
    private readonly localRooms: () => string[],
  ) {}

  /**
   * The node's default retention. Every room of the node is told (and looks at
   * its messages at once); a room missed here (a crash) learns it at its next
   * daily look, when it asks retentionInputs.
   */
  async setRetentionDefault(days: RetentionDays, by: string): Promise<RetentionDays> {
    const before = this.compliance.defaultDays();
    // null in the detail is "forever", as in the API's body.
    this.audit.audited(
      () => this.compliance.setDefault(days, by),
      () => [{ actor: by, action: "retention.changed", detail: { scope: "node", before, after: days } }],
    );
    const rooms = this.localRooms();
    for (let i = 0; i < rooms.length; i += 50) {
      await Promise.allSettled(rooms.slice(i, i + 50).map((id) => storedRoom(this.env, id).retentionDefaultChanged(days)));
    }
    return days;
  }

  /** A hold on a room of this node or on any person known here (their messages in this node's rooms). */
  placeHold(target: { roomId: string } | { userId: string }, reason: string, by: string): LegalHold {
    const known = "roomId" in target ? this.rooms.get(target.roomId) !== null && homeNode(target.roomId) === this.env.NODE_NAME : this.accounts.one(target.userId) !== null;
    if (!known) throw new AppError("not_found", "roomId" in target ? "no such room on this node" : "no such user");
    return this.audit.audited(
      () => this.compliance.place(target, reason, by),
      (h) => [holdEntry("hold.placed", h, by)],
    );
  }

  releaseHold(id: string, by: string): LegalHold {
    return this.audit.audited(
      () => this.compliance.release(id, by),
      (h) => [holdEntry("hold.released", h, by)],
    );
  }

  /**
   * Record a compliance export before it streams (worker/export/start.ts
   * awaits this before the answer exists). The RPC returns only once the
   * record is committed (the output gate holds the answer until the write is
   * on disk), so a failed record refuses the export before any byte leaves.
   */
  recordExport(actor: string, target: { roomId: string } | { userId: string }, format: string): void {
    const entry: AuditEntry =
      "roomId" in target
        ? { actor, action: "export.room", roomId: target.roomId, detail: { room: target.roomId, format } }
        : { actor, action: "export.user", userId: target.userId, detail: { user: target.userId, format } };
    this.audit.audited(() => null, () => [entry]);
  }
}

/**
 * A legal hold's record: its id, what it covers and the reason given (a case
 * or ticket reference). The reason is cut to 200 characters: the body allows
 * 500, and a record's detail is bounded (shared/audit.ts) — escaped control
 * characters could otherwise push it over and refuse the hold.
 */
function holdEntry(action: "hold.placed" | "hold.released", h: LegalHold, actor: string): AuditEntry {
  return {
    actor,
    action,
    ...(h.kind === "room" ? { roomId: h.targetId } : { userId: h.targetId }),
    detail: { hold: h.id, kind: h.kind, target: h.targetId, reason: h.reason.slice(0, 200) },
  };
}
