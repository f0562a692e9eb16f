/**
 * Display names of senders as they are at the time of the export: the room's
 * members first, then the directory for people who left (asked once per page
 * for the ids not seen yet, and remembered for the rest of the export).
 */
import type { Env } from "../../durable-objects/shared/env";
import { directoryStub } from "../../durable-objects/shared/objects";
import type { ExportMessage } from "../../protocol/export";

export class SenderNames {
  private readonly names = new Map<string, string>();

  constructor(private readonly env: Env) {}

  know(userId: string, displayName: string): void {
    this.names.set(userId, displayName);
  }

  /** Fill in `senderName` of a page of messages. */
  async fill(messages: ExportMessage[]): Promise<void> {
    const unknown = [...new Set(messages.map((m) => m.senderId).filter((id) => !this.names.has(id)))];
    if (unknown.length) {
      for (const u of await directoryStub(this.env).getUsers(unknown)) this.names.set(u.id, u.displayName);
      // Not in the directory at all (an account of a node no longer in the cluster): "" from now on.
      for (const id of unknown) if (!this.names.has(id)) this.names.set(id, "");
    }
    for (const m of messages) m.senderName = this.names.get(m.senderId) ?? "";
  }
}
