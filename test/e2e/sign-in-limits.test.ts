/**
 * The node-wide sign-in budget and the cost of a password hash are node limits
 * (`signInsPerSecond`, `signInBurst`, `passwordHashIterations`; defaults 5, 15 and
 * 600,000). A tight budget refuses a burst of sign-ins at once with 429; the
 * generous one test nodes get lets every sign-in through without pacing; and a
 * password hash keeps verifying after the node's hash cost changed, because each
 * hash records the count it was made with.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { TEST_NODE_LIMITS } from "../harness";
import { withNode } from "../fixtures";
import { objectIdFromName } from "../../ops/object-ids.mjs";
import { uniqueKeyFor } from "../../ops/node-config.mjs";

/** One sign-in straight through fetch (no helper that would hide a 429). */
async function signIn(url: string, username: string, password: string) {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as { token?: string; error?: { code: string } };
  return { status: res.status, retryAfter: res.headers.get("retry-after"), code: body.error?.code };
}

/** Every account's stored hash, read from the directory's SQLite file (the node stopped). */
function storedHashes(dataDir: string): Map<string, string> {
  const file = path.join(dataDir, "objects", uniqueKeyFor("DirectoryObject"), `${objectIdFromName(uniqueKeyFor("DirectoryObject"), "directory")}.sqlite`);
  const db = new Database(file);
  try {
    const rows = db.prepare("SELECT username, password_hash AS hash FROM users").all() as { username: string; hash: string }[];
    return new Map(rows.map((r) => [r.username, r.hash]));
  } finally {
    db.close();
  }
}

describe("the sign-in budget is a node limit", () => {
  it("a node with signInBurst 3 and signInsPerSecond 1 refuses the rest of a burst with 429 rate_limited, Retry-After 1", async () => {
    const t = await withNode({ limits: { signInBurst: 3, signInsPerSecond: 1 } });
    try {
      // The fixture's own sign-in spent one; six more right after it.
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await signIn(t.node.url, "admin", t.adminPassword));
      const passed = answers.filter((a) => a.status === 200).length;
      const refused = answers.filter((a) => a.status === 429);
      expect(passed).toBeLessThanOrEqual(3);
      expect(passed + refused.length).toBe(6);
      expect(refused.length).toBeGreaterThanOrEqual(3);
      for (const a of refused) expect(a).toMatchObject({ code: "rate_limited", retryAfter: "1" });
    } finally {
      await t.stop();
    }
  }, 60_000);

  it("a test node (TEST_NODE_LIMITS) takes 40 sign-ins in a row, none paced, none refused", async () => {
    expect(TEST_NODE_LIMITS.signInBurst).toBeGreaterThanOrEqual(40);
    const t = await withNode();
    try {
      const statuses = [];
      for (let i = 0; i < 40; i++) statuses.push((await signIn(t.node.url, "admin", t.adminPassword)).status);
      expect(statuses).toEqual(statuses.map(() => 200));
    } finally {
      await t.stop();
    }
  }, 60_000);
});

describe("the password-hash cost is a node limit", () => {
  it("hashes are made at passwordHashIterations; one made at another count still verifies after the limit changed", async () => {
    const first = await withNode({ keepData: true, limits: { passwordHashIterations: 2000 } });
    const dataDir = first.node.dataDir;
    try {
      const alice = await first.user("alice");
      await first.stop();
      // The same data, now with a different count for new hashes.
      const second = await withNode({ dataDir, limits: { passwordHashIterations: 3000 } });
      try {
        expect((await signIn(second.node.url, "alice", alice.password)).status).toBe(200);
        await second.user("bob");
      } finally {
        await second.stop();
      }
      const hashes = storedHashes(dataDir);
      expect(hashes.get("admin")).toMatch(/^pbkdf2\$2000\$/); // made when the node first started
      expect(hashes.get("alice")).toMatch(/^pbkdf2\$2000\$/);
      expect(hashes.get("bob")).toMatch(/^pbkdf2\$3000\$/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
