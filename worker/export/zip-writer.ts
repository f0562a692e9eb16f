/**
 * A streaming ZIP writer (APPNOTE 6.3): entries are written as their bytes
 * arrive, each followed by a data descriptor (general-purpose flag bit 3), so
 * nothing needs to be known or held before an entry starts; only the central
 * directory (a few dozen bytes per entry) is kept until the end.
 *
 * - Names are UTF-8 (flag bit 11), so Chinese file names survive.
 * - Text entries (JSON Lines, CSV) are deflated through the runtime's
 *   `CompressionStream("deflate-raw")`; files are stored as they are (most
 *   uploads — images, PDFs, office files — are compressed already, and storing
 *   keeps the export at disk speed).
 * - ZIP64: the archive's offsets may pass 4 GiB (a room's files), so the
 *   central directory gets ZIP64 extra fields and a ZIP64 end record when an
 *   offset, size or the entry count needs them. An entry itself may pass 4 GiB
 *   only when its caller says so up front (`zip64: true`, for a file whose size
 *   the room recorded): its local header then carries a ZIP64 extra field and
 *   its descriptor 8-byte sizes, as the format requires. A text entry is not
 *   expected to (4 GiB of JSON is ~10 million messages); if one does, the
 *   writer throws and the archive is left without its central directory, i.e.
 *   unreadable rather than silently wrong.
 * - Every entry's SHA-256 and size (of the uncompressed bytes) are returned
 *   for the manifest, computed as the bytes pass (workerd's DigestStream).
 *
 * @example
 *   const zip = new ZipWriter((chunk) => writer.write(chunk));
 *   const entry = zip.entry("messages.jsonl", { deflate: true });
 *   await entry.write(bytes);
 *   const { size, sha256 } = await entry.end();
 *   await zip.finish();
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE) continued from `crc` over `bytes` (start with 0). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const U32 = 0xffffffff;
/** Entries are written in chunks of about this size (fewer, larger writes downstream). */
const CHUNK = 64 * 1024;

interface Written {
  name: Uint8Array;
  method: 0 | 8;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  zip64: boolean;
}

export interface ZipEntry {
  /** Append bytes (buffered into ~64 KB chunks). */
  write(bytes: Uint8Array): Promise<void>;
  /** Close the entry: its size and SHA-256 (hex) of the uncompressed bytes. */
  end(): Promise<{ size: number; sha256: string }>;
}

export class ZipWriter {
  private offset = 0;
  private readonly written: Written[] = [];
  private open = false;
  private readonly dosTime: number;
  private readonly dosDate: number;

  /** `out` receives the archive's bytes in order; its promise is the backpressure. */
  constructor(
    private readonly out: (chunk: Uint8Array) => Promise<void>,
    now = new Date(),
  ) {
    // DOS time is local time with no zone; UTC is what this node's logs use too.
    this.dosTime = (now.getUTCHours() << 11) | (now.getUTCMinutes() << 5) | (now.getUTCSeconds() >> 1);
    this.dosDate = ((Math.max(1980, now.getUTCFullYear()) - 1980) << 9) | ((now.getUTCMonth() + 1) << 5) | now.getUTCDate();
  }

  /** The number of archive bytes emitted so far. */
  get bytesWritten(): number {
    return this.offset;
  }

  private async emit(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.offset += chunk.byteLength;
    await this.out(chunk);
  }

  entry(path: string, options: { deflate: boolean; zip64?: boolean }): ZipEntry {
    if (this.open) throw new Error("zip: the previous entry is still open");
    this.open = true;
    const name = new TextEncoder().encode(path);
    const method: 0 | 8 = options.deflate ? 8 : 0;
    const zip64 = options.zip64 === true;
    const record: Written = { name, method, crc: 0, compressed: 0, size: 0, offset: this.offset, zip64 };
    const digest = new crypto.DigestStream("SHA-256");
    const digestWriter = digest.getWriter();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let started: Promise<void> | null = null;
    let compressor: WritableStreamDefaultWriter<Uint8Array> | null = null;
    let pump: Promise<void> | null = null;

    const start = async () => {
      await this.emit(localHeader(name, method, this.dosTime, this.dosDate, zip64));
      if (method === 8) {
        const cs = new CompressionStream("deflate-raw");
        compressor = cs.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
        const reader = (cs.readable as ReadableStream<Uint8Array>).getReader();
        pump = (async () => {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            record.compressed += value.byteLength;
            await this.emit(value);
          }
        })();
      }
    };

    const flush = async () => {
      if (pendingBytes === 0) return;
      const chunk = pending.length === 1 ? pending[0] : concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      record.crc = crc32(chunk, record.crc);
      record.size += chunk.byteLength;
      if (!zip64 && record.size >= U32) throw new Error(`zip: entry ${path} passed 4 GiB`);
      await digestWriter.write(chunk);
      if (compressor) {
        await compressor.write(chunk);
      } else {
        record.compressed += chunk.byteLength;
        await this.emit(chunk);
      }
    };

    return {
      write: async (bytes: Uint8Array) => {
        if (!started) started = start();
        await started;
        pending.push(bytes);
        pendingBytes += bytes.byteLength;
        if (pendingBytes >= CHUNK) await flush();
      },
      end: async () => {
        if (!started) started = start();
        await started;
        await flush();
        if (compressor) {
          await (compressor as WritableStreamDefaultWriter<Uint8Array>).close();
          await pump;
        }
        await digestWriter.close();
        const sha256 = hex(new Uint8Array(await digest.digest));
        if (!zip64 && record.compressed >= U32) throw new Error(`zip: entry ${path} passed 4 GiB`);
        await this.emit(dataDescriptor(record));
        this.written.push(record);
        this.open = false;
        return { size: record.size, sha256 };
      },
    };
  }

  /** A whole entry from bytes in memory. */
  async add(path: string, bytes: Uint8Array, options: { deflate: boolean }): Promise<{ size: number; sha256: string }> {
    const e = this.entry(path, options);
    await e.write(bytes);
    return e.end();
  }

  /** The central directory and the end records. The archive is complete (and readable) only after this. */
  async finish(): Promise<void> {
    if (this.open) throw new Error("zip: an entry is still open");
    const cdStart = this.offset;
    for (const w of this.written) await this.emit(centralEntry(w, this.dosTime, this.dosDate));
    const cdSize = this.offset - cdStart;
    const count = this.written.length;
    if (count >= 0xffff || cdStart >= U32 || cdSize >= U32) {
      const eocd64At = this.offset;
      const z = new Bytes(56 + 20);
      // ZIP64 end of central directory record
      z.u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(count).u64(count).u64(cdSize).u64(cdStart);
      // ZIP64 end of central directory locator
      z.u32(0x07064b50).u32(0).u64(eocd64At).u32(1);
      await this.emit(z.bytes);
    }
    const e = new Bytes(22);
    e.u32(0x06054b50).u16(0).u16(0).u16(Math.min(count, 0xffff)).u16(Math.min(count, 0xffff)).u32(Math.min(cdSize, U32)).u32(Math.min(cdStart, U32)).u16(0);
    await this.emit(e.bytes);
  }
}

/** Flags: bit 3 (sizes in a data descriptor after the data), bit 11 (UTF-8 names). */
const FLAGS = 0x0808;

function localHeader(name: Uint8Array, method: number, time: number, date: number, zip64: boolean): Uint8Array {
  const extra = zip64 ? 20 : 0;
  const b = new Bytes(30 + name.length + extra);
  b.u32(0x04034b50).u16(zip64 ? 45 : 20).u16(FLAGS).u16(method).u16(time).u16(date).u32(0);
  if (zip64) b.u32(U32).u32(U32);
  else b.u32(0).u32(0);
  b.u16(name.length).u16(extra).raw(name);
  // ZIP64 extra with zero sizes: the real ones are in the data descriptor (8 bytes each there).
  if (zip64) b.u16(0x0001).u16(16).u64(0).u64(0);
  return b.bytes;
}

function dataDescriptor(w: Written): Uint8Array {
  const b = new Bytes(w.zip64 ? 24 : 16);
  b.u32(0x08074b50).u32(w.crc);
  if (w.zip64) b.u64(w.compressed).u64(w.size);
  else b.u32(w.compressed).u32(w.size);
  return b.bytes;
}

function centralEntry(w: Written, time: number, date: number): Uint8Array {
  // In the ZIP64 extra field, only the values that overflow appear, in this order.
  const big: number[] = [];
  if (w.size >= U32 || w.zip64) big.push(w.size);
  if (w.compressed >= U32 || w.zip64) big.push(w.compressed);
  if (w.offset >= U32) big.push(w.offset);
  const extra = big.length ? 4 + 8 * big.length : 0;
  const b = new Bytes(46 + w.name.length + extra);
  b.u32(0x02014b50)
    .u16((3 << 8) | 45) // made by: Unix, 4.5
    .u16(big.length ? 45 : 20)
    .u16(FLAGS)
    .u16(w.method)
    .u16(time)
    .u16(date)
    .u32(w.crc)
    .u32(w.compressed >= U32 || w.zip64 ? U32 : w.compressed)
    .u32(w.size >= U32 || w.zip64 ? U32 : w.size)
    .u16(w.name.length)
    .u16(extra)
    .u16(0) // comment
    .u16(0) // disk
    .u16(0) // internal attributes
    .u32((0o100644 << 16) >>> 0) // external: a regular file, rw-r--r--
    .u32(w.offset >= U32 ? U32 : w.offset)
    .raw(w.name);
  if (big.length) {
    b.u16(0x0001).u16(8 * big.length);
    for (const v of big) b.u64(v);
  }
  return b.bytes;
}

/** Little-endian bytes, written in order. */
class Bytes {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u16(v: number): this {
    this.view.setUint16(this.at, v, true);
    this.at += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
    return this;
  }
  u64(v: number): this {
    this.view.setBigUint64(this.at, BigInt(v), true);
    this.at += 8;
    return this;
  }
  raw(v: Uint8Array): this {
    this.bytes.set(v, this.at);
    this.at += v.length;
    return this;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
