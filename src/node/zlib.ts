/**
 * A {@link RawInflater} on node:zlib, for {@link decompressGzip} under Node:
 * zlib's C inflate, about 2-3x the pure-JS inflater. Node only.
 *
 * @module
 */

import { inflateRawSync } from "node:zlib";
import { KimageError } from "../core/errors.js";
import type { RawInflater } from "../codecs/gzip.js";

/** The shape of `inflateRawSync(..., { info: true })`'s result. */
interface InflateInfo {
  buffer: Uint8Array;
  engine: { bytesWritten: number };
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
      r = inflateRawSync(input, { info: true, maxOutputLength: Math.max(1, Math.min(maxOutput, 2 ** 32)) }) as unknown as InflateInfo;
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
