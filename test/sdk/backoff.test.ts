import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../sdk/backoff";

describe("backoffDelay", () => {
  it("doubles per attempt, between half and all of the ceiling", () => {
    expect(backoffDelay(0, { baseMs: 100, random: () => 0 })).toBe(50);
    expect(backoffDelay(0, { baseMs: 100, random: () => 0.999999 })).toBe(100);
    expect(backoffDelay(3, { baseMs: 100, random: () => 0 })).toBe(400);
    expect(backoffDelay(3, { baseMs: 100, random: () => 0.5 })).toBe(600);
  });

  it("never exceeds maxMs, even for huge attempt numbers", () => {
    for (const attempt of [10, 31, 1000]) {
      const d = backoffDelay(attempt, { baseMs: 500, maxMs: 8000, random: () => 0.999999 });
      expect(d).toBeLessThanOrEqual(8000);
      expect(d).toBeGreaterThanOrEqual(4000);
    }
  });

  it("jitter spreads clients out", () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
    expect(seen.size).toBeGreaterThan(10);
  });
});
