/**
 * Typed calls for a node's retention policies, legal holds and erasure
 * (node administrators: `/api/v1/admin/…`, docs/OPERATIONS.md "Retention,
 * legal hold and erasure"). A module of its own beside rest.ts, not methods
 * of OutpostClient: a class's methods cannot be left out of a bundle, and
 * these admin-only calls (with their answers' schemas) would otherwise sit in
 * every web client's first screen (its 60 KB budget, test/browser/budget.test.ts).
 *
 * @example
 *   const admin = new ComplianceClient(api);   // api: a signed-in administrator's OutpostClient
 *   await admin.setRetentionDefault(365);
 *   const hold = await admin.placeHold({ userId }, "case 2026-17");
 *   await admin.eraseUser(userId);             // OutpostApiError `under_legal_hold` (409) while held
 */
import type { z } from "zod";
import { ErasureSchema, LegalHoldSchema, RoomSchema, type Erasure, type LegalHold, type Room } from "../protocol/models";
import { HoldListSchema, RetentionDefaultSchema } from "../protocol/responses";
import type { SetRoomRetentionBody } from "../protocol/rest";
import type { OutpostClient } from "./rest";
import { OutpostApiError } from "./errors";

export type { Erasure, LegalHold };
/** Days (1–36500), or null to keep forever. */
export type RetentionDays = number | null;

export class ComplianceClient {
  constructor(private readonly client: OutpostClient) {}

  /** The node's default for every room without its own policy (null: keep forever). */
  async retentionDefault(): Promise<RetentionDays> {
    return (await this.client.request("GET", "/admin/retention", undefined, RetentionDefaultSchema)).defaultDays;
  }
  async setRetentionDefault(defaultDays: RetentionDays): Promise<RetentionDays> {
    return (await this.client.request("PUT", "/admin/retention", { defaultDays }, RetentionDefaultSchema)).defaultDays;
  }
  /** A room's own policy, or `"default"` to follow the node's again; answers the room with the policy now in force (`retentionDays`). */
  setRoomRetention(roomId: string, days: z.input<typeof SetRoomRetentionBody>["days"]): Promise<Room> {
    return this.client.request("PUT", `/admin/rooms/${encodeURIComponent(roomId)}/retention`, { days }, RoomSchema);
  }
  /** Every legal hold of the node, oldest first. */
  async holds(): Promise<LegalHold[]> {
    return (await this.client.request("GET", "/admin/holds", undefined, HoldListSchema)).holds;
  }
  /** A hold on one room of this node or on one person, with the reason (a case, a ticket). */
  placeHold(target: { roomId: string } | { userId: string }, reason: string): Promise<LegalHold> {
    return this.client.request("POST", "/admin/holds", { ...target, reason }, LegalHoldSchema);
  }
  releaseHold(holdId: string): Promise<LegalHold> {
    return this.client.request("DELETE", `/admin/holds/${encodeURIComponent(holdId)}`, undefined, LegalHoldSchema);
  }
  /**
   * Erase a person of this node (GDPR art. 17). Answers once every room is done
   * (`state: "done"`); if the call is cut off, calling it again resumes the job
   * (or returns the finished one). `under_legal_hold` (409) while a hold covers them.
   */
  eraseUser(userId: string): Promise<Erasure> {
    return this.client.request("POST", `/admin/users/${encodeURIComponent(userId)}/erase`, undefined, ErasureSchema);
  }
  /** A person's erasure job as it stands (`roomsDone` of `roomsTotal` while it runs), read without driving it; null when never begun. */
  async erasure(userId: string): Promise<Erasure | null> {
    try {
      return await this.client.request("GET", `/admin/users/${encodeURIComponent(userId)}/erase`, undefined, ErasureSchema);
    } catch (err) {
      if (err instanceof OutpostApiError && err.status === 404) return null;
      throw err;
    }
  }
}
