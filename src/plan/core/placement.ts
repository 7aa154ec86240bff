/**
 * What every arch plan does around its placement attempt: the allocator
 * options one attempt uses, and the seeded retry loop.
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import type { HoleSearch } from "./allocator.js";
import type { Range } from "./memory.js";
import type { Rng } from "./random.js";

/** How many randomized draws a seeded plan makes before giving up (every arch). */
export const MAX_PLACEMENT_TRIES = 64;

/** The allocator options of one placement attempt (`addBuffer`'s options, with the page size and exclusions resolved). */
export interface PlacementOptions {
  /** `PAGE_SIZE`. */
  pageSize: bigint;
  /** Ranges no segment may touch. */
  exclude: Range[];
  /** Draw every position from the valid aligned ones (a seeded plan). */
  random?: Rng;
  /** `KEXEC_TYPE_CRASH`: search only the `crash` regions. */
  crash?: boolean;
  /** The loading kernel's version of the hole search (default: the current one). */
  search?: HoleSearch;
}

/** The result of {@link placeWithRetries}. */
export interface Retried<T> {
  /** What the successful attempt returned. */
  value: T;
  /** How many attempts it took (1: the first one fitted). */
  attempts: number;
}

/**
 * Runs one placement attempt, and with a generator (a seeded plan) draws
 * again after a `plan-no-hole` failure, at most {@link MAX_PLACEMENT_TRIES}
 * times in all: a draw may put an early segment so that a later one no
 * longer fits (the same seed always makes the same draws, so the result is
 * still deterministic). Without a generator the kernel's deterministic
 * placement is tried once.
 *
 * @throws whatever the attempt throws: any error but `plan-no-hole` at once,
 *   `plan-no-hole` from the last attempt.
 */
export function placeWithRetries<T>(random: Rng | undefined, attempt: () => T): Retried<T> {
  const tries = random ? MAX_PLACEMENT_TRIES : 1;
  for (let attempts = 1; ; attempts++) {
    try {
      return { value: attempt(), attempts };
    } catch (e) {
      if (!(e instanceof KimageError && e.code === "plan-no-hole") || attempts >= tries) throw e;
    }
  }
}
