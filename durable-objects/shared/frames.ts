/** The frame's size in bytes; exact only when it could exceed `limit` (a UTF-16 unit is at most 3 UTF-8 bytes). */
export function frameBytes(raw: string | ArrayBuffer, limit: number): number {
  if (typeof raw !== "string") return raw.byteLength;
  if (raw.length * 3 <= limit) return raw.length;
  return new TextEncoder().encode(raw).length;
}
