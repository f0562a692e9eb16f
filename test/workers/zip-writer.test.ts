/**
 * The export's streaming ZIP writer (worker/export/zip-writer.ts) inside
 * workerd, with the runtime's own CompressionStream and DigestStream: stored
 * and deflated entries with UTF-8 names, a ZIP64 entry (8-byte descriptor),
 * more than 65,535 entries (ZIP64 end records), each read back by a reader
 * written here from the format (not the writer's code) and checked for size,
 * CRC-32 and SHA-256.
 */
import { describe, expect, it } from "vitest";
import { ZipWriter, crc32, hex } from "../../worker/export/zip-writer";

async function build(fill: (zip: ZipWriter) => Promise<void>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const zip = new ZipWriter(async (c) => void parts.push(c.slice()));
  await fill(zip);
  await zip.finish();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Entries by name, from the central directory (ZIP64 end records and extra fields understood). */
async function read(zip: Uint8Array): Promise<Map<string, { data: Uint8Array; zip64: boolean; method: number }>> {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = zip.length - 22;
  while (eocd >= 0 && v.getUint32(eocd, true) !== 0x06054b50) eocd--;
  let count = v.getUint16(eocd + 10, true);
  let cd = v.getUint32(eocd + 16, true);
  if (count === 0xffff || cd === 0xffffffff) {
    expect(v.getUint32(eocd - 20, true)).toBe(0x07064b50);
    const rec = Number(v.getBigUint64(eocd - 12, true));
    expect(v.getUint32(rec, true)).toBe(0x06064b50);
    count = Number(v.getBigUint64(rec + 32, true));
    cd = Number(v.getBigUint64(rec + 48, true));
  }
  const out = new Map<string, { data: Uint8Array; zip64: boolean; method: number }>();
  for (let i = 0, p = cd; i < count; i++) {
    expect(v.getUint32(p, true)).toBe(0x02014b50);
    expect(v.getUint16(p + 8, true) & 0x0808).toBe(0x0808); // data descriptor, UTF-8 name
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let compressed = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const offset = v.getUint32(p + 42, true);
    const name = new TextDecoder().decode(zip.subarray(p + 46, p + 46 + nameLen));
    let zip64 = false;
    if (extraLen && v.getUint16(p + 46 + nameLen, true) === 1) {
      zip64 = true;
      let q = p + 46 + nameLen + 4;
      if (size === 0xffffffff) (size = Number(v.getBigUint64(q, true))), (q += 8);
      if (compressed === 0xffffffff) compressed = Number(v.getBigUint64(q, true));
    }
    const local = offset;
    expect(v.getUint32(local, true)).toBe(0x04034b50);
    const dataAt = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    const raw = zip.subarray(dataAt, dataAt + compressed);
    // The data descriptor after the data: 8-byte sizes for a ZIP64 entry, 4-byte otherwise.
    const d = dataAt + compressed;
    expect(v.getUint32(d, true)).toBe(0x08074b50);
    expect(v.getUint32(d + 4, true)).toBe(crc);
    expect(zip64 ? Number(v.getBigUint64(d + 16, true)) : v.getUint32(d + 12, true)).toBe(size);
    const data = method === 8 ? await inflateRaw(raw) : raw;
    expect(data.length, name).toBe(size);
    expect(crc32(data), name).toBe(crc);
    out.set(name, { data, zip64, method });
    p += 46 + nameLen + extraLen + v.getUint16(p + 32, true);
  }
  return out;
}

const sha256 = async (b: Uint8Array) => hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b)));

describe("zip writer", () => {
  it("writes stored, deflated and ZIP64 entries that read back with their CRC-32 and SHA-256", async () => {
    const text = new TextEncoder().encode('{"text":"季度报表 quarterly report"}\n'.repeat(5000));
    const binary = new Uint8Array(65_536 * 3 + 17);
    for (let i = 0; i < binary.length; i += 65_536) crypto.getRandomValues(binary.subarray(i, i + 65_536));
    const sums: Record<string, { size: number; sha256: string }> = {};
    const zip = await build(async (z) => {
      sums["messages.jsonl"] = await z.add("messages.jsonl", text, { deflate: true });
      const e = z.entry("files/f_1/报告 (final).bin", { deflate: false });
      for (let i = 0; i < binary.length; i += 10_000) await e.write(binary.subarray(i, i + 10_000));
      sums.file = await e.end();
      const big = z.entry("files/f_2/large.bin", { deflate: false, zip64: true });
      await big.write(binary);
      sums.big = await big.end();
      sums.empty = await z.add("empty.jsonl", new Uint8Array(0), { deflate: true });
    });
    const entries = await read(zip);
    expect([...entries.keys()]).toEqual(["messages.jsonl", "files/f_1/报告 (final).bin", "files/f_2/large.bin", "empty.jsonl"]);
    expect(entries.get("messages.jsonl")!.method).toBe(8);
    expect(entries.get("messages.jsonl")!.data).toEqual(text);
    expect(sums["messages.jsonl"]).toEqual({ size: text.length, sha256: await sha256(text) });
    expect(entries.get("files/f_1/报告 (final).bin")!.data).toEqual(binary);
    expect(sums.file).toEqual({ size: binary.length, sha256: await sha256(binary) });
    expect(entries.get("files/f_2/large.bin")!.zip64).toBe(true);
    expect(entries.get("files/f_2/large.bin")!.data).toEqual(binary);
    expect(entries.get("empty.jsonl")!.data.length).toBe(0);
    expect(sums.empty.sha256).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("writes ZIP64 end records past 65,535 entries", async () => {
    const n = 65_540;
    const zip = await build(async (z) => {
      for (let i = 0; i < n; i++) await z.add(`e/${i}`, new TextEncoder().encode(String(i)), { deflate: false });
    });
    const entries = await read(zip);
    expect(entries.size).toBe(n);
    expect(new TextDecoder().decode(entries.get(`e/${n - 1}`)!.data)).toBe(String(n - 1));
  }, 60_000);

  it("computes CRC-32 as the standard says", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});
