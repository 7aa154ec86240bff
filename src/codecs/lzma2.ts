/**
 * The LZMA2 chunk layer (the only compression filter of `.xz`): a sequence
 * of LZMA and uncompressed chunks, each with a control byte saying what is
 * reset before it, decoded one-shot into an {@link OutputBuffer} with the
 * {@link LzmaDecoder} core.
 *
 * Chunk format (from the LZMA2 description in xz-embedded's xz_dec_lzma2.c
 * comments and the xz file format spec):
 *
 * - "0x00: end of LZMA2 stream."
 * - "0x01: dictionary reset followed by an uncompressed chunk;
 *    0x02: uncompressed chunk (no dictionary reset)." Then the chunk size
 *   minus one as a 16-bit big-endian integer, then the data.
 * - "0x03-0x7F: invalid."
 * - "0x80-0xFF: LZMA chunk. Bits 5-6: 0x80 = no reset, 0xA0 = state reset,
 *    0xC0 = state reset using new props, 0xE0 = dictionary reset + state
 *    reset using new props. Bits 0-4 are bits 16-20 of the uncompressed size
 *    minus one"; then its low 16 bits (big-endian), the compressed size
 *   minus one (16-bit big-endian), and a props byte if >= 0xC0.
 * - "The first chunk must reset the dictionary (0x01 or >= 0xE0)", and
 *   "a dictionary reset implies that the next LZMA chunk must set new
 *   properties" (control >= 0xC0).
 * - "lc + lp must be <= 4" in LZMA2 properties.
 * - Every LZMA chunk starts a fresh range coder (5 init bytes included in
 *   its compressed size), must produce exactly its uncompressed size, must
 *   consume exactly its compressed size, must end with Code == 0, and no
 *   match may continue into the next chunk.
 *
 * The streaming `.xz` decoder applies the same rules one whole chunk at a
 * time, as the chunks arrive (`XzStreamDecoder.lzma2Chunk` in `xz.ts`,
 * decoding into an `LzmaWindow`); the two must stay in step.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { decodeLzmaProps, LzmaDecoder } from "./lzma.js";
import type { OutputBuffer } from "./output.js";

/** Where an LZMA2 stream ended. */
export interface Lzma2Result {
  /** Input offset just past the end-of-stream control byte (or where decoding stopped). */
  end: number;
  /** False when the output cap stopped decoding (partial mode only). */
  complete: boolean;
}

/**
 * Decodes the LZMA2 filter's 1-byte property: "bits 0-5 dictionary size
 * (2 | (bits & 1)) << (bits / 2 + 11), 40 = 4 GiB - 1; bits 6-7 reserved,
 * MUST be zero; a value above 40 is invalid". Returns null when invalid.
 */
export function lzma2DictSize(prop: number): number | null {
  if (prop & 0xc0 || prop > 40) return null;
  if (prop === 40) return 0xffffffff;
  return (2 | (prop & 1)) * 2 ** ((prop >>> 1) + 11);
}

/**
 * Decodes one LZMA2 stream starting at `input[start]`, appending to `ob`.
 * `ob.max` is the output cap; with `partial`, decoding stops (complete:
 * false) when the cap is reached instead of throwing `limit`. Errors are
 * KimageErrors of `layer` with offsets relative to `base`.
 *
 * The decoder is given (and may be reused across blocks) so its probability
 * array is allocated once.
 */
export function decodeLzma2(
  input: Uint8Array,
  start: number,
  ob: OutputBuffer,
  dec: LzmaDecoder,
  partial: boolean,
): Lzma2Result {
  const layer = dec.layer;
  const base = dec.base;
  const n = input.length;
  let pos = start;
  let needDictReset = true;
  let needProps = true;
  const truncated = (at: number): never => {
    throw new KimageError("truncated", "LZMA2 data ends early", { layer, offset: base + at });
  };
  const corrupt = (msg: string, at: number): never => {
    throw new KimageError("codec-corrupt", msg, { layer, offset: base + at });
  };
  /** Room for `want` more bytes: the amount granted (less only at the cap, in partial mode). */
  const room = (want: number, at: number): number => {
    const left = ob.max - ob.length;
    if (want > left) {
      if (!partial) {
        throw new KimageError("limit", `decompressed output exceeds the limit of ${ob.max} bytes`, { layer, offset: base + at });
      }
      want = left;
    }
    ob.ensure(want);
    return want;
  };

  for (;;) {
    if (pos >= n) truncated(pos);
    const ctrlAt = pos;
    const control = input[pos++] as number;
    if (control === 0x00) return { end: pos, complete: true };

    if (control >= 0xe0 || control === 0x01) {
      needProps = true;
      needDictReset = false;
      dec.dictStart = ob.length;
    } else if (needDictReset) {
      corrupt("LZMA2: the first chunk does not reset the dictionary", ctrlAt);
    }

    if (control < 0x80) {
      if (control > 0x02) corrupt(`LZMA2: invalid control byte 0x${control.toString(16)}`, ctrlAt);
      // Uncompressed chunk: 16-bit big-endian size - 1, then the bytes.
      if (pos + 2 > n) truncated(pos);
      const size = (((input[pos] as number) << 8) | (input[pos + 1] as number)) + 1;
      pos += 2;
      if (pos + size > n) truncated(n);
      const got = room(size, ctrlAt);
      ob.buf.set(input.subarray(pos, pos + got), ob.length);
      ob.length += got;
      if (got < size) return { end: pos + got, complete: false };
      pos += size;
      continue;
    }

    // LZMA chunk header.
    const hdr = control >= 0xc0 ? 5 : 4;
    if (pos + hdr > n) truncated(pos);
    const usize = ((control & 0x1f) << 16) + ((input[pos] as number) << 8) + (input[pos + 1] as number) + 1;
    const csize = ((input[pos + 2] as number) << 8) + (input[pos + 3] as number) + 1;
    if (control >= 0xc0) {
      const props = decodeLzmaProps(input[pos + 4] as number);
      if (props === null || props.lc + props.lp > 4) corrupt("LZMA2: invalid properties byte", pos + 4);
      dec.setProps(props as NonNullable<typeof props>);
      needProps = false;
    } else if (needProps) {
      corrupt("LZMA2: LZMA chunk without properties after a dictionary reset", ctrlAt);
    } else if (control >= 0xa0) {
      dec.resetState();
    }
    pos += hdr;
    const cEnd = pos + csize;
    if (cEnd > n) truncated(n);
    if (csize < 5) corrupt("LZMA2: compressed chunk smaller than the range coder header", ctrlAt);

    const got = room(usize, ctrlAt);
    dec.initRange(input, pos);
    const outStart = ob.length;
    const outEnd = outStart + got;
    const reached = dec.run(input, cEnd, ob.buf, outStart, outEnd);
    ob.length = reached;
    if (dec.inPos > cEnd) corrupt("LZMA2: chunk data runs past its compressed size", cEnd);
    if (dec.finished) corrupt("LZMA2: end marker inside an LZMA2 chunk", dec.inPos);
    if (got < usize) {
      // Stopped by the cap (partial mode): the chunk is not finished.
      return { end: dec.inPos, complete: false };
    }
    if (reached !== outEnd || dec.pendingLen !== 0 || dec.inPos !== cEnd || !dec.rangeFinished()) {
      corrupt("LZMA2: chunk sizes do not match its data", dec.inPos);
    }
    pos = cEnd;
  }
}
