import { describe, expect, it } from "vitest";
import { OutpostApiError } from "../../sdk/errors";
import { PermanentSendError, SendQueue, type QueuedMessage, type StorageLike } from "../../sdk/send-queue";

const fast = { baseMs: 2, maxMs: 10 };

/** A node that dedupes by clientId, as the real one does, and records what it stored. */
function fakeNode() {
  const stored: QueuedMessage[] = [];
  const seen = new Map<string, number>();
  return {
    stored,
    attempts: 0,
    deliver(m: QueuedMessage) {
      if (!seen.has(m.clientId)) {
        stored.push(m);
        seen.set(m.clientId, stored.length);
      }
      return { id: "m_" + m.clientId, seq: seen.get(m.clientId)! };
    },
  };
}

function memoryStorage(): StorageLike & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe("SendQueue", () => {
  it("delivers every message once, in order, across failures and lost acks", async () => {
    const node = fakeNode();
    let n = 0;
    const queue = new SendQueue({
      storage: null,
      backoff: fast,
      transport: async (m) => {
        n++;
        if (n % 3 === 0) throw new Error("network down"); // never reached the node
        const ack = node.deliver(m);
        if (n % 4 === 0) throw new Error("connection lost before the ack"); // stored, ack lost
        return ack;
      },
    });
    const dones = Array.from({ length: 20 }, (_, i) => queue.enqueue("r1", `msg ${i}`).done);
    const acks = await Promise.all(dones);
    expect(node.stored.map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `msg ${i}`));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(queue.pending()).toEqual([]);
  });

  it("keeps the clientId on every retry", async () => {
    const ids: string[] = [];
    let fail = 3;
    const queue = new SendQueue({
      storage: null,
      backoff: fast,
      transport: async (m) => {
        ids.push(m.clientId);
        if (fail-- > 0) throw new OutpostApiError(0, "network", "down");
        return { id: "m_x", seq: 1 };
      },
    });
    await queue.enqueue("r1", "hi").done;
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(1);
  });

  it("drops a message the node refuses for good and goes on with the next", async () => {
    const sent: string[] = [];
    const queue = new SendQueue({
      storage: null,
      backoff: fast,
      transport: async (m) => {
        if (m.text === "bad") throw new PermanentSendError("too_large", "too long");
        sent.push(m.text);
        return { id: "m_" + m.text, seq: sent.length };
      },
    });
    const a = queue.enqueue("r1", "one").done;
    const b = queue.enqueue("r1", "bad").done;
    const c = queue.enqueue("r1", "two").done;
    await a;
    await expect(b).rejects.toThrow("too long");
    await c;
    expect(sent).toEqual(["one", "two"]);
  });

  it("persists pending messages and sends them after a reload, with the same clientIds", async () => {
    const storage = memoryStorage();
    const first = new SendQueue({ storage, backoff: { baseMs: 60_000, maxMs: 60_000 }, transport: async () => Promise.reject(new Error("offline")) });
    first.enqueue("r1", "a");
    first.enqueue("r2", "b");
    const queued = first.pending().map((m) => m.clientId);
    expect(JSON.parse(storage.data.get("outpost.sendQueue.v1")!)).toHaveLength(2);

    const delivered: string[] = [];
    const second = new SendQueue({ storage, backoff: fast, transport: async (m) => (delivered.push(m.clientId), { id: "m", seq: 1 }) });
    expect(second.pending().map((m) => m.text)).toEqual(["a", "b"]);
    await second.drained();
    expect(delivered).toEqual(queued);
    expect(JSON.parse(storage.data.get("outpost.sendQueue.v1")!)).toEqual([]);
  });

  it("a rate-limited send (REST 429 with retryAfterMs) waits as told and goes again: same clientId, never dropped, never overtaken", async () => {
    const node = fakeNode();
    const tries: QueuedMessage[] = [];
    let refused = 0;
    const queue = new SendQueue({
      storage: null,
      // A backoff this long would stall the test: only the node's retryAfterMs can be what it waits.
      backoff: { baseMs: 60_000, maxMs: 60_000 },
      transport: async (m) => {
        tries.push(m);
        // The node's budget lets every other attempt through.
        if (tries.length % 2 === 1) {
          refused++;
          throw new OutpostApiError(429, "rate_limited", "sending too fast", 25);
        }
        return node.deliver(m);
      },
    });
    const started = Date.now();
    const dones = Array.from({ length: 5 }, (_, i) => queue.enqueue("r1", `m${i}`).done);
    const acks = await Promise.all(dones);
    expect(Date.now() - started).toBeGreaterThanOrEqual(refused * 25 - 5);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(refused).toBe(5);
    expect(node.stored.map((m) => m.text)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    // Each message twice in a row (refused, then stored), in the order written, with its one clientId.
    const ids = node.stored.map((m) => m.clientId);
    expect(tries.map((m) => m.clientId)).toEqual(ids.flatMap((id) => [id, id]));
    expect(queue.pending()).toEqual([]);
  });

  it("kick() retries at once instead of waiting out the backoff", async () => {
    let online = false;
    const queue = new SendQueue({ storage: null, backoff: { baseMs: 60_000, maxMs: 60_000 }, transport: async () => (online ? { id: "m", seq: 1 } : Promise.reject(new Error("offline"))) });
    const { done } = queue.enqueue("r1", "x");
    await new Promise((r) => setTimeout(r, 20));
    online = true;
    queue.kick();
    await expect(Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error("still waiting")), 1000))])).resolves.toEqual({ id: "m", seq: 1 });
  });
});
