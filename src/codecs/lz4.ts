/**
 * LZ4: the legacy frame the kernel build writes (`lz4 -l`, magic 0x184C2102)
 * and the standard LZ4 frame format (magic 0x184D2204), with an own
 * bounds-checked block decoder.
 *
 * Sources (facts restated, no code copied): the LZ4 Block Format
 * description, the LZ4 Frame Format Description v1.6.x, and the kernel's
 * `lib/decompress_unlz4.c` for where a legacy stream ends.
 *
 * {@link createLz4StreamDecoder} decodes the same streams from chunks, with
 * the same block decoder, keeping only the 64 KiB window and one block.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { OutputBuffer, outputGuess } from "./output.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";
import { DEFAULT_STREAM_CHUNK, WindowOutput, type StreamSink } from "./window.js";
import { FeedingStreamDecoder } from "./stream-base.js";
import { Xxh32, xxh32 } from "./xxhash.js";

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
  const out = new OutputBuffer(LAYER, options, outputGuess(input.length));
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

// ---------------------------------------------------------------- streaming

// What the streaming decoder is waiting for.
/** A magic (4 bytes). */
const S_MAGIC = 0;
/** A legacy block's size (or the end of the legacy stream). */
const S_LEGACY_SIZE = 1;
/** A legacy block's data. */
const S_LEGACY_BLOCK = 2;
/** FLG and BD of a frame descriptor (and one more byte). */
const S_DESC = 3;
/** The rest of the frame descriptor and its HC byte. */
const S_DESC_REST = 4;
/** A frame block's size word (or the EndMark). */
const S_BLOCK_SIZE = 5;
/** A frame block's data and block checksum. */
const S_BLOCK = 6;
/** The content checksum. */
const S_SUM = 7;
/** A skippable frame's size. */
const S_SKIP_SIZE = 8;
/** A skippable frame's data. */
const S_SKIP = 9;

/** "Dependent blocks: a block may refer to up to 64 KB of the previous blocks' output." */
const LZ4_WINDOW = 64 << 10;


/** The streaming LZ4 decoder (see {@link createLz4StreamDecoder}). */
class Lz4StreamDecoder extends FeedingStreamDecoder {
  readonly codec = "lz4" as const;
  private readonly sink: StreamSink;
  private readonly base: number;
  private readonly chunk: number;
  private readonly expected: number | undefined;
  private readonly out: WindowOutput;
  private state = S_MAGIC;
  /** Fixed fields being gathered: `hlen` bytes from input offset `unitAt`. */
  private readonly hdr = new Uint8Array(32);
  private hlen = 0;
  private unitAt = 0;
  private any = false;
  /** The block being buffered: `need` bytes, `got` so far, in `blk`. */
  private blk = new Uint8Array(0);
  private need = 0;
  private got = 0;
  private stored = false;
  private left = 0;
  // the current frame
  private frameAt = 0;
  private frameStart = 0;
  private blockMax = 0;
  private indep = false;
  private blockSum = false;
  private contentSize = -1;
  private hash: Xxh32 | null = null;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    super();
    this.sink = sink;
    this.base = options.base ?? 0;
    this.chunk = Math.max(options.chunkSize ?? DEFAULT_STREAM_CHUNK, 1 << 12);
    this.expected = options.expectedSize !== undefined && options.expectedSize >= 0 ? options.expectedSize : undefined;
    const max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    this.out = new WindowOutput(LAYER, LZ4_WINDOW, sink, { maxOutput: max, base: this.base, chunkSize: this.chunk, borrow: options.borrow });
  }

  get produced(): number {
    return this.out.total;
  }


  private err(code: ErrorCode, msg: string, at: number): KimageError {
    return new KimageError(code, `lz4: ${msg}`, { layer: LAYER, offset: this.base + at });
  }

  private unit(state: number): void {
    this.state = state;
    this.hlen = 0;
    this.unitAt = this.pos;
  }

  private gather(c: Uint8Array, i: number, need: number): number {
    const n = Math.min(need - this.hlen, c.length - i);
    for (let k = 0; k < n; k++) this.hdr[this.hlen + k] = c[i + k] as number;
    this.hlen += n;
    this.pos += n;
    return i + n;
  }

  /** Expects `need` bytes of block data (and checksum) next. */
  private expectBlock(state: number, need: number): void {
    this.state = state;
    this.need = need;
    this.got = 0;
  }

  /**
   * Takes block bytes from `c` at `i`; returns the new `i`. A block wholly
   * inside `c` is decoded from `c` itself; otherwise it is gathered in
   * `blk` (which grows to the largest block seen).
   */
  private takeBlock(c: Uint8Array, i: number): number {
    if (this.got === 0 && c.length - i >= this.need) {
      const n = this.need;
      this.pos += n;
      this.block(c, i, i + n);
      return i + n;
    }
    if (this.blk.length < this.need) this.blk = new Uint8Array(this.need);
    const n = Math.min(this.need - this.got, c.length - i);
    this.blk.set(c.subarray(i, i + n), this.got);
    this.got += n;
    this.pos += n;
    if (this.got === this.need) this.block(this.blk, 0, this.need);
    return i + n;
  }

  protected feed(c: Uint8Array): void {
    let i = 0;
    while (i < c.length && !this.done) {
      switch (this.state) {
        case S_MAGIC:
          i = this.gather(c, i, 4);
          if (this.hlen === 4) this.magic();
          break;
        case S_LEGACY_SIZE: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          const size = u32le(this.hdr, 0);
          // A repeated legacy magic starts another legacy stream.
          if (size === LZ4_LEGACY_MAGIC) this.unit(S_LEGACY_SIZE);
          // The end of a legacy stream (see legacy()): then these 4 bytes are read as the next magic.
          else if (size === 0 || size > LEGACY_BOUND || (this.out.total > 0 && size === this.out.total % 2 ** 32)) this.magic();
          else this.expectBlock(S_LEGACY_BLOCK, size);
          break;
        }
        case S_LEGACY_BLOCK:
        case S_BLOCK:
          i = this.takeBlock(c, i);
          break;
        case S_DESC: {
          // FLG, BD and at least the HC byte, as the one-shot decoder wants before it checks them
          i = this.gather(c, i, 7);
          if (this.hlen < 7) break;
          const flg = this.hdr[4] as number;
          const bd = this.hdr[5] as number;
          // FLG: "bits 7-6 version, must be 01; bit 5 block independence; bit 4 block
          // checksum; bit 3 content size; bit 2 content checksum; bit 1 reserved (0);
          // bit 0 dictionary ID"
          if (flg >>> 6 !== 1) throw this.err("codec-corrupt", `unsupported frame version ${flg >>> 6}`, this.unitAt + 4);
          if (flg & 2) throw this.err("codec-corrupt", "reserved FLG bit set", this.unitAt + 4);
          // BD: "bit 7 reserved; bits 6-4 block maximum size (4: 64 KB, 5: 256 KB,
          // 6: 1 MB, 7: 4 MB); bits 3-0 reserved"
          if (bd & 0x8f) throw this.err("codec-corrupt", "reserved BD bits set", this.unitAt + 5);
          this.blockMax = FRAME_BLOCK_MAX[(bd >>> 4) & 7] as number;
          if (this.blockMax === 0) throw this.err("codec-corrupt", `invalid block maximum size code ${(bd >>> 4) & 7}`, this.unitAt + 5);
          this.state = S_DESC_REST;
          // a 2-byte descriptor is complete already
          if (!(flg & 0x09)) this.startFrame(flg, 2);
          break;
        }
        case S_DESC_REST: {
          const flg = this.hdr[4] as number;
          const descLen = 2 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
          i = this.gather(c, i, 4 + descLen + 1);
          if (this.hlen === 4 + descLen + 1) this.startFrame(flg, descLen);
          break;
        }
        case S_BLOCK_SIZE: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          const word = u32le(this.hdr, 0);
          // "EndMark: a block size of 0x00000000"
          if (word === 0) {
            if (this.hash) this.unit(S_SUM);
            else this.endFrame();
            break;
          }
          // "highest bit set: the block is stored uncompressed"
          this.stored = word >>> 31 === 1;
          const size = word & 0x7fffffff;
          if (size > this.blockMax) throw this.err("codec-corrupt", `block of ${size} bytes exceeds the frame's block maximum of ${this.blockMax}`, this.unitAt);
          this.expectBlock(S_BLOCK, size + (this.blockSum ? 4 : 0));
          // an empty stored block without a checksum is complete already
          if (this.need === 0) this.block(this.hdr, 0, 0);
          break;
        }
        case S_SUM: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          // "Content checksum: xxh32 of the whole decoded content, seed 0"
          if ((this.hash as Xxh32).digest() !== u32le(this.hdr, 0)) throw this.err("codec-checksum", "content checksum mismatch", this.unitAt);
          this.checks.add("content-xxh32");
          this.endFrame();
          break;
        }
        case S_SKIP_SIZE:
          i = this.gather(c, i, 8);
          if (this.hlen < 8) break;
          this.left = u32le(this.hdr, 4);
          this.state = S_SKIP;
          if (this.left === 0) this.unit(S_MAGIC);
          break;
        case S_SKIP: {
          const n = Math.min(this.left, c.length - i);
          i += n;
          this.pos += n;
          this.left -= n;
          if (this.left === 0) this.unit(S_MAGIC);
          break;
        }
      }
    }
  }

  /** The 4 bytes in `hdr` (from `unitAt`) are where a magic is expected. */
  private magic(): void {
    const magic = u32le(this.hdr, 0);
    if (magic === LZ4_LEGACY_MAGIC) {
      this.any = true;
      this.unit(S_LEGACY_SIZE);
    } else if (magic === LZ4_FRAME_MAGIC) {
      this.any = true;
      this.frameAt = this.unitAt;
      this.state = S_DESC;
    } else if (isSkippable(magic)) {
      // "Skippable frames: magic 0x184D2A5?, a u32le size, then that many bytes"
      this.any = true;
      this.state = S_SKIP_SIZE;
    } else if (!this.any) {
      throw this.err("codec-corrupt", `not an lz4 stream (magic 0x${magic.toString(16)})`, this.unitAt);
    } else {
      this.finish(this.unitAt);
    }
  }

  /** The frame descriptor and HC are in `hdr`. */
  private startFrame(flg: number, descLen: number): void {
    // "HC: the second byte of xxh32(descriptor, seed 0): (xxh32 >> 8) & 0xFF"
    const hc = (xxh32(this.hdr, 0, 4, 4 + descLen) >>> 8) & 0xff;
    if (hc !== this.hdr[4 + descLen]) throw this.err("codec-checksum", "frame descriptor checksum mismatch", this.unitAt + 4 + descLen);
    if (flg & 0x01) throw this.err("unsupported", "frames that need a dictionary are not supported", this.unitAt + descLen);
    this.checks.add("header-xxh32");
    this.indep = (flg & 0x20) !== 0;
    this.blockSum = (flg & 0x10) !== 0;
    this.contentSize = flg & 0x08 ? u32le(this.hdr, 10) * 2 ** 32 + u32le(this.hdr, 6) : -1;
    this.hash = flg & 0x04 ? new Xxh32() : null;
    this.frameStart = this.out.total;
    this.unit(S_BLOCK_SIZE);
  }

  /** A whole block is `src[sp, send)`: verify and decode it. */
  private block(src: Uint8Array, sp: number, send: number): void {
    const out = this.out;
    const legacy = this.state === S_LEGACY_BLOCK;
    // the block's data starts after its 4-byte size
    const at = this.unitAt + 4;
    const start = out.total;
    if (legacy) {
      this.decode(src, sp, send, LEGACY_BLOCK, true, at);
    } else {
      let end = send;
      if (this.blockSum) {
        end -= 4;
        // "Block checksum: xxh32 of the raw (compressed or stored) block data"
        if (xxh32(src, 0, sp, end) !== u32le(src, end)) throw this.err("codec-checksum", "block checksum mismatch", at + (end - sp));
        this.checks.add("block-xxh32");
      }
      if (this.stored) {
        if (end - sp > out.max - out.total) throw this.err("limit", `decompressed output exceeds the limit of ${out.max} bytes`, at);
        out.write(src.subarray(sp, end));
      } else {
        this.decode(src, sp, end, this.blockMax, this.indep, at);
      }
      if (this.hash) this.hash.update(out.buf, start - out.flushed, out.length);
      if (this.contentSize >= 0 && out.total - this.frameStart > this.contentSize) {
        throw this.err("codec-size-mismatch", `frame decoded to more than the ${this.contentSize} bytes its header says`, this.frameAt + 6);
      }
    }
    if (this.expected !== undefined && out.total > this.expected) {
      throw this.err("codec-size-mismatch", `decoded more than the expected ${this.expected} bytes`, 0);
    }
    out.drain(this.chunk, false);
    this.unit(legacy ? S_LEGACY_SIZE : S_BLOCK_SIZE);
  }

  /** Decodes one LZ4 block `src[sp, send)` (data at input offset `at`) into the window. */
  private decode(src: Uint8Array, sp: number, send: number, blockMax: number, indep: boolean, at: number): void {
    const out = this.out;
    const want = Math.min(blockMax, out.max - out.total);
    out.ensure(want);
    const start = out.length;
    // Dependent blocks may refer to the previous 64 KiB of this frame's output.
    const dmin = indep ? start : Math.max(this.frameStart - out.flushed, start - LZ4_WINDOW);
    const dp = decodeBlock(src, sp, send, out.buf, start, start + want, dmin);
    if (dp === CORRUPT) throw this.err("codec-corrupt", "invalid block data (bad length, offset or truncated sequence)", at + (errAt - sp));
    if (dp === OVERFLOW) {
      if (want === blockMax) throw this.err("codec-corrupt", `block decodes to more than its maximum of ${blockMax} bytes`, at);
      throw this.err("limit", `decompressed output exceeds the limit of ${out.max} bytes`, at);
    }
    out.length = dp;
  }

  private endFrame(): void {
    if (this.contentSize >= 0 && this.out.total - this.frameStart !== this.contentSize) {
      throw this.err("codec-size-mismatch", `frame decoded to ${this.out.total - this.frameStart} bytes, header says ${this.contentSize}`, this.frameAt + 6);
    }
    this.hash = null;
    this.contentSize = -1;
    this.unit(S_MAGIC);
  }

  private finish(at: number): void {
    this.out.drain(this.chunk, true);
    if (this.expected !== undefined && this.out.total !== this.expected) {
      throw this.err("codec-size-mismatch", `decoded ${this.out.total} bytes, expected ${this.expected}`, 0);
    }
    this.endPos = at;
    this.done = true;
  }

  protected finishInput(): void {
    switch (this.state) {
      case S_MAGIC:
        if (this.any) return this.finish(this.unitAt);
        throw this.err("truncated", "input too short for an lz4 magic", this.unitAt);
      case S_LEGACY_SIZE:
        // "There is no end mark": a legacy stream may end here.
        return this.finish(this.unitAt);
      case S_LEGACY_BLOCK:
        throw this.err("truncated", `legacy block of ${this.need} bytes runs past the end of the input`, this.unitAt);
      case S_DESC:
      case S_DESC_REST:
        throw this.err("truncated", "frame descriptor runs past the end of the input", this.unitAt + 4);
      case S_BLOCK_SIZE:
        throw this.err("truncated", "block size runs past the end of the input", this.unitAt);
      case S_BLOCK:
        throw this.err("truncated", "block runs past the end of the input", this.unitAt);
      case S_SUM:
        throw this.err("truncated", "content checksum runs past the end of the input", this.unitAt);
      case S_SKIP_SIZE:
        throw this.err("truncated", "skippable frame header runs past the end of the input", this.unitAt);
      default:
        throw this.err("truncated", "skippable frame runs past the end of the input", this.unitAt);
    }
  }
}

/**
 * A streaming LZ4 decoder: the same streams, checks and errors as
 * {@link decompressLz4} (legacy frames, standard frames, skippable frames
 * and their concatenations), fed in chunks of any size. Quotes are from the
 * LZ4 Frame Format Description 1.6.1: "The data can be produced or
 * consumed, even for an arbitrarily long sequentially presented input data
 * stream, using only an a priori bounded amount of intermediate storage".
 *
 * What it holds, at most:
 * - The 64 KiB window: "If this flag is set to “0”, each block depends on
 *   previous ones (up to LZ4 window size, which is 64 KB)." Legacy blocks
 *   are independent.
 * - One block's output ("Block Maximum Size ... is useful to help the
 *   decoder allocate memory": 64 KB to 4 MB; the legacy format's "Fixed
 *   block size : 8 MB") and one output chunk.
 * - One block's input, gathered only when a block does not arrive within
 *   one chunk: up to the Block Maximum Size plus its checksum, or
 *   LZ4_compressBound(8 MiB) for a legacy block. The block checksum is
 *   checked on it before decoding, as the format intends: "calculated by
 *   using the xxHash-32 algorithm on the raw (undecoded) data block, and a
 *   seed of zero. The intention is to detect data corruption (storage or
 *   transmission errors) before decoding."
 * - The XXH32 state ({@link Xxh32}): "The content checksum is the result of
 *   xxh32() hash function digesting the original (decoded) data as input,
 *   and a seed of zero."
 *
 * Blocks: "The highest bit is “1” if data in the block is uncompressed";
 * "The flow of blocks ends when the last data block has a size of “0”." A
 * legacy stream has no end mark: "The last block is detected either because
 * it is followed by the “EOF” (End of File) mark, or because it is followed
 * by a known Frame Magic Number"; like {@link decompressLz4}, a zero or
 * impossible size, or the kernel's le32 size trailer, ends it too, and those
 * bytes are not consumed. Decoded bytes are emitted in `chunkSize` pieces
 * (default 1 MiB) as each block is decoded.
 *
 * Errors: those of {@link decompressLz4}, with the same codes at the same
 * offsets: `codec-corrupt`, `codec-checksum`, `codec-size-mismatch`,
 * `truncated` (from `end()`), `limit` (past `maxOutput`; nothing past it is
 * emitted), `unsupported` (dictionary frames); output past `expectedSize` is
 * reported as soon as it happens.
 */
export function createLz4StreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new Lz4StreamDecoder(sink, options);
}
