/**
 * A small ZIP reader for tests (independent of worker/export/zip-writer.ts):
 * the central directory from the end record (ZIP64 records too), each entry
 * by its local header, stored or deflated (Node's zlib). Whole archive in
 * memory: test archives only.
 */
import { inflateRawSync } from "node:zlib";
import { crc32 } from "node:zlib";

export interface ZipEntryRead {
  name: string;
  method: number;
  crc: number;
  data: Buffer;
}

export function readZip(zip: Buffer): Map<string, ZipEntryRead> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("zip: no end of central directory record");
  let count = zip.readUInt16LE(eocd + 10);
  let cdOffset = zip.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    const locator = eocd - 20;
    if (zip.readUInt32LE(locator) !== 0x07064b50) throw new Error("zip: ZIP64 locator missing");
    const rec = Number(zip.readBigUInt64LE(locator + 8));
    count = Number(zip.readBigUInt64LE(rec + 32));
    cdOffset = Number(zip.readBigUInt64LE(rec + 48));
  }
  const out = new Map<string, ZipEntryRead>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`zip: bad central header at ${p}`);
    const flags = zip.readUInt16LE(p + 8);
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    let compressed = zip.readUInt32LE(p + 20);
    let size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    let offset = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString(flags & 0x800 ? "utf8" : "latin1");
    // ZIP64 extra: the fields that overflowed, in order.
    const extra = zip.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(e);
      const len = extra.readUInt16LE(e + 2);
      if (id === 1) {
        let q = e + 4;
        if (size === 0xffffffff) (size = Number(extra.readBigUInt64LE(q))), (q += 8);
        if (compressed === 0xffffffff) (compressed = Number(extra.readBigUInt64LE(q))), (q += 8);
        if (offset === 0xffffffff) offset = Number(extra.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    if (zip.readUInt32LE(offset) !== 0x04034b50) throw new Error(`zip: bad local header for ${name}`);
    const dataAt = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const raw = zip.subarray(dataAt, dataAt + compressed);
    const data = method === 8 ? inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : null;
    if (!data) throw new Error(`zip: ${name}: method ${method}`);
    if (data.length !== size) throw new Error(`zip: ${name}: ${data.length} bytes, central directory says ${size}`);
    if (crc32(data) >>> 0 !== crc) throw new Error(`zip: ${name}: CRC-32 mismatch`);
    out.set(name, { name, method, crc, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** RFC 4180: fields separated by commas, quoted fields may hold commas, CR, LF and doubled quotes; rows end in CRLF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (ch === '"') (quoted = false), i++;
      else (field += ch), i++;
      continue;
    }
    if (ch === '"' && field === "") (quoted = true), i++;
    else if (ch === ",") row.push(field), (field = ""), i++;
    else if (ch === "\r" && text[i + 1] === "\n") row.push(field), rows.push(row), (row = []), (field = ""), (i += 2);
    else if (ch === "\r" || ch === "\n") throw new Error(`csv: a bare line break outside quotes at ${i}`);
    else (field += ch), i++;
  }
  if (field !== "" || row.length) throw new Error("csv: the last row does not end in CRLF");
  return rows;
}
