/**
 * LZ4: the legacy frame the kernel build writes (`lz4 -l`, magic 0x184C2102)
 * and the standard LZ4 frame format (magic 0x184D2204), with an own
 * bounds-checked block decoder.
 *
 * Sources (facts restated, no code copied): the LZ4 Block Format
 * description, the LZ4 Frame Format Description v1.6.x, and the kernel's
 * `lib/decompress_unlz4.c` for where a legacy stream ends.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { OutputBuffer } from "./output.js";
import type { DecompressOptions, DecompressResult } from "./types.js";
import { xxh32 } from "./xxhash.js";

const LAYER = "lz4";

/** Magic of the legacy frame (`lz4 -l`), little-endian u32. */
export const LZ4_LEGACY_MAGIC = 0x184c2102;
/** Magic of the standard LZ4 frame, little-endian u32. */
export const LZ4_FRAME_MAGIC = 0x184d2204;

/** "Each legacy block decodes to at most 8 MiB" (LEGACY_BLOCKSIZE). */
const LEGACY_BLOCK = 8 << 20;
/** LZ4_compressBound(8 MiB) = n + n/255 + 16: no valid legacy block is larger. */
const LEGACY_BOUND = LEGACY_BLOCK + Math.floor(LEGACY_BLOCK / 255) + 16;

function u32le(d: Uint8Array, i: number): number {
  return ((d[i] as number) | ((d[i + 1] as number) << 8) | ((d[i + 2] as number) << 16) | ((d[i + 3] as number) << 24)) >>> 0;
}

// ---------------------------------------------------------------- block decoder

/** Block decoder status: the block is malformed at {@link errAt}. */
const CORRUPT = -1;
/** Block decoder status: the output would pass `dend` (bytes up to it are written). */
const OVERFLOW = -2;
/** Input offset of the last CORRUPT result. */
let errAt = 0;

/**
 * Decodes one LZ4 block `src[sp, send)` into `dst` at `dp`, never writing at
 * or past `dend`, with matches allowed to reach back to `dmin`. Returns the
 * new output position, or {@link CORRUPT} / {@link OVERFLOW}.
 *
 * The block format: a sequence is a token byte (high nibble: literal length,
 * low nibble: match length - 4), "if a nibble is 15, more length bytes follow,
 * each added, until one is not 255", the literals, then a 2-byte
 * little-endian offset ("0 is invalid") and the match. "The last sequence
 * contains only literals"; the block ends after them.
 */
function decodeBlock(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number, dmin: number): number {
  while (sp < send) {
    const token = src[sp++] as number;
    // literals
    let len = token >>> 4;
    if (len === 15) {
      let b: number;
      do {
        if (sp >= send) return (errAt = sp), CORRUPT;
        b = src[sp++] as number;
        len += b;
      } while (b === 255);
    }
    if (len > 0) {
      if (len > send - sp) return (errAt = sp), CORRUPT;
      if (len > dend - dp) {
        dst.set(src.subarray(sp, sp + (dend - dp)), dp);
        return OVERFLOW;
      }
      if (len < 16) {
        for (let k = 0; k < len; k++) dst[dp + k] = src[sp + k] as number;
      } else {
        dst.set(src.subarray(sp, sp + len), dp);
      }
      sp += len;
      dp += len;
    }
    // "the last sequence contains only literals"
    if (sp >= send) break;
    if (send - sp < 2) return (errAt = sp), CORRUPT;
    const off = (src[sp] as number) | ((src[sp + 1] as number) << 8);
    if (off === 0 || off > dp - dmin) return (errAt = sp), CORRUPT;
    sp += 2;
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (sp >= send) return (errAt = sp), CORRUPT;
        b = src[sp++] as number;
        ml += b;
      } while (b === 255);
    }
    ml += 4;
    let from = dp - off;
    if (ml > dend - dp) {
      const room = dend - dp;
      for (let k = 0; k < room; k++) dst[dp + k] = dst[from + k] as number;
      return OVERFLOW;
    }
    if (off >= ml && ml > 32) {
      dst.copyWithin(dp, from, from + ml);
      dp += ml;
    } else {
      const end = dp + ml;
      while (dp < end) dst[dp++] = dst[from++] as number;
    }
  }
  return dp;
}

// ---------------------------------------------------------------- containers

function corrupt(msg: string, options: DecompressOptions, at: number): KimageError {
  return new KimageError("codec-corrupt", `lz4: ${msg}`, { layer: LAYER, offset: (options.base ?? 0) + at });
}
function truncated(msg: string, options: DecompressOptions, at: number): KimageError {
  return new KimageError("truncated", `lz4: ${msg}`, { layer: LAYER, offset: (options.base ?? 0) + at });
}

/** Why {@link runBlock} stopped early. */
type Stop = "ok" | "full";

/**
 * Decodes one block into `out`, with room for at most `blockMax` bytes;
 * `dmin` bounds match distances. Handles the cap: `limit`, or stop in
 * partial mode.
 */
function runBlock(
  input: Uint8Array, sp: number, send: number, out: OutputBuffer, blockMax: number, dmin: number, options: DecompressOptions,
): Stop {
  const room = out.max - out.length;
  const want = Math.min(blockMax, room);
  // Decode into the space the buffer already has; grow and redo the block
  // only if that was too small (so a pre-sized buffer is never doubled).
  if (out.buf.length - out.length < Math.min(want, 1 << 16)) out.ensure(Math.min(want, 1 << 16));
  let dend = Math.min(out.length + want, out.buf.length);
  let dp = decodeBlock(input, sp, send, out.buf, out.length, dend, dmin);
  if (dp === OVERFLOW && dend < out.length + want) {
    out.ensure(want);
    dend = out.length + want;
    dp = decodeBlock(input, sp, send, out.buf, out.length, dend, dmin);
  }
  if (dp === CORRUPT) throw corrupt("invalid block data (bad length, offset or truncated sequence)", options, errAt);
  if (dp === OVERFLOW) {
    if (want === blockMax) throw corrupt(`block decodes to more than its maximum of ${blockMax} bytes`, options, sp);
    if (out.partial) {
      out.length = out.max;
      return "full";
    }
    throw new KimageError("limit", `decompressed output exceeds the limit of ${out.max} bytes`, { layer: LAYER, offset: (options.base ?? 0) + sp });
  }
  out.length = dp;
  return "ok";
}

/**
 * Legacy frame: "magic 0x184C2102, then blocks, each a little-endian u32
 * compressed size followed by that many bytes of one independent LZ4 block
 * decoding to at most 8 MiB". There is no end mark. Like the kernel's
 * `unlz4` and the lz4 tool, the stream ends at the end of the input, when
 * fewer than 4 bytes remain, at a zero size, or at a size no block can have
 * (larger than LZ4_compressBound(8 MiB): the lz4 tool takes it as the next
 * frame's magic). A repeated legacy magic starts another legacy stream. And
 * since the kernel appends the le32 decompressed size (its caller drops
 * those 4 bytes), a size field equal to the output so far (mod 2^32) ends the
 * stream too. Returns the offset where the stream ended.
 */
function legacy(input: Uint8Array, pos: number, out: OutputBuffer, options: DecompressOptions): { end: number; full: boolean } {
  for (;;) {
    if (input.length - pos < 4) return { end: pos, full: false };
    const size = u32le(input, pos);
    if (size === LZ4_LEGACY_MAGIC) {
      pos += 4;
      continue;
    }
    if (size === 0 || size > LEGACY_BOUND) return { end: pos, full: false };
    if (out.length > 0 && size === out.length % 2 ** 32) return { end: pos, full: false };
    if (size > input.length - pos - 4) throw truncated(`legacy block of ${size} bytes runs past the end of the input`, options, pos);
    const start = out.length;
    if (runBlock(input, pos + 4, pos + 4 + size, out, LEGACY_BLOCK, start, options) === "full") return { end: pos, full: true };
    pos += 4 + size;
  }
}

/** Block maximum sizes by the BD byte's "Block MaxSize" field (4..7). */
const FRAME_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/**
 * One standard frame at `pos` (just past the magic). Returns the offset past
 * the frame (its EndMark and optional content checksum).
 */
function frame(
  input: Uint8Array, pos: number, out: OutputBuffer, options: DecompressOptions, checked: Set<string>,
): { end: number; full: boolean } {
  const hdr = pos;
  if (input.length - pos < 3) throw truncated("frame descriptor runs past the end of the input", options, pos);
  const flg = input[pos] as number;
  const bd = input[pos + 1] as number;
  // FLG: "bits 7-6 version, must be 01; bit 5 block independence; bit 4 block
  // checksum; bit 3 content size; bit 2 content checksum; bit 1 reserved (0);
  // bit 0 dictionary ID"
  if (flg >>> 6 !== 1) throw corrupt(`unsupported frame version ${flg >>> 6}`, options, pos);
  if (flg & 2) throw corrupt("reserved FLG bit set", options, pos);
  // BD: "bit 7 reserved; bits 6-4 block maximum size (4: 64 KB, 5: 256 KB,
  // 6: 1 MB, 7: 4 MB); bits 3-0 reserved"
  if (bd & 0x8f) throw corrupt("reserved BD bits set", options, pos + 1);
  const blockMax = FRAME_BLOCK_MAX[(bd >>> 4) & 7] as number;
  if (blockMax === 0) throw corrupt(`invalid block maximum size code ${(bd >>> 4) & 7}`, options, pos + 1);
  const indep = (flg & 0x20) !== 0;
  const blockSum = (flg & 0x10) !== 0;
  const hasSize = (flg & 0x08) !== 0;
  const contentSum = (flg & 0x04) !== 0;
  const hasDict = (flg & 0x01) !== 0;
  const descLen = 2 + (hasSize ? 8 : 0) + (hasDict ? 4 : 0);
  if (input.length - pos < descLen + 1) throw truncated("frame descriptor runs past the end of the input", options, pos);
  let contentSize = -1;
  if (hasSize) {
    const lo = u32le(input, pos + 2), hi = u32le(input, pos + 6);
    contentSize = hi * 2 ** 32 + lo;
  }
  // "HC: the second byte of xxh32(descriptor, seed 0): (xxh32 >> 8) & 0xFF"
  const hc = (xxh32(input, 0, pos, pos + descLen) >>> 8) & 0xff;
  if (hc !== input[pos + descLen]) {
    throw new KimageError("codec-checksum", "lz4: frame descriptor checksum mismatch", { layer: LAYER, offset: (options.base ?? 0) + pos + descLen });
  }
  if (hasDict) throw new KimageError("unsupported", "lz4: frames that need a dictionary are not supported", { layer: LAYER, offset: (options.base ?? 0) + pos + descLen - 4 });
  checked.add("header-xxh32");
  pos += descLen + 1;
  const frameStart = out.length;
  for (;;) {
    if (input.length - pos < 4) throw truncated("block size runs past the end of the input", options, pos);
    const word = u32le(input, pos);
    // "EndMark: a block size of 0x00000000"
    if (word === 0) {
      pos += 4;
      break;
    }
    // "highest bit set: the block is stored uncompressed"
    const stored = word >>> 31 === 1;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the frame's block maximum of ${blockMax}`, options, pos);
    const data = pos + 4;
    if (size + (blockSum ? 4 : 0) > input.length - data) throw truncated("block runs past the end of the input", options, pos);
    if (blockSum) {
      // "Block checksum: xxh32 of the raw (compressed or stored) block data"
      if (xxh32(input, 0, data, data + size) !== u32le(input, data + size)) {
        throw new KimageError("codec-checksum", "lz4: block checksum mismatch", { layer: LAYER, offset: (options.base ?? 0) + data + size });
      }
      checked.add("block-xxh32");
    }
    if (stored) {
      const room = out.max - out.length;
      if (size > room) {
        if (!out.partial) throw new KimageError("limit", `decompressed output exceeds the limit of ${out.max} bytes`, { layer: LAYER, offset: (options.base ?? 0) + data });
        out.write(input.subarray(data, data + room));
        return { end: pos, full: true };
      }
      out.write(input.subarray(data, data + size));
    } else {
      // Dependent blocks may refer to the previous 64 KiB of this frame's output.
      const dmin = indep ? out.length : Math.max(frameStart, out.length - 65536);
      if (runBlock(input, data, data + size, out, blockMax, dmin, options) === "full") return { end: pos, full: true };
    }
    pos = data + size + (blockSum ? 4 : 0);
  }
  if (contentSum) {
    if (input.length - pos < 4) throw truncated("content checksum runs past the end of the input", options, pos);
    // "Content checksum: xxh32 of the whole decoded content, seed 0"
    if (xxh32(out.buf, 0, frameStart, out.length) !== u32le(input, pos)) {
      throw new KimageError("codec-checksum", "lz4: content checksum mismatch", { layer: LAYER, offset: (options.base ?? 0) + pos });
    }
    checked.add("content-xxh32");
    pos += 4;
  }
  if (contentSize >= 0 && out.length - frameStart !== contentSize) {
    throw new KimageError("codec-size-mismatch", `lz4: frame decoded to ${out.length - frameStart} bytes, header says ${contentSize}`, { layer: LAYER, offset: (options.base ?? 0) + hdr + 2 });
  }
  return { end: pos, full: false };
}

function isSkippable(m: number): boolean {
  return m >>> 4 === 0x184d2a5;
}

/**
 * Decompresses an LZ4 stream: a legacy frame (`lz4 -l`, what the kernel's
 * `cmd_lz4` writes) or standard frames (with their optional block, content
 * and header checksums verified), skippable frames, and concatenations of
 * these. Decoding stops where the stream ends; trailing bytes, such as the
 * kernel's le32 size trailer, are not consumed.
 *
 * Errors: `codec-corrupt` (bad header or block), `codec-checksum`,
 * `codec-size-mismatch` (frame content size or `expectedSize`), `truncated`,
 * `limit` (past `maxOutput`), `unsupported` (dictionary frames).
 */
export function decompressLz4(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  const out = new OutputBuffer(LAYER, options, Math.min(8 << 20, Math.max(64, input.length * 3)));
  const checked = new Set<string>();
  let pos = 0;
  let any = false;
  let complete = true;
  for (;;) {
    if (input.length - pos < 4) {
      if (!any) throw truncated("input too short for an lz4 magic", options, pos);
      break;
    }
    const magic = u32le(input, pos);
    let r: { end: number; full: boolean };
    if (magic === LZ4_LEGACY_MAGIC) {
      r = legacy(input, pos + 4, out, options);
    } else if (magic === LZ4_FRAME_MAGIC) {
      r = frame(input, pos + 4, out, options, checked);
    } else if (isSkippable(magic)) {
      // "Skippable frames: magic 0x184D2A5?, a u32le size, then that many bytes"
      if (input.length - pos < 8) throw truncated("skippable frame header runs past the end of the input", options, pos);
      const size = u32le(input, pos + 4);
      if (size > input.length - pos - 8) throw truncated("skippable frame runs past the end of the input", options, pos);
      r = { end: pos + 8 + size, full: false };
    } else {
      if (!any) throw corrupt(`not an lz4 stream (magic 0x${magic.toString(16)})`, options, pos);
      break;
    }
    any = true;
    pos = r.end;
    if (r.full) {
      complete = false;
      break;
    }
  }
  if (complete && options.expectedSize !== undefined && !options.partial && out.length !== options.expectedSize) {
    throw new KimageError("codec-size-mismatch", `lz4: decoded ${out.length} bytes, expected ${options.expectedSize}`, { layer: LAYER, offset: options.base ?? 0 });
  }
  return { codec: "lz4", bytes: out.result(), consumed: pos, complete, checked: [...checked] };
}
