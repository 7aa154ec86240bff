/**
 * JIT warm-up: one small decode per codec, once per process, before the
 * first large one.
 *
 * V8 optimizes a hot decoder loop while it runs (on-stack replacement) with
 * the type feedback gathered so far. A path the first chunks of a payload
 * never took (a long distance, the end of a block, an E8 call in the BCJ
 * filter) then has no feedback: the optimized code deoptimizes there
 * ("Insufficient type feedback"), the loop falls back to the interpreter and
 * is compiled again, up to three times. `node --trace-deopt` showed it on
 * every codec: on the bookworm amd64 xz payload LZMA `run` deoptimized twice
 * and x86Decode three times (chunks 2–4 of the payload took 41–44 ms each,
 * the steady state 6 ms); bzip2's `writeBlock` and `symbols` deoptimized at
 * the end of every block (114 deopts on a 27 MB Image).
 *
 * A decode of {@link warmupData} (about 16 KB, every path of the decoders:
 * literals, repeats at short and long distances, long matches, byte runs,
 * x86 calls) gives the feedback before the first optimization, in about
 * 2–5 ms. The compressed samples are made by the native tools
 * (`scripts/build-warmup.mjs` writes `warmup-samples.ts`; the test decodes
 * each with the native tool as well and compares with {@link warmupData}).
 *
 * @module
 */

import type { Codec } from "./types.js";
import { WARMUP_SAMPLES_BASE64 } from "./warmup-samples.js";

/** Compressed inputs smaller than this are decoded without a warm-up (it would cost more than it saves). */
export const WARMUP_MIN_INPUT = 1 << 20;

/** Length of {@link warmupData}. */
export const WARMUP_DATA_LENGTH = 16384;

/**
 * The deterministic data the warm-up samples hold: a mix shaped like a
 * kernel image (literals, repeats at distances from 1 to 16 K, matches of
 * 2 to 300 bytes, runs of one byte, x86 `call`/`jmp` rel32 instructions
 * with 0x00/0xFF high bytes), from a fixed linear congruential generator.
 */
export function warmupData(): Uint8Array {
  const out = new Uint8Array(WARMUP_DATA_LENGTH);
  let seed = 1;
  const rnd = (): number => {
    // glibc rand()'s constants; the high 16 bits.
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 16;
  };
  let n = 0;
  const put = (b: number): void => {
    if (n < out.length) out[n++] = b & 0xff;
  };
  const DISTANCES = [4, 100, 3000, 16000] as const;
  const LENGTHS = [8, 16, 300] as const;
  while (n < out.length) {
    const c = rnd() % 13;
    if (c < 4) {
      for (let i = 0, k = 1 + (rnd() % 8); i < k; i++) put(rnd());
    } else if (c < 8 && n > 300) {
      const d = 1 + (rnd() % Math.min(n - 1, DISTANCES[rnd() % 4] as number));
      for (let i = 0, k = 2 + (rnd() % (LENGTHS[rnd() % 3] as number)); i < k; i++) put(out[n - d] as number);
    } else if (c < 10) {
      // call/jmp rel32 (E8/E9) with a high byte of 0x00 or 0xFF, sometimes two in a row.
      for (let i = 0, k = 1 + (rnd() % 2); i < k; i++) {
        put(0xe8 | (rnd() & 1));
        put(rnd());
        put(rnd());
        put(rnd() & 0x01);
        put(rnd() & 1 ? 0xff : 0x00);
      }
    } else if (c < 11) {
      // E8/E9 bytes closer than five apart, among 0x00/0xFF: every state of the BCJ x86 filter's mask.
      const PICK = [0xe8, 0xe9, 0x00, 0xff] as const;
      for (let i = 0, k = 8 + (rnd() % 16); i < k; i++) put(rnd() & 4 ? rnd() : (PICK[rnd() & 3] as number));
    } else {
      const b = rnd();
      for (let i = 0, k = rnd() % 40; i < k; i++) put(b);
    }
  }
  return out;
}

const warmed = new Set<string>();

function base64Decode(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The compressed warm-up sample of `codec` (a fresh copy). */
export function warmupSample(codec: Codec): Uint8Array {
  return base64Decode(WARMUP_SAMPLES_BASE64[codec]);
}

/**
 * Runs `decode` on `codec`'s sample once per process and `key` (e.g. the
 * one-shot and the streaming decoder), when the real input is at least
 * {@link WARMUP_MIN_INPUT} bytes. A warm-up never fails the caller's decode:
 * the samples are checked by the tests, and an error here is ignored.
 */
export function warmUp(key: string, codec: Codec, inputSize: number, decode: (sample: Uint8Array) => void): void {
  if (inputSize < WARMUP_MIN_INPUT || warmed.has(key)) return;
  warmed.add(key);
  try {
    decode(warmupSample(codec));
  } catch {
    // The sample is verified by test/codecs/warmup.test.ts; nothing to report here.
  }
}
