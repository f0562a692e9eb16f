/**
 * The file store of a self-hosted node: a workerd `disk` service (bound as
 * `FILES`, rooted at `<data>/files`), spoken to over HTTP. What it does, as
 * checked on workerd 1.20260426: PUT writes to a `.kj-tmp….partial` file and
 * renames it into place at the end of the body (creating folders); GET and
 * HEAD answer with Content-Length, a `Range` gives 206 with Content-Range (or
 * 416 past the end, and a plain 200 when it covers the whole file) and a body
 * of known length; DELETE answers 204, or 404 when nothing is there; `..` in a
 * path is 404.
 *
 * One thing it does not do: notice that a request body ended in an error. It
 * renames whatever it was given into place and answers 204. So `put` watches
 * the body itself and deletes what was stored when the body did not end
 * cleanly.
 */
import type { ByteRange, FileStore, StoredFile } from "./file-store";

// The host is ignored by a disk service; only the path counts.
const url = (key: string) => `http://files/${key}`;

export function diskFileStore(disk: Fetcher): FileStore {
  const store: FileStore = {
    kind: "disk",

    async put(key, body, length) {
      // A native pass-through (a JavaScript TransformStream here made a 50 MB upload ~50%
      // slower). The pipe settles once `body` has ended and rejects if it errored; a
      // FixedLengthStream also errors the disk's body when `body` is not `length` bytes.
      const { readable, writable } = length !== null ? new FixedLengthStream(length) : new IdentityTransformStream();
      const piped = body.pipeTo(writable);
      piped.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
      try {
        const res = await disk.fetch(url(key), { method: "PUT", body: readable });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`the files disk answered ${res.status} to PUT`);
        await piped;
        // A body that ends short of `length` ends its pipe cleanly: the FixedLengthStream errors
        // instead, and workerd 1.20260426 then fails the PUT ("Network connection lost"). One
        // HEAD on the local disk makes that not depend on the runtime's way of failing.
        if (length !== null && (await store.head(key))?.size !== length) throw new Error(`the body was not its declared ${length} bytes`);
      } catch (err) {
        await readable.cancel(err).catch(() => {});
        await store.delete(key).catch(() => {});
        throw err;
      }
    },

    async get(key, range?: ByteRange): Promise<StoredFile | null> {
      const res = await disk.fetch(url(key), { headers: range ? { Range: `bytes=${range.start}-${range.end}` } : {} });
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (res.status === 416) {
        // `Content-Range: bytes */<size>`: the range starts past the end of the stored file.
        await res.body?.cancel();
        return { size: Number(/\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1] ?? -1), body: null };
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`the files disk answered ${res.status} to GET`);
      }
      const length = Number(res.headers.get("content-length") ?? -1);
      if (!range) return { size: length, body: res.body };
      // A range that covers the whole file is answered 200 with the whole file, which is
      // exactly those bytes (`Range: bytes=0-`, what media players send first).
      if (res.status === 200 && range.start === 0 && range.end === length - 1) return { size: length, body: res.body };
      const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
      if (res.status === 206 && served && Number(served[1]) === range.start && Number(served[2]) === range.end) {
        return { size: Number(served[3]), body: res.body };
      }
      // The disk cut the range short (the file is shorter than asked) or ignored it.
      await res.body?.cancel();
      return { size: served ? Number(served[3]) : length, body: null };
    },

    async head(key) {
      const res = await disk.fetch(url(key), { method: "HEAD" });
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`the files disk answered ${res.status} to HEAD`);
      return { size: Number(res.headers.get("content-length") ?? -1) };
    },

    async delete(key) {
      const res = await disk.fetch(url(key), { method: "DELETE" });
      await res.body?.cancel();
      if (!res.ok && res.status !== 404) throw new Error(`the files disk answered ${res.status} to DELETE`);
    },
  };
  return store;
}
