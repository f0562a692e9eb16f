/**
 * The audit trail on the wire: the actions it records, the admin listing's
 * query and its answer (`GET /api/v1/admin/audit`).
 *
 * Action names are stable strings (`area.verb`): stored in every record and
 * hashed into the chain, so a name, once shipped, is never renamed; a new kind
 * of action is a new entry here (and nothing else: `recordAudit` in
 * durable-objects/shared/audit.ts takes any of them).
 */
import { z } from "zod";

export const AUDIT_ACTIONS = [
  // Sign-in and sessions (user objects, and the directory for failures).
  "auth.signin",
  "auth.signin_failed",
  "auth.signout",
  "session.revoked",
  "password.changed",
  // People administration (directory).
  "user.created",
  "user.deactivated",
  "user.reactivated",
  "user.role_changed",
  "user.renamed",
  "user.invited",
  // Rooms (room objects).
  "room.created",
  "room.renamed",
  "room.visibility_changed",
  "member.added",
  "member.removed",
  "member.role_changed",
  "message.recalled_by_admin",
  "file.downloaded",
  // Node operations (recorded by the directory through the ops tools' stamps).
  "node.backup",
  "node.restore",
  // Compliance (docs/OPERATIONS.md "Audit trail" lists each one's detail).
  // Exports: the directory, committed before the first byte is sent (worker/export/start.ts).
  "export.room",
  "export.user",
  // Erasure: the directory when it starts, and each room in the transaction that erases there.
  "erasure.user",
  // Retention: node default (directory) or a room's own policy (room); purges: one per room batch.
  "retention.changed",
  "retention.purged",
  // Legal holds (directory).
  "hold.placed",
  "hold.released",
  // Two-factor sign-in (directory).
  "mfa.enrolled",
  "mfa.removed",
  // The node started with another configuration than last time (directory).
  "config.changed",
] as const;

export const AuditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditActionSchema>;

/** One record as the admin listing shows it (the node-wide read copy). */
export const AuditRecordSchema = z.strictObject({
  /** the object whose chain holds it: `<class>:<object id hex>` */
  object: z.string(),
  /** its position in that chain (1, 2, …) */
  seq: z.number().int(),
  at: z.number(),
  /** a user id; "system" (the node itself); "anonymous" (a failed sign-in: nobody proved who they are) */
  actor: z.string(),
  action: z.string(),
  roomId: z.string().nullable(),
  userId: z.string().nullable(),
  /**
   * Small facts about the action, as JSON text: exactly the text the record's
   * hash covers, so anyone can recompute the hash from this answer
   * (durable-objects/shared/audit-chain.mjs). An object of strings, numbers,
   * booleans and nulls.
   */
  detail: z.string(),
  hash: z.string(),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/** A room's or a person's name, as an audit page gives it (see AuditPageSchema.names). */
export const AuditNameSchema = z.strictObject({ id: z.string(), name: z.string() });

export const AuditPageSchema = z.strictObject({
  records: z.array(AuditRecordSchema),
  nextCursor: z.string().nullable(),
  /**
   * Names for the room and user ids the page's records mention (`roomId`,
   * `userId`, `actor`), looked up once per page: a room's name (a DM: its two
   * people's names, "A & B"), a person's display name. An admin need not be a
   * member of a room to see its name here. Ids the node cannot name (gone, or
   * a room of another node with no copy here) are left out: show the id.
   * A list of `{id, name}`, not a map: every answer is strict objects that
   * clients loosen (protocol/lenient.ts), and in a map the keys are data, so
   * a newer node's extra field could not be told from a name. Absent from
   * older nodes.
   */
  names: z.array(AuditNameSchema).optional(),
});
export type AuditPage = z.infer<typeof AuditPageSchema>;

const IdFilter = z.string().min(3).max(120).regex(/^[a-z]_[A-Za-z0-9_-]+(@[a-z0-9-]+)?$/, "not an id");

/**
 * `GET /api/v1/admin/audit`: newest first. `user` matches the actor or the
 * user acted on; `from`/`to` are epoch milliseconds (inclusive/exclusive);
 * `cursor` is the previous page's `nextCursor`, opaque.
 */
export const AuditQuery = z.strictObject({
  user: IdFilter.optional(),
  room: IdFilter.optional(),
  action: AuditActionSchema.optional(),
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().regex(/^[A-Za-z0-9_-]{1,400}$/, "not a cursor").optional(),
});
export type AuditQueryInput = z.infer<typeof AuditQuery>;
