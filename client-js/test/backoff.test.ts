import { describe, expect, it } from "vitest";
import { backoffDelay } from "../src/backoff.js";

describe("backoffDelay", () => {
  it("stays within [0, min(max, base * 2^attempt)]", () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const cap = Math.min(10000, 1000 * 2 ** attempt);
      expect(backoffDelay(attempt, 1000, 10000, () => 0)).toBe(0);
      expect(backoffDelay(attempt, 1000, 10000, () => 0.999999)).toBeLessThanOrEqual(cap);
      expect(backoffDelay(attempt, 1000, 10000, () => 0.999999)).toBeGreaterThanOrEqual(cap - 1);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, 1000, 10000);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(cap);
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });

  it("doubles the ceiling per attempt until the maximum", () => {
    const ceil = (n: number) => backoffDelay(n, 100, 1000, () => 0.999999) + 1;
    expect([0, 1, 2, 3, 4, 5, 100].map(ceil)).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it("spreads retries (full jitter)", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(Math.floor(backoffDelay(3, 1000, 10000) / 1000));
    expect(seen.size).toBeGreaterThan(4); // of the 8 one-second buckets below the 8 s ceiling
  });
});
