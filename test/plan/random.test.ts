// Seeded randomness: determinism, spread, uniformity of below(), aligned
// picks inside their range, and the kexec seeds' shapes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countAligned, createRng, fnv1a64, kaslrSeed, pickAligned, rngSeed, RNG_SEED_SIZE, seedToU64 } from "../../src/plan/core/random.js";
import { rangeContains } from "../../src/plan/core/memory.js";

describe("Rng", () => {
  it("the same seed gives the same stream; bigint, number and string seeds", () => {
    for (const seed of [0, 1, 42n, (1n << 64n) - 1n, "kimage", ""]) {
      const a = createRng(seed);
      const b = createRng(seed);
      const xs = Array.from({ length: 8 }, () => a.nextU64());
      expect(Array.from({ length: 8 }, () => b.nextU64())).toEqual(xs);
      for (const x of xs) expect(x >= 0n && x < 1n << 64n).toBe(true);
    }
    expect(seedToU64(-1)).toBe((1n << 64n) - 1n);
    expect(seedToU64(1n << 64n)).toBe(0n);
    // FNV-1a 64 test vectors (Fowler/Noll/Vo): "" and "a".
    expect(fnv1a64("")).toBe(0xcbf29ce484222325n);
    expect(fnv1a64("a")).toBe(0xaf63dc4c8601ec8cn);
    expect(() => createRng(0.5)).toThrowError(expect.objectContaining({ code: "bad-argument" }));
  });

  it("different seeds give different streams", () => {
    const firsts = new Set<bigint>();
    for (let s = 0; s < 1000; s++) firsts.add(createRng(s).nextU64());
    expect(firsts.size).toBe(1000);
    expect(createRng("a").nextU64()).not.toBe(createRng("b").nextU64());
  });

  it("below(n) stays in range and is roughly uniform", () => {
    const rng = createRng(7);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20000; i++) counts[Number(rng.below(10n))]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(250);
    const big = (1n << 100n) + 3n;
    for (let i = 0; i < 100; i++) {
      const v = rng.below(big);
      expect(v >= 0n && v < big).toBe(true);
    }
    expect(rng.below(1n)).toBe(0n);
    expect(() => rng.below(0n)).toThrowError(expect.objectContaining({ code: "bad-argument" }));
  });

  it("bytes, kaslr-seed and rng-seed", () => {
    const r = createRng("seeds");
    const b = r.bytes(13);
    expect(b.length).toBe(13);
    expect(createRng("seeds").bytes(13)).toEqual(b);
    expect(typeof kaslrSeed(createRng(1))).toBe("bigint");
    const s = rngSeed(createRng(1));
    expect(s.length).toBe(RNG_SEED_SIZE);
    expect(s.length).toBe(128);
    expect(rngSeed(createRng(1))).toEqual(s);
    expect(rngSeed(createRng(2))).not.toEqual(s);
  });
});

describe("pickAligned", () => {
  it("counts and picks only aligned positions that fit (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.bigInt({ min: 0n, max: 1n << 24n }),
        fc.bigInt({ min: 1n, max: 1n << 22n }),
        fc.integer({ min: 0, max: 22 }),
        fc.integer(),
        (start, size, len, k, seed) => {
          const align = 1n << BigInt(k);
          const r = { start, size };
          const n = countAligned(r, len, align);
          const p = pickAligned(r, len, align, createRng(seed));
          if (n === 0n) {
            expect(p).toBeUndefined();
            return;
          }
          expect(p).toBeDefined();
          expect(p! % align).toBe(0n);
          expect(rangeContains(r, { start: p!, size: len })).toBe(true);
          expect(pickAligned(r, len, align, createRng(seed))).toBe(p);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("spreads over every position", () => {
    const r = { start: 0x1000n, size: 0x10000n };
    // positions 0x1000, 0x2000, ..., 0x10000 for size 0x1000: 16 of them
    expect(countAligned(r, 0x1000n, 0x1000n)).toBe(16n);
    const seen = new Map<bigint, number>();
    for (let s = 0; s < 1600; s++) {
      const p = pickAligned(r, 0x1000n, 0x1000n, createRng(`spread-${s}`))!;
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect(seen.size).toBe(16);
    for (const c of seen.values()) expect(c).toBeGreaterThan(50);
    expect(() => countAligned(r, 1n, 3n)).toThrowError(expect.objectContaining({ code: "bad-argument" }));
  });
});
