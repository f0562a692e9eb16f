// @ts-check
/**
 * Real PNG files for what uploads images to a node: the browser tests
 * (test/browser/avatar.test.ts, files-search.test.ts) and the screenshots
 * (scripts/screenshots.mjs). Chromium decodes them, so the preview, the crop
 * and the canvas scaling have true pixels to work on. Uncompressed 8-bit RGB rows
 * in one zlib stream: the smallest encoder that makes a valid file.
 *
 * @example
 *   const red = encodePng(90, 60, () => [220, 40, 40]);
 *   const gradient = encodePng(120, 80, (x, y) => [(x * 255) / 120, (y * 255) / 80, 160]);
 */
import zlib from "node:zlib";

/**
 * A `width`×`height` PNG whose pixel at (x, y) is `pixel(x, y)` (RGB, each 0..255; fractions are truncated).
 *
 * @param {number} width
 * @param {number} height
 * @param {(x: number, y: number) => number[]} pixel
 * @returns {Buffer}
 */
export function encodePng(width, height, pixel) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  /** @param {Buffer} buf */
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  // length, type, data, CRC of type and data
  /** @param {string} type @param {Buffer} data */
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  // Each row: filter byte 0 (none), then the row's pixels.
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set(pixel(x, y), y * (width * 3 + 1) + 1 + x * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
