/**
 * Seeded, deterministic randomness for plans: the same seed always gives
 * the same placements and seeds; different seeds spread. Never
 * `Math.random`, never the host's entropy: a plan is a pure function of its
 * inputs, and the caller who wants real randomness passes a random seed.
 *
 * The generator is xoshiro256** (Blackman & Vigna) over BigInt, its state
 * seeded by SplitMix64 from a 64-bit seed, as its authors recommend. String
 * seeds are first hashed with FNV-1a 64 over their UTF-8 bytes.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { MEMORY_LAYER, alignUpBig, alignDown, isPowerOfTwo, rangeEnd, type Range } from "./memory.js";

const MASK64 = (1n << 64n) - 1n;

/** A seed: a bigint or safe integer (taken mod 2^64) or a string (hashed). */
export type Seed = bigint | number | string;

function rotl(x: bigint, k: bigint): bigint {
  return ((x << k) | (x >> (64n - k))) & MASK64;
}

/** FNV-1a 64 of the UTF-8 bytes of `s`. */
export function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & MASK64;
  }
  return h;
}

/** The 64-bit value of a {@link Seed}. */
export function seedToU64(seed: Seed): bigint {
  if (typeof seed === "string") return fnv1a64(seed);
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed)) throw new KimageError("bad-argument", `seed ${seed} is not a safe integer`, { layer: MEMORY_LAYER, offset: -1 });
    return BigInt(seed) & MASK64;
  }
  return seed & MASK64;
}

/**
 * A deterministic pseudo-random generator (xoshiro256**). Not for secrets:
 * it makes plans reproducible, it does not make them unpredictable.
 */
export class Rng {
  private s0: bigint;
  private s1: bigint;
  private s2: bigint;
  private s3: bigint;

  /** Seeds the state with four SplitMix64 outputs of `seed`. */
  constructor(seed: Seed) {
    let x = seedToU64(seed);
    const splitmix = () => {
      x = (x + 0x9e3779b97f4a7c15n) & MASK64;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
      return z ^ (z >> 31n);
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
  }

  /** The next 64 random bits. */
  nextU64(): bigint {
    const result = (rotl((this.s1 * 5n) & MASK64, 7n) * 9n) & MASK64;
    const t = (this.s1 << 17n) & MASK64;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 45n);
    return result;
  }

  /** The next 32 random bits (the high half of {@link nextU64}). */
  nextU32(): number {
    return Number(this.nextU64() >> 32n);
  }

  /**
   * A uniform integer in `[0, n)` for any `n >= 1` (rejection sampling over
   * enough 64-bit words, so there is no modulo bias).
   */
  below(n: bigint): bigint {
    if (n <= 0n) throw new KimageError("bad-argument", `below(${n}): the bound must be positive`, { layer: MEMORY_LAYER, offset: -1 });
    if (n === 1n) return 0n;
    let bits = 0n;
    while (1n << bits < n) bits += 64n;
    const space = 1n << bits;
    const limit = space - (space % n);
    for (;;) {
      let v = 0n;
      for (let b = 0n; b < bits; b += 64n) v = (v << 64n) | this.nextU64();
      if (v < limit) return v % n;
    }
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || n > 1 << 24) throw new KimageError("bad-argument", `bytes(${n}): count out of range`, { layer: MEMORY_LAYER, offset: -1 });
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let v = this.nextU64();
      for (let j = i; j < Math.min(n, i + 8); j++) {
        out[j] = Number(v & 0xffn);
        v >>= 8n;
      }
    }
    return out;
  }
}

/** A generator seeded with `seed`. */
export function createRng(seed: Seed): Rng {
  return new Rng(seed);
}

/**
 * A value for /chosen `kaslr-seed`: drivers/of/kexec.c writes `u64 seed =
 * get_random_u64(); fdt_setprop_u64(fdt, chosen_node, "kaslr-seed", seed);`.
 */
export function kaslrSeed(rng: Rng): bigint {
  return rng.nextU64();
}

/** drivers/of/kexec.c `#define RNG_SEED_SIZE 128`. */
export const RNG_SEED_SIZE = 128;

/**
 * A value for /chosen `rng-seed`: drivers/of/kexec.c fills a placeholder of
 * RNG_SEED_SIZE bytes with `get_random_bytes(rng_seed, RNG_SEED_SIZE)`.
 */
export function rngSeed(rng: Rng, size = RNG_SEED_SIZE): Uint8Array {
  return rng.bytes(size);
}

/** The number of `align`-aligned starts `p` with `[p, p + size)` inside `r`. */
export function countAligned(r: Range, size: bigint, align: bigint): bigint {
  checkAlign(align);
  const first = alignUpBig(r.start, align);
  const lastStart = rangeEnd(r) - size;
  if (size < 0n || lastStart < first) return 0n;
  return (alignDown(lastStart, align) - first) / align + 1n;
}

function checkAlign(align: bigint): void {
  if (!isPowerOfTwo(align)) throw new KimageError("bad-argument", `alignment ${hex(align)} is not a power of two`, { layer: MEMORY_LAYER, offset: -1 });
}

/**
 * Draws uniformly among the positions `p` that are multiples of `align`
 * with `[p, p + size)` inside `r`; undefined when there is none.
 */
export function pickAligned(r: Range, size: bigint, align: bigint, rng: Rng): bigint | undefined {
  const n = countAligned(r, size, align);
  if (n === 0n) return undefined;
  return alignUpBig(r.start, align) + rng.below(n) * align;
}
