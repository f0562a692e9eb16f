/**
 * Shared set-up for tests against a real node (e2e, faults, browser): start a node
 * with an admin, sign the admin in, make people and rooms. Test nodes sign in
 * without pacing (cheap hashes and a generous sign-in budget: TEST_NODE_LIMITS in
 * test/harness.ts), so none of this waits for anything but the node.
 *
 * @example
 *   let t: TestNode;
 *   beforeAll(async () => (t = await withNode({ limits: { maxFileBytes: 1024 } })), 60_000);
 *   afterAll(() => t?.stop());
 *   it("…", async () => {
 *     const ann = await t.user("ann");
 *     const room = await t.room(ann.token, "Ops", []);
 *   });
 */
import { loginAs, startNode, type OutpostNode, type StartNodeOptions } from "./harness";
import { makeRoom, makeUser, type TestUser } from "./e2e/client";
import type { Room } from "../protocol/models";

export const TEST_ADMIN_PASSWORD = "test node operator passphrase";

export interface TestNode {
  node: OutpostNode;
  /** the admin's password (the node created the account from it) */
  adminPassword: string;
  /** the admin's bearer token */
  admin: string;
  /** a new account the admin creates, signed in */
  user(username: string): Promise<TestUser>;
  /** a private (or public) group room that `token`'s owner creates with these members */
  room(token: string, name: string, members?: string[], visibility?: "private" | "public"): Promise<Room>;
  /** stop the node (and remove its data unless kept) */
  stop(): Promise<void>;
}

/** Start a node whose admin account exists, and sign the admin in. */
export async function withNode(options: StartNodeOptions = {}): Promise<TestNode> {
  const adminPassword = options.adminPassword ?? TEST_ADMIN_PASSWORD;
  const node = await startNode({ ...options, adminPassword });
  const admin = await loginAs(node.url, "admin", adminPassword);
  return {
    node,
    adminPassword,
    admin,
    user: (username) => makeUser(node.url, admin, username),
    room: (token, name, members = [], visibility = "private") => makeRoom(node.url, token, name, members, visibility),
    stop: () => node.stop(),
  };
}
