/**
 * A {@link RawInflater} on node:zlib, for {@link decompressGzip} under Node:
 * zlib's C inflate, about 2-3x the pure-JS inflater. Node only.
 *
 * @module
 */

import { inflateRawSync } from "node:zlib";
import { KimageError } from "../core/errors.js";
import type { RawInflateHint, RawInflater } from "../codecs/gzip.js";

/** The shape of `inflateRawSync(..., { info: true })`'s result. */
interface InflateInfo {
  buffer: Uint8Array;
  engine: { bytesWritten: number };
}

/** zlib's default output chunk (`zlib.constants.Z_DEFAULT_CHUNK`, 16 KiB): smaller outputs are left to it. */
const DEFAULT_CHUNK = 16 * 1024;

/**
 * One output chunk of the stated (or hinted) size plus one byte, so that zlib
 * fills a single buffer and Node returns it as it is: with the default 16 KiB
 * chunks it concatenates them into a second buffer at the end (measured on the
 * loong64 Image.gz, 27 MB: 254 ms with 16 KiB chunks, 127 ms with one). A hint
 * is used only within 32× the input and `maxOutput` (a wrong one only costs
 * speed: zlib then adds chunks of that size).
 */
function chunkOption(inputLength: number, maxOutput: number, hint: RawInflateHint | undefined): { chunkSize?: number } {
  const want = hint?.expectedSize ?? hint?.sizeHint;
  if (want === undefined || want < DEFAULT_CHUNK || want > inputLength * 32 || want >= maxOutput) return {};
  return { chunkSize: want + 1 };
}

/**
 * Inflates with `zlib.inflateRawSync(input, { info: true, maxOutputLength })`.
 * zlib stops at the end of the deflate stream and ignores what follows;
 * `engine.bytesWritten` is how much input the stream occupied. Output past
 * `maxOutput` is `limit`; zlib's data errors are `codec-corrupt`, an input
 * that ends inside the stream is `truncated`.
 */
export const nodeInflater: RawInflater = {
  inflateRaw(input, maxOutput, hint) {
    const base = hint?.base ?? 0;
    if (input.length === 0) throw new KimageError("truncated", "gzip: empty deflate stream", { layer: "gzip", offset: base });
    let r: InflateInfo;
    try {
      // maxOutputLength must be at least 1; the cap is re-checked below.
      r = inflateRawSync(input, { info: true, maxOutputLength: Math.max(1, Math.min(maxOutput, 2 ** 32)), ...chunkOption(input.length, maxOutput, hint) }) as unknown as InflateInfo;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === "ERR_BUFFER_TOO_LARGE") {
        throw new KimageError("limit", `gzip: decompressed output exceeds the limit of ${maxOutput} bytes`, { layer: "gzip", offset: base, cause: e });
      }
      if (code === "Z_BUF_ERROR") {
        throw new KimageError("truncated", "gzip: the deflate stream runs past the end of the input", { layer: "gzip", offset: base + input.length, cause: e });
      }
      throw new KimageError("codec-corrupt", `gzip: zlib: ${e instanceof Error ? e.message : String(e)}`, { layer: "gzip", offset: base, cause: e });
    }
    const b = r.buffer;
    if (b.length > maxOutput) throw new KimageError("limit", `gzip: decompressed output exceeds the limit of ${maxOutput} bytes`, { layer: "gzip", offset: base });
    return { bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), consumed: r.engine.bytesWritten };
  },
};
