/**
 * The file-store contract (durable-objects/shared/file-store.ts), run against
 * both stores inside workerd: the node's `disk` service (a real workerd disk
 * service, bound for the tests as TEST_FILES_DISK) and R2 (miniflare's,
 * FILES_BUCKET). The routes rely on exactly these promises: streamed puts of
 * known and unknown length, nothing kept when a body fails, exact ranges with
 * the stored size, idempotent deletes.
 */
import { env } from "cloudflare:test";
import type { TestBindings } from "./cloudflare-env";
import { describe, expect, it } from "vitest";
import { deleteStoredFile, fileStoreOf, type FileStore } from "../../durable-objects/shared/file-store";
import { diskFileStore } from "../../durable-objects/shared/disk-file-store";
import { PART_BYTES, r2FileStore } from "../../durable-objects/shared/r2-file-store";
// The shared seeded test data, under the short name every test in this file (and branches adding tests to it) calls.
import { seededBytes as bytes } from "./seeded-bytes";

const bindings = env as Cloudflare.Env & TestBindings;

/** The Content-Length a fetch sends `body` with: null unless the stream's length is known. */
async function sentLength(body: ReadableStream<Uint8Array> | null): Promise<string | null> {
  const res = await bindings.TEST_BODY_LENGTH.fetch("http://length/", { method: "POST", body });
  return (await res.json<{ contentLength: string | null }>()).contentLength;
}

/** `data` as a stream of `chunk`-byte pieces; `failAfter` bytes in, the stream errors (an aborted upload). */
function streamOf(data: Uint8Array, chunk = 64 * 1024, failAfter?: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (failAfter !== undefined && at >= failAfter) return controller.error(new Error("client went away"));
      if (at >= data.length) return controller.close();
      const end = Math.min(at + chunk, data.length, failAfter ?? Infinity);
      controller.enqueue(data.slice(at, end));
      at = end;
    },
  });
}

async function read(body: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (!body) throw new Error("no body");
  return new Uint8Array(await new Response(body).arrayBuffer());
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

let keyCounter = 0;
const freshKey = (kind: string) => `contract-${kind}/${Date.now().toString(36)}-${keyCounter++}`;

const stores: [string, () => FileStore][] = [
  ["disk (workerd disk service)", () => diskFileStore(bindings.TEST_FILES_DISK)],
  ["R2 (miniflare)", () => r2FileStore(bindings.FILES_BUCKET)],
];

describe.each(stores)("file store: %s", (_name, make) => {
  const store = make();
  const key = () => freshKey(store.kind);

  it("stores a body of known length and gives it back whole, by range, and by head", async () => {
    const k = key();
    const data = bytes(300_000);
    await store.put(k, streamOf(data), data.length);
    expect(await store.head(k)).toEqual({ size: data.length });
    const whole = await store.get(k);
    expect(whole?.size).toBe(data.length);
    expect(equal(await read(whole!.body), data)).toBe(true);
    for (const [start, end] of [[0, 0], [1000, 1999], [data.length - 10, data.length - 1], [0, data.length - 1]]) {
      const part = await store.get(k, { start, end });
      expect(part?.size).toBe(data.length);
      expect(equal(await read(part!.body), data.subarray(start, end + 1))).toBe(true);
    }
    await store.delete(k);
  });

  it("hands out bodies of known length, whole and ranged (so answers carry Content-Length)", async () => {
    const k = key();
    await store.put(k, streamOf(bytes(70_000)), null);
    expect(await sentLength((await store.get(k))!.body)).toBe("70000");
    expect(await sentLength((await store.get(k, { start: 100, end: 1099 }))!.body)).toBe("1000");
    expect(await sentLength((await store.get(k, { start: 0, end: 69_999 }))!.body)).toBe("70000");
    await store.delete(k);
  });

  it("stores bodies of unknown length: empty, under one R2 part, and over several parts", async () => {
    for (const n of [0, 1, 100_000, PART_BYTES, 2 * PART_BYTES + 12_345]) {
      const k = key();
      const data = bytes(n, n + 7);
      await store.put(k, streamOf(data, 100_000), null);
      expect(await store.head(k)).toEqual({ size: n });
      const got = await store.get(k);
      expect(got?.size).toBe(n);
      expect(equal(await read(got!.body), data)).toBe(true);
      if (n > PART_BYTES) {
        // a range that crosses a part boundary
        const r = await store.get(k, { start: PART_BYTES - 5, end: PART_BYTES + 4 });
        expect(equal(await read(r!.body), data.subarray(PART_BYTES - 5, PART_BYTES + 5))).toBe(true);
      }
      await store.delete(k);
    }
  });

  it("replaces what was stored under the key", async () => {
    const k = key();
    await store.put(k, streamOf(bytes(5000, 1)), 5000);
    const second = bytes(3000, 2);
    await store.put(k, streamOf(second), null);
    expect(equal(await read((await store.get(k))!.body), second)).toBe(true);
    await store.delete(k);
  });

  it("keeps nothing of a body that errors half-way, of either length kind", async () => {
    const data = bytes(PART_BYTES + 500_000);
    for (const length of [data.length, null]) {
      const k = key();
      // past one R2 part, so a multipart upload is under way when the body fails
      await expect(store.put(k, streamOf(data, 256 * 1024, PART_BYTES + 100_000), length)).rejects.toThrow();
      expect(await store.head(k)).toBeNull();
      expect(await store.get(k)).toBeNull();
    }
  });

  it("refuses a body shorter or longer than its declared length, keeping nothing", async () => {
    for (const [actual, declared] of [[1000, 2000], [2000, 1000]]) {
      const k = key();
      await expect(store.put(k, streamOf(bytes(actual)), declared)).rejects.toThrow();
      expect(await store.head(k)).toBeNull();
    }
  });

  it("says when a range is not inside the stored file (its size no longer matches), serving nothing", async () => {
    const k = key();
    await store.put(k, streamOf(bytes(100)), 100);
    expect(await store.get(k, { start: 90, end: 109 })).toEqual({ size: 100, body: null });
    expect(await store.get(k, { start: 150, end: 199 })).toEqual({ size: 100, body: null });
    await store.delete(k);
  });

  it("answers null for a missing key, and deletes idempotently", async () => {
    const k = key();
    expect(await store.head(k)).toBeNull();
    expect(await store.get(k)).toBeNull();
    expect(await store.get(k, { start: 0, end: 9 })).toBeNull();
    await store.delete(k); // never stored
    await store.put(k, streamOf(bytes(10)), 10);
    await store.delete(k);
    await store.delete(k); // already gone
    expect(await store.head(k)).toBeNull();
  });
});

describe("choosing the store", () => {
  it("takes the node's disk when FILES is bound, else R2, else none", () => {
    const disk = bindings.TEST_FILES_DISK;
    const bucket = bindings.FILES_BUCKET;
    expect(fileStoreOf({ FILES: disk, FILES_BUCKET: bucket })?.kind).toBe("disk");
    expect(fileStoreOf({ FILES: disk })?.kind).toBe("disk");
    expect(fileStoreOf({ FILES_BUCKET: bucket })?.kind).toBe("r2");
    expect(fileStoreOf({})).toBeNull();
  });

  it("under wrangler (these tests, wrangler dev, a Cloudflare deploy) the Worker's env gives R2", () => {
    expect(bindings.FILES).toBeUndefined();
    expect(fileStoreOf(bindings)?.kind).toBe("r2");
  });

  it("deleteStoredFile deletes from whichever store is bound, and is a no-op with none", async () => {
    for (const env of [{ FILES: bindings.TEST_FILES_DISK }, { FILES_BUCKET: bindings.FILES_BUCKET }]) {
      const store = fileStoreOf(env)!;
      const k = freshKey(store.kind);
      await store.put(k, streamOf(bytes(10)), 10);
      await deleteStoredFile(env, k);
      expect(await store.head(k)).toBeNull();
      await deleteStoredFile(env, k);
    }
    await deleteStoredFile({}, "anything/at-all");
  });
});
