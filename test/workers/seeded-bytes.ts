/**
 * Test data for the file tests (files.test.ts, file-store.test.ts): bytes from
 * a fixed pseudo-random sequence, so a misplaced, dropped or doubled slice of
 * an upload or a range shows, the same on every run, and different per seed.
 *
 * @example
 *   const data = seededBytes(400_000, 7);
 */
export function seededBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
