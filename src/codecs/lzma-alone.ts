/**
 * The `.lzma` ("LZMA alone", LZMA_Alone / LZMA Utils) format, as the kernel's
 * `CONFIG_KERNEL_LZMA` payloads use it (`lzma -9` output).
 *
 * Header (13 bytes; LZMA SDK lzma-specification / xz's alone_decoder.c):
 *
 *     +------------+----+----+----+----+--+--+--+--+--+--+--+--+
 *     | Properties |  Dictionary Size  |   Uncompressed Size   |
 *     +------------+----+----+----+----+--+--+--+--+--+--+--+--+
 *
 * - "Properties: (pb * 5 + lp) * 9 + lc", one byte, < 225.
 * - "Dictionary Size: unsigned 32-bit little endian."
 * - "Uncompressed Size: unsigned 64-bit little endian; -1 (all ones) means
 *   unknown, and then the end-of-payload marker must be present." With a
 *   known size the marker may still follow the last byte (xz >= 5.4 accepts
 *   both).
 *
 * The compressed data follows directly; nothing follows the stream in the
 * format, so `consumed` is where the range coder stopped. The dictionary
 * size is not needed for one-shot decoding (the output is the window);
 * distances are checked against the bytes decoded so far, as the kernel's
 * own unlzma does.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { decodeLzmaProps, LzmaDecoder } from "./lzma.js";
import { OutputBuffer } from "./output.js";
import type { DecompressOptions, DecompressResult } from "./types.js";

const LAYER = "lzma";

/**
 * Decodes a `.lzma` (LZMA alone) stream.
 *
 * - `truncated`: the header or the range-coded data ends early;
 * - `codec-corrupt`: bad properties byte, a distance before the start of the
 *   data, an end marker before the declared size, a match past it, or a
 *   range coder that does not finish cleanly;
 * - `limit`: more than `maxOutput` bytes (with `partial`: stop and return
 *   them with `complete: false`);
 * - `codec-size-mismatch`: output length differs from `expectedSize`.
 *
 * `checked` is always `[]` (the format has no checksum).
 */
export function decompressLzma(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  const partial = options.partial ?? false;
  if (input.length < 13) {
    throw new KimageError("truncated", ".lzma header needs 13 bytes", { layer: LAYER, offset: base + input.length });
  }
  const props = decodeLzmaProps(input[0] as number);
  if (props === null) throw new KimageError("codec-corrupt", `invalid .lzma properties byte 0x${(input[0] as number).toString(16)}`, { layer: LAYER, offset: base });
  const u32 = (at: number): number => ((input[at] as number) | ((input[at + 1] as number) << 8) | ((input[at + 2] as number) << 16) | ((input[at + 3] as number) << 24)) >>> 0;
  const sizeLo = u32(5);
  const sizeHi = u32(9);
  const known = sizeLo === 0xffffffff && sizeHi === 0xffffffff ? undefined : sizeHi * 2 ** 32 + sizeLo;

  // Output buffer: the caller's expectedSize, else the declared size, but
  // never more than a generous multiple of the input up front (a lying
  // header must not allocate the whole cap); it grows by doubling.
  const guess = Math.min(known ?? Infinity, Math.max(1 << 16, input.length * 16));
  const ob = new OutputBuffer(LAYER, options, guess);
  const max = ob.max;
  const limitError = (): KimageError =>
    new KimageError("limit", `decompressed output exceeds the limit of ${max} bytes`, { layer: LAYER, offset: base });
  if (known !== undefined && known > max && !partial) throw limitError();
  const target = Math.min(known ?? Infinity, max);

  if (input.length < 18) throw new KimageError("truncated", ".lzma data ends early", { layer: LAYER, offset: base + input.length });
  const dec = new LzmaDecoder(LAYER, base);
  dec.setProps(props);
  dec.dictStart = 0;
  dec.initRange(input, 13);
  const truncated = (): never => {
    throw new KimageError("truncated", ".lzma data ends early", { layer: LAYER, offset: base + input.length });
  };

  // Decode until the end marker, the declared size or the cap; grow the
  // buffer (doubling, bounded by the cap) whenever it is full.
  while (ob.length < target) {
    if (ob.length === ob.buf.length) ob.ensure(Math.min(ob.buf.length, target - ob.length));
    ob.length = dec.run(input, input.length, ob.buf, ob.length, Math.min(ob.buf.length, target));
    if (dec.inPos > input.length) truncated();
    if (dec.finished) break;
  }

  let complete = true;
  if (dec.finished) {
    if (known !== undefined && ob.length !== known) dec.corrupt(".lzma end marker before the declared uncompressed size");
  } else if (known !== undefined && ob.length === known) {
    if (dec.pendingLen !== 0) dec.corrupt(".lzma match runs past the declared uncompressed size");
    // "Known size and an end marker" is allowed: if the range coder has not
    // finished, the next symbol must be the marker.
    if (!dec.rangeFinished() && !dec.decodeEndMarker(input, ob.length)) dec.corrupt(".lzma data continues past the declared uncompressed size");
    if (dec.inPos > input.length) truncated();
  } else {
    // The cap stopped us. If the stream ends exactly here, the output is
    // complete; otherwise it is `limit` (or a partial result).
    const endsHere = dec.pendingLen === 0 && dec.decodeEndMarker(input, ob.length) && dec.inPos <= input.length;
    if (!endsHere) {
      if (!partial) throw limitError();
      complete = false;
    }
  }
  if (complete && !dec.rangeFinished()) dec.corrupt(".lzma range coder did not finish cleanly (Code != 0)");

  if (complete && !partial && options.expectedSize !== undefined && ob.length !== options.expectedSize) {
    throw new KimageError("codec-size-mismatch", `.lzma output is ${ob.length} bytes, expected ${options.expectedSize}`, { layer: LAYER, offset: base });
  }
  return { codec: "lzma", bytes: ob.result(), consumed: Math.min(dec.inPos, input.length), complete, checked: [] };
}
