/**
 * The PE image CheckSum (optional header offset 64), as Microsoft's
 * `CheckSumMappedFile` (imagehlp) computes it and as the Windows loader
 * checks it for drivers and boot-critical images:
 *
 * 1. add up the file as little-endian 16-bit words (a final odd byte counts
 *    as a word of its own), with the 4-byte CheckSum field taken as zero,
 *    folding the carry out of bit 16 back into the low 16 bits after every
 *    addition (a ones'-complement sum);
 * 2. fold once more and add the file length.
 *
 * The Authenticode digest skips the CheckSum field, so it can be rewritten
 * after signing; signers (osslsigncode, sbsign, pesign) recompute it over
 * the final file, certificate table included.
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import { PE_LAYER } from "./parse.js";

/**
 * Computes the PE CheckSum of `bytes`, treating the 4 bytes at
 * `checksumOffset` (the CheckSum field, `PeFile.layout.checksum`) as zero.
 *
 * The words are added exactly and folded at the end; ones'-complement
 * addition is associative, so this equals folding after every word (the
 * result is never 0 unless every word is 0, as with the per-word fold).
 *
 * @returns The 32-bit CheckSum value.
 * @throws KimageError `bad-argument` when the 4-byte field is not inside `bytes`.
 */
export function peChecksum(bytes: Uint8Array, checksumOffset: number): number {
  const n = bytes.length;
  if (!Number.isSafeInteger(checksumOffset) || checksumOffset < 0 || checksumOffset > n - 4) {
    throw new KimageError("bad-argument", `CheckSum offset ${checksumOffset} is not inside the ${n}-byte image`, {
      layer: PE_LAYER,
      offset: -1,
    });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  // The (at most three) words that overlap the CheckSum field are added with its bytes as zero.
  const lo = checksumOffset - (checksumOffset % 2);
  const hi = lo + (checksumOffset % 2 === 0 ? 2 : 4);
  const byteAt = (k: number): number =>
    k >= n || (k >= checksumOffset && k < checksumOffset + 4) ? 0 : (bytes[k] as number);
  let sum = sumWords(dv, 0, lo);
  for (let w = lo; w <= hi; w += 2) sum += byteAt(w) | (byteAt(w + 1) << 8);
  sum = fold(sum + sumWords(dv, hi + 2, n - (n % 2)));
  // A final odd byte counts as a word of its own (unless it is part of the field, counted above).
  if (n % 2 === 1 && n - 1 > hi) sum += bytes[n - 1] as number;
  return (fold(sum) + n) >>> 0;
}

/**
 * The ones'-complement sum of the little-endian words in `[from, to)` (both
 * even), folded into 0..0xffff. Words are added exactly in chunks (at most
 * 65535 each, so a chunk of 2^20 words stays a safe integer) and folded
 * between chunks.
 */
function sumWords(dv: DataView, from: number, to: number): number {
  let sum = 0;
  let i = from;
  while (i < to) {
    const stop = Math.min(to, i + (1 << 21));
    let part = 0;
    for (; i < stop; i += 2) part += dv.getUint16(i, true);
    sum = fold(sum + part);
  }
  return sum;
}

/** Ones'-complement fold of a non-negative safe integer into 0..0xffff. */
function fold(x: number): number {
  let v = x;
  while (v > 0xffff) v = (v % 0x10000) + Math.floor(v / 0x10000);
  return v;
}

/**
 * Recomputes the CheckSum of `bytes` and writes it (little-endian) at
 * `checksumOffset`, in place.
 *
 * @returns The value written.
 * @throws KimageError as {@link peChecksum}.
 */
export function writePeChecksum(bytes: Uint8Array, checksumOffset: number): number {
  const value = peChecksum(bytes, checksumOffset);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.length).setUint32(checksumOffset, value, true);
  return value;
}
