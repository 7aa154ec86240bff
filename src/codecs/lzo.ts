/**
 * LZO: the lzop container (what the kernel's `cmd_lzo` writes with
 * `lzop -9`) around LZO1X blocks, with an own bounds-checked LZO1X
 * decompressor and the container's Adler-32 / CRC-32 checks.
 *
 * Sources (facts restated, no code copied): the lzop file layout as lzop
 * 1.04 writes it and the kernel's `lib/decompress_unlzo.c` reads it, and the
 * LZO1X instruction encoding as the kernel documents it in
 * `Documentation/staging/lzo.rst`.
 *
 * {@link createLzoStreamDecoder} decodes the same files from chunks, with
 * the same LZO1X decoder, one block at a time.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { crc32 } from "./crc32.js";
import { OutputBuffer, outputGuess } from "./output.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";
import { DEFAULT_STREAM_CHUNK, WindowOutput, type StreamSink } from "./window.js";
import { FeedingStreamDecoder } from "./stream-base.js";

const LAYER = "lzo";

/** The lzop magic: 89 4C 5A 4F 00 0D 0A 1A 0A. */
export const LZOP_MAGIC = Uint8Array.of(0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a);

// lzop header flags (lzop's conf.h).
const F_ADLER32_D = 0x1;
const F_ADLER32_C = 0x2;
const F_H_EXTRA_FIELD = 0x40;
const F_CRC32_D = 0x100;
const F_CRC32_C = 0x200;
const F_MULTIPART = 0x400;
const F_H_FILTER = 0x800;
const F_H_CRC32 = 0x1000;
/** Bits that must be zero: everything outside F_MASK (0x3fff), the OS (bits 24-31) and charset (20-23) fields. */
const F_RESERVED = 0x000fc000;

/** lzop's MAX_BLOCK_SIZE: no block may decode to more than 64 MiB. */
const MAX_BLOCK = 64 << 20;

/** Adler-32 (RFC 1950) of `d[start, end)` continuing from `adler` (start with 1). */
export function adler32(d: Uint8Array, adler = 1, start = 0, end = d.length): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  let i = start;
  while (i < end) {
    // 5552 is the largest n with 255n(n+1)/2 + (n+1)(65520) < 2^32... kept well inside 2^53 here.
    const stop = Math.min(end, i + 5552);
    for (; i < stop; i++) {
      a += d[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function u32be(d: Uint8Array, i: number): number {
  return (((d[i] as number) << 24) | ((d[i + 1] as number) << 16) | ((d[i + 2] as number) << 8) | (d[i + 3] as number)) >>> 0;
}
function u16be(d: Uint8Array, i: number): number {
  return ((d[i] as number) << 8) | (d[i + 1] as number);
}

// ---------------------------------------------------------------- LZO1X

const CORRUPT = -1;
const OVERFLOW = -2;
let errAt = 0;

/**
 * Decompresses one LZO1X block `src[sp, send)` into `dst[dp, dend)`; matches
 * may reach back to `dmin`. Returns the new output position, {@link CORRUPT}
 * (see {@link errAt}) or {@link OVERFLOW} (output written up to `dend`).
 *
 * The encoding (lzo.rst): a first byte above 17 copies `byte - 17` literals
 * first. Then each instruction byte `t`:
 * - `0..15` after an instruction that copied no literals (state 0): a literal
 *   run of `3 + (t || 15 + 255*zero bytes + next non-zero byte)` bytes, then
 *   state 4;
 * - `0..15` in state 1..3: "copy 2 bytes from <= 1kB distance", distance
 *   `(H << 2) + (t >> 2) + 1` with H the next byte; in state 4: "copy 3 bytes
 *   from 2..3 kB distance", distance `(H << 2) + (t >> 2) + 2049`;
 * - `16..31` (M4): length `2 + (t & 7 || 7 + long)`, distance
 *   `16384 + ((t & 8) << 11) + (LE16 >> 2)`; "end of stream is reached if
 *   distance == 16384";
 * - `32..63` (M3): length `2 + (t & 31 || 31 + long)`, distance `(LE16 >> 2) + 1`;
 * - `64..127` (M2): length `3 + ((t >> 5) & 1)`, `128..255`: length
 *   `5 + ((t >> 5) & 3)`; distance `(H << 3) + ((t >> 2) & 7) + 1`.
 * Every match's low 2 bits S (of `t` or of the LE16) say how many literals
 * (0..3) follow it, and become the state.
 */
function lzo1x(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number, dmin: number): number {
  let state = 0;
  let t: number;
  if (sp >= send) return (errAt = sp), CORRUPT;
  if ((src[sp] as number) > 17) {
    t = (src[sp++] as number) - 17;
    if (t > send - sp) return (errAt = sp), CORRUPT;
    if (t > dend - dp) {
      dst.set(src.subarray(sp, sp + (dend - dp)), dp);
      return OVERFLOW;
    }
    for (let k = 0; k < t; k++) dst[dp + k] = src[sp + k] as number;
    sp += t;
    dp += t;
    state = t < 4 ? t : 4;
  }
  for (;;) {
    if (sp >= send) return (errAt = sp), CORRUPT;
    t = src[sp++] as number;
    let len: number;
    let dist: number;
    let s: number;
    if (t < 16) {
      if (state === 0) {
        // literal run
        len = t;
        if (len === 0) {
          len = 15;
          for (;;) {
            if (sp >= send) return (errAt = sp), CORRUPT;
            const b = src[sp++] as number;
            if (b !== 0) {
              len += b;
              break;
            }
            len += 255;
          }
        }
        len += 3;
        if (len > send - sp) return (errAt = sp), CORRUPT;
        if (len > dend - dp) {
          dst.set(src.subarray(sp, sp + (dend - dp)), dp);
          return OVERFLOW;
        }
        if (len < 32) {
          for (let k = 0; k < len; k++) dst[dp + k] = src[sp + k] as number;
        } else {
          dst.set(src.subarray(sp, sp + len), dp);
        }
        sp += len;
        dp += len;
        state = 4;
        continue;
      }
      if (sp >= send) return (errAt = sp), CORRUPT;
      const h = src[sp++] as number;
      if (state === 4) {
        dist = (h << 2) + (t >> 2) + 2049;
        len = 3;
      } else {
        dist = (h << 2) + (t >> 2) + 1;
        len = 2;
      }
      s = t & 3;
    } else if (t < 64) {
      let mask: number;
      if (t < 32) {
        mask = 7;
      } else {
        mask = 31;
      }
      len = t & mask;
      if (len === 0) {
        len = mask;
        for (;;) {
          if (sp >= send) return (errAt = sp), CORRUPT;
          const b = src[sp++] as number;
          if (b !== 0) {
            len += b;
            break;
          }
          len += 255;
        }
      }
      len += 2;
      if (send - sp < 2) return (errAt = sp), CORRUPT;
      const w = (src[sp] as number) | ((src[sp + 1] as number) << 8);
      sp += 2;
      s = w & 3;
      if (t < 32) {
        dist = 16384 + ((t & 8) << 11) + (w >> 2);
        if (dist === 16384) {
          // end of stream marker
          return dp;
        }
      } else {
        dist = (w >> 2) + 1;
      }
    } else {
      if (sp >= send) return (errAt = sp), CORRUPT;
      const h = src[sp++] as number;
      dist = (h << 3) + ((t >> 2) & 7) + 1;
      len = t < 128 ? 3 + ((t >> 5) & 1) : 5 + ((t >> 5) & 3);
      s = t & 3;
    }
    // the match
    if (dist > dp - dmin) return (errAt = sp - 1), CORRUPT;
    let from = dp - dist;
    if (len > dend - dp) {
      const room = dend - dp;
      for (let k = 0; k < room; k++) dst[dp + k] = dst[from + k] as number;
      return OVERFLOW;
    }
    if (dist >= len && len > 32) {
      dst.copyWithin(dp, from, from + len);
      dp += len;
    } else {
      const end = dp + len;
      while (dp < end) dst[dp++] = dst[from++] as number;
    }
    // trailing literals
    if (s > 0) {
      if (s > send - sp) return (errAt = sp), CORRUPT;
      if (s > dend - dp) {
        dst.set(src.subarray(sp, sp + (dend - dp)), dp);
        return OVERFLOW;
      }
      dst[dp++] = src[sp++] as number;
      if (s > 1) dst[dp++] = src[sp++] as number;
      if (s > 2) dst[dp++] = src[sp++] as number;
    }
    state = s;
  }
}

// ---------------------------------------------------------------- lzop container

function err(code: "codec-corrupt" | "truncated" | "codec-checksum" | "unsupported" | "codec-size-mismatch" | "limit", msg: string, options: DecompressOptions, at: number): KimageError {
  return new KimageError(code, `lzo: ${msg}`, { layer: LAYER, offset: (options.base ?? 0) + at });
}

function hasMagic(d: Uint8Array, pos: number): boolean {
  if (d.length - pos < LZOP_MAGIC.length) return false;
  for (let i = 0; i < LZOP_MAGIC.length; i++) if (d[pos + i] !== LZOP_MAGIC[i]) return false;
  return true;
}

/** A parsed lzop header, or where it ran short: `at` the field that is cut, `need` the bytes (from the magic) needed to go on. */
type Header = { flags: number; pos: number; short?: undefined } | { short: true; at: number; need: number };

/**
 * Parses the lzop header at `pos` (at the magic) from `input[pos, end)`,
 * without the extra field; returns the flags and where the header ends, or
 * where it ran short.
 */
function parseHeader(input: Uint8Array, pos: number, end: number, options: DecompressOptions, checked: Set<string>): Header {
  const start = pos + 9;
  let p = start;
  const short = (n: number): boolean => end - p < n;
  const cut = (n: number): Header => ({ short: true, at: p, need: p + n - pos });
  // "version (u16be), library version (u16be), [version needed to extract
  // (u16be) if version >= 0x0940], method (u8), [level (u8) if version >=
  // 0x0940], flags (u32be), [filter (u32be) if F_H_FILTER], mode (u32be),
  // mtime low (u32be), [mtime high (u32be) if version >= 0x0940], name length
  // (u8) and name, then the header checksum (u32be)"
  if (short(4)) return cut(4);
  const version = u16be(input, p);
  p += 4;
  if (version < 0x0900) throw err("codec-corrupt", `unsupported lzop version 0x${version.toString(16)}`, options, start);
  if (version >= 0x0940) {
    if (short(2)) return cut(2);
    const needed = u16be(input, p);
    if (needed > 0x1040 || needed < 0x0900) throw err("unsupported", `lzop version needed to extract 0x${needed.toString(16)} is not supported`, options, p);
    p += 2;
  }
  if (short(1)) return cut(1);
  const method = input[p++] as number;
  // methods 1..3 (LZO1X_1, LZO1X_1_15, LZO1X_999) all produce LZO1X data
  if (method < 1 || method > 3) throw err("unsupported", `lzop method ${method} is not LZO1X`, options, p - 1);
  if (version >= 0x0940) {
    if (short(1)) return cut(1);
    p++;
  }
  if (short(4)) return cut(4);
  const flags = u32be(input, p);
  if (flags & F_RESERVED) throw err("codec-corrupt", "reserved lzop flag bits set", options, p);
  if (flags & F_MULTIPART) throw err("unsupported", "multi-part lzop files are not supported", options, p);
  p += 4;
  if (flags & F_H_FILTER) throw err("unsupported", "lzop filters are not supported", options, p - 4);
  const fixed = version >= 0x0940 ? 12 : 8;
  if (short(fixed)) return cut(fixed);
  p += fixed;
  if (short(1)) return cut(1);
  const nameLen = input[p++] as number;
  if (short(nameLen + 4)) return cut(nameLen + 4);
  p += nameLen;
  const want = u32be(input, p);
  // "the header checksum covers the bytes from the version through the name:
  // Adler-32, or CRC-32 if F_H_CRC32"
  const got = flags & F_H_CRC32 ? crc32(input.subarray(start, p)) : adler32(input, 1, start, p);
  if (got !== want) throw err("codec-checksum", "lzop header checksum mismatch", options, p);
  checked.add(flags & F_H_CRC32 ? "header-crc32" : "header-adler32");
  p += 4;
  return { flags, pos: p };
}

/** Parses an lzop header at `pos` (at the magic), with its extra field; returns the flags and where the blocks start. */
function header(input: Uint8Array, pos: number, options: DecompressOptions, checked: Set<string>): { flags: number; pos: number } {
  const h = parseHeader(input, pos, input.length, options, checked);
  if (h.short) throw err("truncated", "lzop header runs past the end of the input", options, h.at);
  let p = h.pos;
  if (h.flags & F_H_EXTRA_FIELD) {
    if (input.length - p < 4) throw err("truncated", "lzop header runs past the end of the input", options, p);
    const len = u32be(input, p);
    if (len > input.length - p - 8) throw err("truncated", "lzop extra field runs past the end of the input", options, p);
    p += 4 + len + 4;
  }
  return { flags: h.flags, pos: p };
}

/**
 * Decompresses an lzop file: the header (its checksum verified), then blocks
 * of "u32be uncompressed size (0 ends the stream), u32be compressed size,
 * the checksums the flags ask for (Adler-32 / CRC-32 of the uncompressed
 * data, then of the compressed data when it is smaller), and the data,
 * stored as is when both sizes are equal". Every checksum present is
 * verified. Further lzop members are decoded only if the bytes after the end
 * mark start with the lzop magic; other trailing bytes are left unconsumed.
 *
 * Errors: `codec-corrupt`, `codec-checksum`, `truncated`, `unsupported`
 * (other methods, filters, multi-part), `codec-size-mismatch`, `limit`.
 */
export function decompressLzo(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  if (!hasMagic(input, 0)) {
    if (input.length < LZOP_MAGIC.length) throw err("truncated", "input too short for the lzop magic", options, 0);
    throw err("codec-corrupt", "not an lzop file (bad magic)", options, 0);
  }
  const out = new OutputBuffer(LAYER, options, outputGuess(input.length));
  const checked = new Set<string>();
  let pos = 0;
  let complete = true;
  member: while (hasMagic(input, pos)) {
    const h = header(input, pos, options, checked);
    const flags = h.flags;
    pos = h.pos;
    for (;;) {
      if (input.length - pos < 4) throw err("truncated", "block header runs past the end of the input", options, pos);
      const dlen = u32be(input, pos);
      if (dlen === 0) {
        pos += 4;
        break;
      }
      if (dlen > MAX_BLOCK) throw err("codec-corrupt", `block of ${dlen} bytes exceeds lzop's maximum block size`, options, pos);
      if (input.length - pos < 8) throw err("truncated", "block header runs past the end of the input", options, pos);
      const clen = u32be(input, pos + 4);
      if (clen > dlen) throw err("codec-corrupt", "compressed block is larger than its uncompressed size", options, pos + 4);
      let p = pos + 8;
      const compressed = clen < dlen;
      const nsum =
        (flags & F_ADLER32_D ? 1 : 0) + (flags & F_CRC32_D ? 1 : 0) + (compressed ? (flags & F_ADLER32_C ? 1 : 0) + (flags & F_CRC32_C ? 1 : 0) : 0);
      if (input.length - p < nsum * 4 + clen) throw err("truncated", "block runs past the end of the input", options, pos);
      const dAdler = flags & F_ADLER32_D ? u32be(input, p) : -1;
      if (flags & F_ADLER32_D) p += 4;
      const dCrc = flags & F_CRC32_D ? u32be(input, p) : -1;
      if (flags & F_CRC32_D) p += 4;
      // "the compressed-data checksums are only present when the block is compressed"
      if (compressed && flags & F_ADLER32_C) {
        if (adler32(input, 1, p + 4 * ((flags & F_CRC32_C) ? 2 : 1), p + 4 * ((flags & F_CRC32_C) ? 2 : 1) + clen) !== u32be(input, p)) {
          throw err("codec-checksum", "compressed block Adler-32 mismatch", options, p);
        }
        checked.add("adler32");
        p += 4;
      }
      if (compressed && flags & F_CRC32_C) {
        if (crc32(input.subarray(p + 4, p + 4 + clen)) !== u32be(input, p)) throw err("codec-checksum", "compressed block CRC-32 mismatch", options, p);
        checked.add("crc32");
        p += 4;
      }
      const room = out.max - out.length;
      const start = out.length;
      if (dlen > room) {
        if (!out.partial) throw err("limit", `decompressed output exceeds the limit of ${out.max} bytes`, options, pos);
        out.ensure(room);
        if (compressed) {
          const r = lzo1x(input, p, p + clen, out.buf, start, start + room, start);
          if (r === CORRUPT) throw err("codec-corrupt", "invalid LZO1X data", options, errAt);
        } else {
          out.buf.set(input.subarray(p, p + room), start);
        }
        out.length = out.max;
        complete = false;
        break member;
      }
      out.ensure(dlen);
      if (compressed) {
        const r = lzo1x(input, p, p + clen, out.buf, start, start + dlen, start);
        if (r === CORRUPT) throw err("codec-corrupt", "invalid LZO1X data", options, errAt);
        if (r !== start + dlen) throw err("codec-corrupt", "LZO1X block decodes to a different size than its header says", options, pos);
      } else {
        out.buf.set(input.subarray(p, p + clen), start);
      }
      out.length = start + dlen;
      if (dAdler >= 0) {
        if (adler32(out.buf, 1, start, start + dlen) !== dAdler) throw err("codec-checksum", "uncompressed block Adler-32 mismatch", options, pos + 8);
        checked.add("adler32");
      }
      if (dCrc >= 0) {
        if (crc32(out.buf.subarray(start, start + dlen)) !== dCrc) throw err("codec-checksum", "uncompressed block CRC-32 mismatch", options, pos + 8);
        checked.add("crc32");
      }
      pos = p + clen;
    }
  }
  if (complete && options.expectedSize !== undefined && !options.partial && out.length !== options.expectedSize) {
    throw err("codec-size-mismatch", `decoded ${out.length} bytes, expected ${options.expectedSize}`, options, 0);
  }
  return { codec: "lzo", bytes: out.result(), consumed: pos, complete, checked: [...checked] };
}

// ---------------------------------------------------------------- streaming

// What the streaming decoder is waiting for.
/** The first member's magic. */
const S_MAGIC = 0;
/** The rest of a member's header. */
const S_HEADER = 1;
/** The extra field's length. */
const S_EXTRA_LEN = 2;
/** The extra field and its checksum (skipped). */
const S_EXTRA = 3;
/** A block's uncompressed size (0 ends the member). */
const S_DLEN = 4;
/** The rest of a block header: compressed size and checksums. */
const S_BLOCK_HDR = 5;
/** A block's data. */
const S_BLOCK = 6;
/** After a member: another lzop magic, or the end of the stream. */
const S_NEXT = 7;


/** The streaming lzop decoder (see {@link createLzoStreamDecoder}). */
class LzoStreamDecoder extends FeedingStreamDecoder {
  readonly codec = "lzo" as const;
  private readonly sink: StreamSink;
  private readonly options: StreamDecodeOptions;
  private readonly base: number;
  private readonly chunk: number;
  private readonly expected: number | undefined;
  private readonly out: WindowOutput;
  private state = S_MAGIC;
  /** Fields being gathered: `hlen` bytes from input offset `unitAt` (a whole lzop header fits). */
  private readonly hdr = new Uint8Array(320);
  private hlen = 0;
  private unitAt = 0;
  /** Bytes of `hdr` to gather before parsing again. */
  private want = 0;
  private flags = 0;
  private left = 0;
  /** The block being buffered: `need` bytes, `got` so far, in `blk`. */
  private blk = new Uint8Array(0);
  private need = 0;
  private got = 0;
  private dlen = 0;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    super();
    this.sink = sink;
    this.options = options;
    this.base = options.base ?? 0;
    this.chunk = Math.max(options.chunkSize ?? DEFAULT_STREAM_CHUNK, 1 << 12);
    this.expected = options.expectedSize !== undefined && options.expectedSize >= 0 ? options.expectedSize : undefined;
    const max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    // lzop compresses each block on its own: no match reaches into an earlier block, so no window.
    this.out = new WindowOutput(LAYER, 0, sink, { maxOutput: max, base: this.base, chunkSize: this.chunk, borrow: options.borrow });
  }

  get produced(): number {
    return this.out.total;
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

  protected feed(c: Uint8Array): void {
    let i = 0;
    while (i < c.length && !this.done) {
      switch (this.state) {
        case S_MAGIC:
          i = this.gather(c, i, 9);
          if (this.hlen < 9) break;
          for (let k = 0; k < 9; k++) if (this.hdr[k] !== LZOP_MAGIC[k]) throw err("codec-corrupt", "not an lzop file (bad magic)", this.options, 0);
          this.state = S_HEADER;
          this.want = 9;
          break;
        case S_NEXT: {
          // "Further lzop members are decoded only if the bytes after the end mark start with the lzop magic"
          const k = this.hlen;
          i = this.gather(c, i, k + 1);
          if (this.hdr[k] !== LZOP_MAGIC[k]) {
            this.finish(this.unitAt);
          } else if (this.hlen === 9) {
            this.state = S_HEADER;
            this.want = 9;
          }
          break;
        }
        case S_HEADER: {
          i = this.gather(c, i, this.want);
          if (this.hlen < this.want) break;
          const h = parseHeader(this.hdr, 0, this.hlen, { base: this.base + this.unitAt }, this.checks);
          if (h.short) {
            this.want = h.need;
            break;
          }
          this.flags = h.flags;
          if (h.flags & F_H_EXTRA_FIELD) this.unit(S_EXTRA_LEN);
          else this.unit(S_DLEN);
          break;
        }
        case S_EXTRA_LEN:
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          this.left = u32be(this.hdr, 0) + 4;
          this.state = S_EXTRA;
          break;
        case S_EXTRA: {
          const n = Math.min(this.left, c.length - i);
          i += n;
          this.pos += n;
          this.left -= n;
          if (this.left === 0) this.unit(S_DLEN);
          break;
        }
        case S_DLEN: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          const dlen = u32be(this.hdr, 0);
          if (dlen === 0) {
            this.unit(S_NEXT);
            break;
          }
          if (dlen > MAX_BLOCK) throw this.fail("codec-corrupt", `block of ${dlen} bytes exceeds lzop's maximum block size`, this.unitAt);
          this.dlen = dlen;
          this.state = S_BLOCK_HDR;
          this.want = 8;
          break;
        }
        case S_BLOCK_HDR: {
          i = this.gather(c, i, this.want);
          if (this.hlen < this.want) break;
          if (this.want === 8) {
            const clen = u32be(this.hdr, 4);
            if (clen > this.dlen) throw this.fail("codec-corrupt", "compressed block is larger than its uncompressed size", this.unitAt + 4);
            this.want = 8 + 4 * this.sums(clen < this.dlen);
            if (this.hlen < this.want) break;
          }
          this.need = u32be(this.hdr, 4);
          this.got = 0;
          this.state = S_BLOCK;
          if (this.need === 0) this.block(this.blk, 0, 0);
          break;
        }
        case S_BLOCK: {
          if (this.got === 0 && c.length - i >= this.need) {
            // the whole block is in this chunk: decode it from there
            const n = this.need;
            this.pos += n;
            i += n;
            this.block(c, i - n, i);
            break;
          }
          if (this.blk.length < this.need) this.blk = new Uint8Array(this.need);
          const n = Math.min(this.need - this.got, c.length - i);
          this.blk.set(c.subarray(i, i + n), this.got);
          this.got += n;
          this.pos += n;
          i += n;
          if (this.got === this.need) this.block(this.blk, 0, this.need);
          break;
        }
      }
    }
  }

  private fail(code: "codec-corrupt" | "truncated" | "codec-checksum" | "codec-size-mismatch" | "limit", msg: string, at: number): KimageError {
    return err(code, msg, this.options, at);
  }

  /** How many checksums a block header carries (the compressed-data ones only when the block is compressed). */
  private sums(compressed: boolean): number {
    const f = this.flags;
    return (f & F_ADLER32_D ? 1 : 0) + (f & F_CRC32_D ? 1 : 0) + (compressed ? (f & F_ADLER32_C ? 1 : 0) + (f & F_CRC32_C ? 1 : 0) : 0);
  }

  /** The block's header is in `hdr` (from `unitAt`) and its data is `src[sp, send)`. */
  private block(src: Uint8Array, sp: number, send: number): void {
    const f = this.flags;
    const h = this.hdr;
    const at = this.unitAt;
    const dlen = this.dlen;
    const clen = send - sp;
    const compressed = clen < dlen;
    let q = 8;
    const dAdler = f & F_ADLER32_D ? u32be(h, q) : -1;
    if (f & F_ADLER32_D) q += 4;
    const dCrc = f & F_CRC32_D ? u32be(h, q) : -1;
    if (f & F_CRC32_D) q += 4;
    // "the compressed-data checksums are only present when the block is compressed"
    if (compressed && f & F_ADLER32_C) {
      if (adler32(src, 1, sp, send) !== u32be(h, q)) throw this.fail("codec-checksum", "compressed block Adler-32 mismatch", at + q);
      this.checks.add("adler32");
      q += 4;
    }
    if (compressed && f & F_CRC32_C) {
      if (crc32(src.subarray(sp, send)) !== u32be(h, q)) throw this.fail("codec-checksum", "compressed block CRC-32 mismatch", at + q);
      this.checks.add("crc32");
      q += 4;
    }
    const out = this.out;
    if (dlen > out.max - out.total) throw this.fail("limit", `decompressed output exceeds the limit of ${out.max} bytes`, at);
    out.ensure(dlen);
    const start = out.length;
    if (compressed) {
      const r = lzo1x(src, sp, send, out.buf, start, start + dlen, start);
      // the data starts after the header fields
      if (r === CORRUPT) throw this.fail("codec-corrupt", "invalid LZO1X data", at + q + (errAt - sp));
      if (r !== start + dlen) throw this.fail("codec-corrupt", "LZO1X block decodes to a different size than its header says", at);
    } else {
      out.buf.set(src.subarray(sp, send), start);
    }
    out.length = start + dlen;
    if (dAdler >= 0) {
      if (adler32(out.buf, 1, start, start + dlen) !== dAdler) throw this.fail("codec-checksum", "uncompressed block Adler-32 mismatch", at + 8);
      this.checks.add("adler32");
    }
    if (dCrc >= 0) {
      if (crc32(out.buf.subarray(start, start + dlen)) !== dCrc) throw this.fail("codec-checksum", "uncompressed block CRC-32 mismatch", at + 8);
      this.checks.add("crc32");
    }
    if (this.expected !== undefined && out.total > this.expected) {
      throw this.fail("codec-size-mismatch", `decoded more than the expected ${this.expected} bytes`, 0);
    }
    out.drain(this.chunk, false);
    this.unit(S_DLEN);
  }

  private finish(at: number): void {
    this.out.drain(this.chunk, true);
    if (this.expected !== undefined && this.out.total !== this.expected) {
      throw this.fail("codec-size-mismatch", `decoded ${this.out.total} bytes, expected ${this.expected}`, 0);
    }
    this.endPos = at;
    this.done = true;
  }

  protected finishInput(): void {
    switch (this.state) {
      case S_MAGIC:
        throw this.fail("truncated", "input too short for the lzop magic", 0);
      case S_NEXT:
        return this.finish(this.unitAt);
      case S_HEADER: {
        const h = parseHeader(this.hdr, 0, this.hlen, { base: this.base + this.unitAt }, this.checks);
        throw this.fail("truncated", "lzop header runs past the end of the input", this.unitAt + (h.short ? h.at : this.hlen));
      }
      case S_EXTRA_LEN:
        throw this.fail("truncated", "lzop header runs past the end of the input", this.unitAt);
      case S_EXTRA:
        throw this.fail("truncated", "lzop extra field runs past the end of the input", this.unitAt);
      case S_DLEN:
        throw this.fail("truncated", "block header runs past the end of the input", this.unitAt);
      case S_BLOCK_HDR:
        throw this.fail("truncated", this.hlen < 8 ? "block header runs past the end of the input" : "block runs past the end of the input", this.unitAt);
      default:
        throw this.fail("truncated", "block runs past the end of the input", this.unitAt);
    }
  }
}

/**
 * A streaming lzop decoder: the same files, checks and errors as
 * {@link decompressLzo}, fed in chunks of any size.
 *
 * lzop compresses every block on its own, so no history is kept between
 * blocks. State, at most: one block's output ("u32be uncompressed size",
 * at most lzop's 64 MiB; `lzop -9` writes 256 KiB blocks) plus one output
 * chunk, and one block's compressed data, buffered only when it does not
 * arrive within one chunk. Every checksum the header flags ask for
 * (Adler-32 / CRC-32 of the uncompressed and of the compressed data) is
 * checked per block, as the blocks arrive. Further members are decoded when
 * the bytes after an end mark start with the lzop magic; other trailing
 * bytes are not consumed.
 *
 * Errors: `codec-corrupt`, `codec-checksum`, `truncated` (from `end()`),
 * `unsupported`, `codec-size-mismatch`, `limit`.
 */
export function createLzoStreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new LzoStreamDecoder(sink, options);
}
