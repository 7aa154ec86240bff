/**
 * The codec dispatcher: {@link detectCodec} names the compression format of
 * a byte string from its **header at offset 0** (never from a magic found
 * somewhere inside), and {@link decompress} / {@link decompressSync} run the
 * matching bounded decoder, optionally through a platform fast path
 * ({@link CodecProviders}, e.g. Node's zlib inflater from `kimage/node`).
 *
 * Why headers, not magics: the arm zImage and s390 decompressors carry xz
 * and zstd magics (even a valid 738-byte zstd frame) in their code, so a
 * magic alone proves nothing. Each check below validates the fixed part of
 * the format's header (flags, reserved bits, header checksums where the
 * format has one) and rejects anything a conforming decoder would reject.
 *
 * The header rules, per format (sources restated, no code copied):
 *
 * | codec | rule |
 * |---|---|
 * | gzip | RFC 1952: ID1 ID2 CM = 1f 8b 08; reserved FLG bits 5-7 zero; FEXTRA/FNAME/FCOMMENT within the input; FHCRC verified; the first DEFLATE block's BTYPE is not the reserved 3 |
 * | zstd | RFC 8878: magic 28 b5 2f fd; Frame_Header_Descriptor reserved bit 3 zero; Window_Log ≤ 31; the first Block_Type is not Reserved (3), a Compressed block ≤ 128 KiB |
 * | xz | xz file format 1.2: magic fd 37 7a 58 5a 00; Stream Flags 00 0X (reserved bits zero); CRC32 of the Stream Flags matches |
 * | lz4 | LZ4 Frame Format: 04 22 4d 18, FLG version 01 with reserved bit zero, BD reserved bits zero and Block MaxSize 4-7, header checksum HC = (XXH32(descriptor) >> 8) & 0xff; legacy 02 21 4c 18 followed by a first block size 1 … LZ4_compressBound(8 MiB) |
 * | bzip2 | "BZh" + '1'…'9' followed by the block magic 31 41 59 26 53 59 (or the end-of-stream magic 17 72 45 38 50 90 of an empty stream) |
 * | lzo | lzop container: 89 4c 5a 4f 00 0d 0a 1a 0a, version ≥ 0x0900, method 1-3 (LZO1X_1, LZO1X_1_15, LZO1X_999) |
 * | lzma | "lzma alone" (no magic, so strictest): props < 225 with lc + lp ≤ 4; dictionary size 2^n or 2^n + 2^(n-1), 4 KiB … 1.5 GiB; uncompressed size unknown (all ones) or < 2^38; the first range-coder byte is 0x00 |
 *
 * The lzma rule is xz-utils' "picky" .lzma rule (the one `xz --format=auto`
 * uses) plus the range coder's first-byte rule; it accepts what `lzma -9`
 * and the kernel's `cmd_lzma` write, and rejects random data except with a
 * probability of about 2^-20.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { decompressBzip2 } from "./bzip2.js";
import { crc32 } from "./crc32.js";
import { decompressGzip } from "./gzip.js";
import { decompressLz4 } from "./lz4.js";
import { decompressLzma } from "./lzma-alone.js";
import { decompressLzo } from "./lzo.js";
import { CODECS, type Codec, type DecompressOptions, type DecompressResult, type Decoder } from "./types.js";
import { xxh32 } from "./xxhash.js";
import { warmUp } from "./warmup.js";
import { decompressXz } from "./xz.js";
import { decompressZstd } from "./zstd.js";

/** The raw-DEFLATE inflater type the gzip decoder accepts (`nodeInflater` from `kimage/node` is one). */
export type GzipInflater = NonNullable<NonNullable<Parameters<typeof decompressGzip>[1]>["inflater"]>;

/** A decoder supplied by the platform; it may be asynchronous (only {@link decompress} awaits it). */
export type ProvidedDecoder = (input: Uint8Array, options: DecompressOptions) => DecompressResult | Promise<DecompressResult>;

/**
 * Platform fast paths. The pure-TypeScript decoders are always available;
 * a provider replaces one where the platform has something faster (Node's
 * zlib for DEFLATE, a native zstd, …). Providers get the same bounded
 * options and must honour them.
 */
export interface CodecProviders {
  /** Raw-DEFLATE inflater for gzip (e.g. `nodeInflater` from `kimage/node`). */
  inflater?: GzipInflater;
  /** Whole decoders by codec id, used instead of the built-in ones. */
  decoders?: Partial<Record<Codec, ProvidedDecoder>>;
}

/** Options of {@link decompress} and {@link decompressSync}. */
export interface DispatchOptions extends DecompressOptions {
  /** Platform fast paths. */
  providers?: CodecProviders;
}

/** The built-in decoders, by codec id. */
export const DECODERS: Readonly<Record<Codec, Decoder>> = {
  gzip: decompressGzip,
  zstd: decompressZstd,
  lz4: decompressLz4,
  xz: decompressXz,
  lzma: decompressLzma,
  bzip2: decompressBzip2,
  lzo: decompressLzo,
};

function checkCodec(codec: Codec, base: number): void {
  if (!(CODECS as readonly string[]).includes(codec)) {
    throw new KimageError("bad-argument", `unknown codec ${JSON.stringify(codec)}`, { layer: "codec", offset: base });
  }
}

function builtin(codec: Codec, input: Uint8Array, options: DispatchOptions): DecompressResult {
  const { providers, ...opts } = options;
  if (codec === "gzip" && providers?.inflater) return decompressGzip(input, { ...opts, inflater: providers.inflater });
  // One small decode first, so the optimizing compiler sees every path (warmup.ts); and one
  // array type for the decoders: a Node Buffer (a Uint8Array subclass with its own map) would
  // make their optimized code deoptimize ("wrong map") after a warm-up on a plain Uint8Array.
  warmUp(codec, codec, input.length, (sample) => DECODERS[codec](sample, {}));
  const view = input.constructor === Uint8Array ? input : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return DECODERS[codec](view, opts);
}

function checkResult(codec: Codec, r: DecompressResult, options: DispatchOptions): DecompressResult {
  const base = options.base ?? 0;
  if (r.codec !== codec) {
    throw new KimageError("bad-argument", `the ${codec} provider returned a ${r.codec} result`, { layer: codec, offset: base });
  }
  const max = options.maxOutput;
  if (max !== undefined && r.bytes.length > max) {
    throw new KimageError("limit", `the ${codec} provider returned ${r.bytes.length} bytes, more than maxOutput ${max}`, { layer: codec, offset: base });
  }
  return r;
}

function wrap(codec: Codec, e: unknown, base: number): never {
  if (e instanceof KimageError) throw e;
  throw new KimageError("codec-corrupt", `the ${codec} provider failed: ${e instanceof Error ? e.message : String(e)}`, {
    layer: codec,
    offset: base,
    cause: e,
  });
}

/**
 * Decompresses `input` as `codec`, synchronously. Uses `providers.decoders`
 * for the codec if given (it must then be synchronous) and
 * `providers.inflater` for gzip.
 *
 * @throws KimageError from the decoder (`codec-corrupt`, `codec-checksum`,
 *   `codec-size-mismatch`, `truncated`, `limit`, `unsupported`), or
 *   `bad-argument` for an unknown codec or an asynchronous provider.
 */
export function decompressSync(input: Uint8Array, codec: Codec, options: DispatchOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  checkCodec(codec, base);
  const provided = options.providers?.decoders?.[codec];
  if (!provided) return checkResult(codec, builtin(codec, input, options), options);
  const { providers: _p, ...opts } = options;
  let r: DecompressResult | Promise<DecompressResult>;
  try {
    r = provided(input, opts);
  } catch (e) {
    wrap(codec, e, base);
  }
  if (r instanceof Promise) {
    r.catch(() => undefined);
    throw new KimageError("bad-argument", `the ${codec} provider is asynchronous: use decompress()`, { layer: codec, offset: base });
  }
  return checkResult(codec, r, options);
}

/**
 * Decompresses `input` as `codec`. Like {@link decompressSync}, but also
 * accepts asynchronous providers.
 *
 * @throws KimageError as {@link decompressSync} (rejects the promise).
 */
export async function decompress(input: Uint8Array, codec: Codec, options: DispatchOptions = {}): Promise<DecompressResult> {
  const base = options.base ?? 0;
  checkCodec(codec, base);
  const provided = options.providers?.decoders?.[codec];
  if (!provided) return checkResult(codec, builtin(codec, input, options), options);
  const { providers: _p, ...opts } = options;
  let r: DecompressResult;
  try {
    r = await provided(input, opts);
  } catch (e) {
    wrap(codec, e, base);
  }
  return checkResult(codec, r, options);
}

// ------------------------------------------------------------------ headers

function u32le(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

function starts(b: Uint8Array, magic: readonly number[]): boolean {
  if (b.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (b[i] !== magic[i]) return false;
  return true;
}

/** Longest gzip FNAME/FCOMMENT field searched for its NUL (a conservative bound). */
const GZIP_MAX_STRING = 64 * 1024;

/** RFC 1952 member header; see the module table. */
function isGzip(b: Uint8Array): boolean {
  // "ID1 (IDentification 1) ID2 (IDentification 2) These have the fixed values ID1 = 31 (0x1f), ID2 = 139 (0x8b)"
  // "CM (Compression Method) ... CM = 8 denotes the "deflate" compression method"
  if (!starts(b, [0x1f, 0x8b, 0x08]) || b.length < 10 + 1 + 8) return false;
  const flg = b[3] as number;
  // "Reserved FLG bits must be zero."
  if (flg & 0xe0) return false;
  let p = 10;
  if (flg & 0x04) {
    // FEXTRA: "+---+---+=================================+ | XLEN |...XLEN bytes of "extra field"...|"
    if (b.length < p + 2) return false;
    p += 2 + ((b[p] as number) | ((b[p + 1] as number) << 8));
  }
  for (const bit of [0x08, 0x10]) {
    // FNAME / FCOMMENT: "zero-terminated"
    if (!(flg & bit)) continue;
    const end = Math.min(b.length, p + GZIP_MAX_STRING);
    let q = p;
    while (q < end && b[q] !== 0) q++;
    if (q >= end) return false;
    p = q + 1;
  }
  if (flg & 0x02) {
    // FHCRC: "the two least significant bytes of the CRC32 for all bytes of the gzip header up to and not including the CRC16"
    if (b.length < p + 2) return false;
    const want = (b[p] as number) | ((b[p + 1] as number) << 8);
    if ((crc32(b.subarray(0, p)) & 0xffff) !== want) return false;
    p += 2;
  }
  // DEFLATE data (at least one byte) then CRC32 and ISIZE (8 bytes).
  if (b.length < p + 1 + 8) return false;
  // RFC 1951: "BTYPE ... 11 - reserved (error)"
  return (((b[p] as number) >> 1) & 3) !== 3;
}

/** RFC 8878 frame header; see the module table. */
function isZstd(b: Uint8Array): boolean {
  // "Magic_Number ... Value: 0xFD2FB528" (little-endian)
  if (!starts(b, [0x28, 0xb5, 0x2f, 0xfd]) || b.length < 6) return false;
  const fhd = b[4] as number;
  // "Reserved_Bit ... must be set to zero"
  if (fhd & 0x08) return false;
  const fcsFlag = fhd >> 6;
  const single = (fhd & 0x20) !== 0;
  const didFlag = fhd & 3;
  let p = 5;
  if (!single) {
    // "Window_Log = 10 + Exponent"; decoders limit it to ZSTD_WINDOWLOG_MAX (31).
    if (((b[p] as number) >> 3) + 10 > 31) return false;
    p += 1;
  }
  p += [0, 1, 2, 4][didFlag] as number;
  p += fcsFlag === 0 ? (single ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
  if (b.length < p + 3) return false;
  const bh = (b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16);
  const type = (bh >> 1) & 3;
  const size = bh >>> 3;
  // "Block_Type ... 3 Reserved: This is not a block. This value cannot be used with current version of this specification."
  if (type === 3) return false;
  // "Block_Size is limited by Block_Maximum_Size" = min(Window_Size, 128 KiB), for Raw and Compressed blocks.
  return type === 1 || size <= 128 * 1024;
}

/** xz Stream Header; see the module table. */
function isXz(b: Uint8Array): boolean {
  // "Header Magic Bytes ... 0xFD, '7', 'z', 'X', 'Z', 0x00"
  if (!starts(b, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) || b.length < 12) return false;
  // "Stream Flags: the first byte ... is always a null byte"; the second byte's upper four bits are reserved.
  if (b[6] !== 0 || ((b[7] as number) & 0xf0) !== 0) return false;
  // "CRC32 is calculated from the Stream Flags field."
  return crc32(b.subarray(6, 8)) === u32le(b, 8);
}

/** LZ4_compressBound(8 MiB): the largest legacy block (`LEGACY_BLOCKSIZE` is 8 MiB). */
const LZ4_LEGACY_BOUND = 8 * 1024 * 1024 + Math.floor((8 * 1024 * 1024) / 255) + 16;

/** LZ4 frame and legacy headers; see the module table. */
function isLz4(b: Uint8Array): boolean {
  if (starts(b, [0x02, 0x21, 0x4c, 0x18])) {
    // Legacy: "magic 0x184C2102, then blocks: a u32le compressed size and the compressed data"
    if (b.length < 8) return false;
    const n = u32le(b, 4);
    return n > 0 && n <= LZ4_LEGACY_BOUND && n <= b.length - 8;
  }
  // Frame: "Magic Number 4 Bytes, Little endian format. Value : 0x184D2204"
  if (!starts(b, [0x04, 0x22, 0x4d, 0x18]) || b.length < 7) return false;
  const flg = b[4] as number;
  const bd = b[5] as number;
  // "Version Number: 2-bits field, must be set to 01"; "Reserved bit(s) ... must be set to 0"
  if (flg >> 6 !== 1 || flg & 0x02) return false;
  // BD: "Block MaxSize ... Values 0-3 are reserved", bit 7 and bits 0-3 reserved.
  if (bd & 0x8f || ((bd >> 4) & 7) < 4) return false;
  const end = 6 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
  if (b.length < end + 1) return false;
  // "HC: Header Checksum ... second byte of xxh32() : (xxh32()>>8) & 0xFF", using zero as seed, over the descriptor.
  return ((xxh32(b, 0, 4, end) >>> 8) & 0xff) === b[end];
}

/** bzip2 stream header; see the module table. */
function isBzip2(b: Uint8Array): boolean {
  if (!starts(b, [0x42, 0x5a, 0x68]) || b.length < 10) return false;
  const level = b[3] as number;
  if (level < 0x31 || level > 0x39) return false;
  const block = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
  const eos = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
  const at = b.subarray(4, 10);
  return starts(at, block) || starts(at, eos);
}

/** lzop container header; see the module table. */
function isLzop(b: Uint8Array): boolean {
  if (!starts(b, [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]) || b.length < 17) return false;
  const version = ((b[9] as number) << 8) | (b[10] as number);
  if (version < 0x0900) return false;
  // lzop: "version_needed_to_extract" (u16) is present from version 0x0940, before the method byte.
  const method = b[version >= 0x0940 ? 15 : 13] as number;
  return method >= 1 && method <= 3;
}

/** "lzma alone" header (the format has no magic); see the module table. */
function isLzmaAlone(b: Uint8Array): boolean {
  if (b.length < 13 + 5) return false;
  const props = b[0] as number;
  // "(pb * 5 + lp) * 9 + lc", each bounded: lc ≤ 8, lp ≤ 4, pb ≤ 4 → < 225; xz-utils also wants lc + lp ≤ 4.
  if (props >= 9 * 5 * 5) return false;
  const lc = props % 9;
  const lp = Math.floor(props / 9) % 5;
  if (lc + lp > 4) return false;
  const dict = u32le(b, 1);
  if (dict < 4096 || dict > 0x60000000) return false;
  // xz-utils "picky" rule: the dictionary size is 2^n or 2^n + 2^(n-1).
  const top = 2 ** Math.floor(Math.log2(dict));
  if (dict !== top && dict !== top + top / 2) return false;
  const lo = u32le(b, 5);
  const hi = u32le(b, 9);
  const unknown = lo === 0xffffffff && hi === 0xffffffff;
  // Uncompressed size: unknown (all ones) or below 2^38 (xz-utils' plausibility limit).
  if (!unknown && hi >= 1 << 6) return false;
  // The range decoder's initial byte is always 0x00.
  return b[13] === 0;
}

const HEADER_CHECKS: ReadonlyArray<readonly [Codec, (b: Uint8Array) => boolean]> = [
  ["gzip", isGzip],
  ["zstd", isZstd],
  ["xz", isXz],
  ["lz4", isLz4],
  ["bzip2", isBzip2],
  ["lzo", isLzop],
  ["lzma", isLzmaAlone],
];

/**
 * True when `bytes` starts with a valid header of `codec` (see the module
 * table for the rules). Never throws.
 */
export function hasCodecHeader(bytes: Uint8Array, codec: Codec): boolean {
  for (const [c, check] of HEADER_CHECKS) {
    if (c !== codec) continue;
    try {
      return check(bytes);
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * The codec whose header starts `bytes` at offset 0, or null. Formats with
 * a magic are tried first; "lzma alone", which has none, last. Never throws.
 */
export function detectCodec(bytes: Uint8Array): Codec | null {
  for (const [c] of HEADER_CHECKS) if (hasCodecHeader(bytes, c)) return c;
  return null;
}

export { CODECS, type Codec, type DecompressOptions, type DecompressResult, type Decoder } from "./types.js";
