/**
 * One-time invite links: an administrator creates an account without a
 * password and hands its owner a link; the owner chooses the password
 * (the node's policy applies) and is signed in.
 *
 * The token is 32 random bytes (base64url), shown once; the directory keeps
 * only its SHA-256, so its file (or a backup of it) opens no account. A link
 * works once and for `INVITE_TTL_MS`; a new link for the same account replaces
 * every older one, and setting the password any other way (an administrator's
 * reset) ends them too.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { AppError } from "../shared/app-error";
import { randomSecret, sha256hex } from "../shared/bytes";
import type { User } from "../../protocol/models";
import { toUser, type UserRow } from "./accounts";
import * as schema from "./schema";

/** Seven days: long enough for a new colleague's first week, short enough that a forgotten link dies. */
export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

type Db = DrizzleSqliteDODatabase<typeof schema>;

export class Invites {
  constructor(
    private readonly db: Db,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  /** A new link for `userId` (older unused ones end): the token, to show once. */
  async issue(userId: string, createdBy: string, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    const token = randomSecret(32);
    const tokenHash = await sha256hex(token);
    const expiresAt = now + INVITE_TTL_MS;
    this.transaction(() => {
      this.endFor(userId);
      this.db.insert(schema.invites).values({ tokenHash, userId, createdBy, createdAt: now, expiresAt, usedAt: null }).run();
    });
    return { token, expiresAt };
  }

  /** Every unused link of `userId` ends (a new link, a password set another way, deactivation). */
  endFor(userId: string): void {
    const i = schema.invites;
    this.db.delete(i).where(and(eq(i.userId, userId), isNull(i.usedAt))).run();
  }

  /**
   * The account a token invites, or the reason it cannot: `invite_invalid`
   * (never issued, replaced, or the account is deactivated), `invite_used`,
   * `invite_expired`.
   */
  async check(token: string, now = Date.now()): Promise<{ user: User; expiresAt: number; tokenHash: string }> {
    const tokenHash = await sha256hex(token);
    const invite = this.db.select().from(schema.invites).where(eq(schema.invites.tokenHash, tokenHash)).get();
    if (!invite) throw new AppError("invite_invalid", "this invite link is not valid (mistyped, or replaced by a newer link); ask an administrator for a new one");
    if (invite.usedAt !== null) throw new AppError("invite_used", "this invite link was already used; sign in, or ask an administrator for a new link");
    if (invite.expiresAt <= now) throw new AppError("invite_expired", "this invite link has expired; ask an administrator for a new one");
    const row = this.db.select().from(schema.users).where(eq(schema.users.id, invite.userId)).get();
    if (!row || !row.active) throw new AppError("invite_invalid", "this invite link is not valid (the account is deactivated); ask an administrator");
    return { user: toUser(row), expiresAt: invite.expiresAt, tokenHash };
  }

  /**
   * Use the link: the password hash is set and the link used up, in one
   * transaction after checking again (two tabs accepting at once: one wins,
   * the other gets `invite_used`).
   */
  /** `record` runs inside the transaction that uses the link (the audit record: all or nothing). */
  async accept(token: string, passwordHash: string, now = Date.now(), record: (userId: string) => void = () => {}): Promise<User> {
    const { tokenHash } = await this.check(token, now);
    return this.transaction(() => {
      const i = schema.invites;
      const invite = this.db.select().from(i).where(eq(i.tokenHash, tokenHash)).get();
      if (!invite || invite.usedAt !== null) throw new AppError("invite_used", "this invite link was already used; sign in, or ask an administrator for a new link");
      this.db.update(i).set({ usedAt: now }).where(eq(i.tokenHash, tokenHash)).run();
      this.db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, invite.userId)).run();
      this.endFor(invite.userId);
      record(invite.userId);
      const row = this.db.select().from(schema.users).where(eq(schema.users.id, invite.userId)).get() as UserRow;
      return toUser(row);
    });
  }
}
