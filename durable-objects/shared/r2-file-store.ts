/**
 * The file store of a deployment on Cloudflare's network: an R2 bucket bound
 * as `FILES_BUCKET` (wrangler.toml; `wrangler dev` and the workerd tests get
 * miniflare's simulation of it).
 *
 * R2's `put` takes a stream only when its length is known ("Provided readable
 * stream must have a known length"). A raw upload declares its length, so its
 * bytes stream through a `FixedLengthStream` in one put. A form's file part or
 * a chunked body does not: those go up as a multipart upload, in parts of
 * `PART_BYTES` (R2 wants parts of at least 5 MiB, all but the last of the same
 * size), so a Worker holds one part in memory per upload, never the file; a
 * file smaller than one part is a single put. Either way a body that errors
 * leaves nothing: an R2 put is all or nothing, and a multipart upload is
 * aborted.
 */
import type { ByteRange, FileStore, StoredFile } from "./file-store";

/** Size of every part but the last of a multipart upload (R2's minimum; 20 parts for a 100 MiB file). */
export const PART_BYTES = 5 * 1024 * 1024;

export function r2FileStore(bucket: R2Bucket): FileStore {
  return {
    kind: "r2",

    async put(key, body, length) {
      if (length === null) return putInParts(bucket, key, body);
      const fixed = new FixedLengthStream(length);
      // Both settle before this returns, so no write is still in flight when a caller
      // that saw the failure deletes the key.
      const [piped, stored] = await Promise.allSettled([body.pipeTo(fixed.writable), bucket.put(key, fixed.readable)]);
      if (piped.status === "rejected") throw piped.reason;
      if (stored.status === "rejected") throw stored.reason;
    },

    async get(key, range?: ByteRange): Promise<StoredFile | null> {
      if (!range) {
        const object = await bucket.get(key);
        return object && { size: object.size, body: object.body };
      }
      let object: R2ObjectBody | null;
      try {
        object = await bucket.get(key, { range: { offset: range.start, length: range.end - range.start + 1 } });
      } catch (err) {
        // R2 refuses a range that starts past the end ("not satisfiable").
        const head = await bucket.head(key);
        if (!head) return null;
        if (range.end >= head.size) return { size: head.size, body: null };
        throw err;
      }
      if (!object) return null;
      if (range.end >= object.size) {
        // R2 cut the range at the end of a shorter file: not the bytes that were asked for.
        await object.body.cancel();
        return { size: object.size, body: null };
      }
      return { size: object.size, body: object.body };
    },

    async head(key) {
      const object = await bucket.head(key);
      return object && { size: object.size };
    },

    async delete(key) {
      await bucket.delete(key); // R2 answers a delete of nothing with success
    },
  };
}

/** Store a body of unknown length: one put if it fits in a part, else a multipart upload. */
async function putInParts(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  let upload: R2MultipartUpload | null = null;
  const parts: R2UploadedPart[] = [];
  let part = new Uint8Array(PART_BYTES);
  let filled = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let at = 0; at < value.byteLength; ) {
        const n = Math.min(PART_BYTES - filled, value.byteLength - at);
        part.set(value.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === PART_BYTES) {
          upload ??= await bucket.createMultipartUpload(key);
          parts.push(await upload.uploadPart(parts.length + 1, part));
          part = new Uint8Array(PART_BYTES);
          filled = 0;
        }
      }
    }
    if (!upload) {
      await bucket.put(key, part.subarray(0, filled));
      return;
    }
    if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
    await upload.complete(parts);
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    await upload?.abort().catch(() => {});
    throw err;
  }
}
