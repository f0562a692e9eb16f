/**
 * The median the bench reports take over repeats: a scenario runs several
 * times and each figure is the median of the runs, so one slow repeat (another
 * process on the machine) does not move it.
 *
 * Lenient on purpose: a run that did not produce a figure (null, undefined,
 * NaN: a repeat that failed, a metric an older result lacks) is left out, and
 * no figure at all gives null, which the reports print as "–".
 *
 * @example
 *   median([3, null, 1, 2]) // 2
 */

/** @param {unknown[]} xs @returns {number | null} */
export function median(xs) {
  const s = /** @type {number[]} */ (xs.filter((x) => typeof x === "number" && Number.isFinite(x))).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
