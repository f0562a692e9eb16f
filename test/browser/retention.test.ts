/**
 * The retention marker in real Chromium: a room whose old messages the policy
 * removed says so at the top of its history ("Messages before … were removed
 * by the retention policy") instead of "the beginning of the conversation",
 * and its settings show the policy in force. Messages are aged on disk with
 * the node stopped (see test/e2e/retention.test.ts for why).
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginAs, startNode, type OutpostNode } from "../harness";
import { createUser, openBrowser, rest, signIn, type UserBrowser } from "./browser";

const PW = "operator-passphrase-123";
let node: OutpostNode;
let user: UserBrowser;
let roomId = "";

beforeAll(async () => {
  node = await startNode({ adminPassword: PW, keepData: true });
  const admin = await loginAs(node.url, "admin", PW);
  await createUser(node.url, admin, { username: "rita", password: "tea at the old bridge", displayName: "Rita" });
  const token = await loginAs(node.url, "rita", "tea at the old bridge");
  roomId = (await rest(node.url, token, "POST", "/rooms", { name: "Archive", visibility: "private", members: [] })).id;
  for (const text of ["an old message", "another old one"]) await rest(node.url, token, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text, clientId: text.replace(/ /g, "-") });
  await node.stop();
  for (const f of (fs.readdirSync(node.dataDir, { recursive: true }) as string[]).filter((f) => f.endsWith(".sqlite"))) {
    const db = new Database(path.join(node.dataDir, f));
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages'").get()) db.prepare("UPDATE messages SET created_at = created_at - ?").run(3 * 86_400_000);
    db.close();
  }
  await node.restart();
  const admin2 = await loginAs(node.url, "admin", PW);
  await rest(node.url, admin2, "PUT", `/admin/rooms/${encodeURIComponent(roomId)}/retention`, { days: 1 });
  const token2 = await loginAs(node.url, "rita", "tea at the old bridge");
  for (const end = Date.now() + 20_000; (await rest(node.url, token2, "GET", `/rooms/${encodeURIComponent(roomId)}/messages`)).messages.length > 0; ) {
    if (Date.now() > end) throw new Error("the purge did not happen");
    await new Promise((r) => setTimeout(r, 100));
  }
  await rest(node.url, token2, "POST", `/rooms/${encodeURIComponent(roomId)}/messages`, { text: "a new message", clientId: "new-1" });
}, 120_000);

afterAll(async () => {
  await user?.close();
  await node?.stop();
  if (node) fs.rmSync(node.dataDir, { recursive: true, force: true });
});

describe("retention marker", () => {
  it("the top of history says what the policy removed, and the settings show the policy", async () => {
    user = await openBrowser(node.url);
    await signIn(user.page, "rita", "tea at the old bridge");
    await user.page.locator(`button.room[data-room-id="${roomId}"]`).click();
    await user.page.getByTestId("message-list").getByText("a new message").waitFor({ timeout: 10_000 });
    const top = user.page.getByTestId("history-top");
    await expect.poll(() => top.textContent(), { timeout: 10_000 }).toMatch(/^Messages before .+ were removed by the retention policy\.$/);
    await user.page.getByTestId("open-room-settings").click();
    await expect.poll(() => user.page.getByTestId("room-retention").textContent(), { timeout: 10_000 }).toBe("Message retention: Messages older than one day are removed.");
  }, 60_000);
});
