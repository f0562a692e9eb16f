/**
 * The link's send queue keeps each send once by its idempotency key, so the
 * mirror may hand a send over again whenever it has no answer for it
 * (mirror/mirror-sends.ts `submit`; the crash it covers:
 * test/cluster/send-crash.test.ts). A queue written before the key column
 * existed is keyed on the next wake.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SendQueue } from "../../durable-objects/link/send-queue";
import type { LinkSendItem } from "../../protocol/cluster";

const item = (clientId: string, text = "hello"): LinkSendItem => ({ roomId: "r_0000000000000000@elsewhere", userId: "u_0000000000000000@here", sessionId: "s1", clientId, text });
const linkObject = (name: string) => env.LINKS.get(env.LINKS.idFromName(name));

describe("the link's send queue", () => {
  it("queues a send once by its key, and again only after it left the queue", async () => {
    await runInDurableObject(linkObject("send-queue-once"), (_i, state) => {
      const queue = new SendQueue(state.storage.sql);
      expect(queue.push([item("a")], 1)).toBe(1);
      expect(queue.push([item("a", "the same send repeated")], 2)).toBe(0);
      expect(queue.push([item("b"), item("a")], 3)).toBe(1);
      expect(queue.head().map((q) => [q.item.clientId, q.item.text])).toEqual([["a", "hello"], ["b", "hello"]]);
      // Delivered (the home answered): a repeat queues it again, and the home answers it as a duplicate.
      queue.drop(queue.head(1).map((q) => q.id));
      expect(queue.push([item("a")], 4)).toBe(1);
      expect(queue.head().map((q) => q.item.clientId)).toEqual(["b", "a"]);
    });
  });

  it("keys the sends of a queue written before the key column existed", async () => {
    await runInDurableObject(linkObject("send-queue-upgrade"), (_i, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE IF EXISTS send_queue");
      sql.exec("CREATE TABLE send_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL, item TEXT NOT NULL, enqueued_at INTEGER NOT NULL)");
      sql.exec("INSERT INTO send_queue (room_id, item, enqueued_at) VALUES (?, ?, 1)", item("old").roomId, JSON.stringify(item("old")));
      const queue = new SendQueue(sql);
      expect(queue.push([item("old")], 2)).toBe(0);
      expect(queue.push([item("new")], 3)).toBe(1);
      expect(queue.head().map((q) => q.item.clientId)).toEqual(["old", "new"]);
    });
  });
});
