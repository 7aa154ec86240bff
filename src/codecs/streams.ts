/**
 * Compressed-stream helpers shared by the bzImage, zImage and s390 layers:
 * naming a codec from a stream's own header, and finding where a stream
 * starts or ends from its own structure (xz index, zstd block headers, lz4
 * legacy chunk sizes), never from the first magic bytes found.
 *
 * Sources (facts restated, no code copied): the .xz file format 1.1.0
 * (stream header/footer, index, block padding), RFC 8878 (zstd frames and
 * blocks), the LZ4 legacy frame as `lib/decompress_unlz4.c` reads it, and the
 * magic numbers listed in Documentation/arch/x86/boot.rst (payload_offset).
 *
 * @module
 */

import { crc32 } from "./crc32.js";
import { hasCodecHeader } from "./index.js";
import type { Codec } from "./types.js";

function u32le(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

function startsWith(b: Uint8Array, at: number, magic: readonly number[]): boolean {
  if (at < 0 || at + magic.length > b.length) return false;
  for (let i = 0; i < magic.length; i++) if (b[at + i] !== magic[i]) return false;
  return true;
}

/** xz stream header magic: FD 37 7A 58 5A 00 (.xz format 2.1.1.1). */
export const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] as const;
/** zstd frame magic 0xFD2FB528, little-endian (RFC 8878 3.1.1). */
export const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;
/** LZ4 legacy frame magic 0x184C2102, little-endian. */
export const LZ4_LEGACY_MAGIC = [0x02, 0x21, 0x4c, 0x18] as const;
/** lzop file magic. */
export const LZOP_MAGIC = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a] as const;

/**
 * The codec whose magic number starts `bytes` at `at`, or null. The list is
 * boot.rst's: "gzip (magic numbers 1F 8B or 1F 9E), bzip2 (magic number 42
 * 5A), LZMA (magic number 5D 00), XZ (magic number FD 37), LZ4 (magic number
 * 02 21) and ZSTD (magic number 28 B5)", each checked on its full magic, plus
 * lzop. Never throws.
 */
export function codecAt(bytes: Uint8Array, at = 0): Codec | null {
  if (startsWith(bytes, at, XZ_MAGIC)) return "xz";
  if (startsWith(bytes, at, ZSTD_MAGIC)) return "zstd";
  if (startsWith(bytes, at, [0x1f, 0x8b, 0x08]) || startsWith(bytes, at, [0x1f, 0x9e])) return "gzip";
  if (startsWith(bytes, at, [0x42, 0x5a, 0x68]) && (bytes[at + 3] ?? 0) >= 0x31 && (bytes[at + 3] ?? 0) <= 0x39) return "bzip2";
  if (startsWith(bytes, at, LZ4_LEGACY_MAGIC)) return "lz4";
  if (startsWith(bytes, at, LZOP_MAGIC)) return "lzo";
  // lzma "alone": properties byte 0x5d, then a 32-bit dictionary size (boot.rst: "5D 00").
  if (startsWith(bytes, at, [0x5d, 0x00])) return "lzma";
  return null;
}

/** Reads an xz multibyte integer (.xz format 1.2) at `i`; returns [value, next] or null. */
function xzVarint(b: Uint8Array, i: number, end: number): [number, number] | null {
  let v = 0;
  let mul = 1;
  for (let n = 0; n < 9; n++) {
    if (i >= end) return null;
    const c = b[i++] as number;
    v += (c & 0x7f) * mul;
    if (!Number.isSafeInteger(v)) return null;
    if ((c & 0x80) === 0) return n > 0 && c === 0 ? null : [v, i];
    mul *= 128;
  }
  return null;
}

/**
 * Where the xz stream that ends exactly at `end` (its footer's "YZ" is at
 * `end - 2`) starts, derived from the stream's own structure, or null when
 * the bytes there are not a valid xz stream end.
 *
 * .xz format 2.1.2: the 12-byte footer is "CRC32 (4) | Backward Size (4) |
 * Stream Flags (2) | Footer Magic 'YZ'", "real backward size = (stored
 * backward size + 1) * 4" is the size of the Index; the Index (4.) lists each
 * block's Unpadded Size, and a block occupies its Unpadded Size rounded up to
 * a multiple of four. So start = end - 12 - index - sum(blocks) - 12, and the
 * stream header found there must carry the magic, the same Stream Flags and a
 * valid CRC32. Every CRC32 on the way is checked. Never throws.
 */
export function xzStreamStart(b: Uint8Array, end: number): number | null {
  if (end < 24 || end > b.length) return null;
  const f = end - 12;
  if (b[end - 2] !== 0x59 || b[end - 1] !== 0x5a) return null;
  if (crc32(b.subarray(f + 4, f + 10)) !== u32le(b, f)) return null;
  const indexSize = (u32le(b, f + 4) + 1) * 4;
  const flags0 = b[f + 8] as number;
  const flags1 = b[f + 9] as number;
  const iStart = f - indexSize;
  if (iStart < 12) return null;
  // Index: indicator 0x00, number of records, records (unpadded, uncompressed), padding, CRC32.
  if (b[iStart] !== 0x00) return null;
  if (crc32(b.subarray(iStart, f - 4)) !== u32le(b, f - 4)) return null;
  let p = iStart + 1;
  const n = xzVarint(b, p, f - 4);
  if (!n) return null;
  p = n[1];
  let blocks = 0;
  for (let r = 0; r < n[0]; r++) {
    const unpadded = xzVarint(b, p, f - 4);
    if (!unpadded) return null;
    const uncompressed = xzVarint(b, unpadded[1], f - 4);
    if (!uncompressed) return null;
    p = uncompressed[1];
    blocks += Math.ceil(unpadded[0] / 4) * 4;
    if (blocks > iStart) return null;
  }
  const start = iStart - blocks - 12;
  if (start < 0) return null;
  if (!startsWith(b, start, XZ_MAGIC)) return null;
  if (b[start + 6] !== flags0 || b[start + 7] !== flags1) return null;
  if (crc32(b.subarray(start + 6, start + 8)) !== u32le(b, start + 8)) return null;
  return start;
}

/**
 * Where the zstd frame starting at `start` ends, by walking its frame header
 * and block headers without decoding (RFC 8878 3.1.1: "Frame_Header_Descriptor",
 * "Block_Header: Last_Block (1 bit), Block_Type (2 bits), Block_Size (21
 * bits)"; a Raw block holds Block_Size bytes, an RLE block 1 byte, a
 * Compressed block Block_Size bytes; "Content_Checksum" adds 4 bytes). Skippable
 * frames are not expected here. Returns null on anything malformed. Never throws.
 */
export function zstdFrameEnd(b: Uint8Array, start: number, limit = b.length): number | null {
  if (!startsWith(b, start, ZSTD_MAGIC)) return null;
  let p = start + 4;
  if (p >= limit) return null;
  const fhd = b[p++] as number;
  if (fhd & 0x08) return null; // reserved bit must be zero
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictFlag = fhd & 3;
  if (!single) p += 1; // Window_Descriptor
  p += [0, 1, 2, 4][dictFlag] as number;
  p += fcsFlag === 0 ? (single ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
  for (let guard = 0; guard < 1 << 24; guard++) {
    if (p + 3 > limit) return null;
    const h = (b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16);
    p += 3;
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) return null; // reserved
    if (size > 128 * 1024) return null; // Block_Maximum_Size
    p += type === 1 ? 1 : size;
    if (p > limit) return null;
    if (last) return checksum ? (p + 4 <= limit ? p + 4 : null) : p;
  }
  return null;
}

/**
 * Where the LZ4 legacy stream starting at `start` ends: after the magic,
 * chunks of "le32 compressed size, data" follow until the input ends or a
 * size field equals the magic again or is implausible (lib/decompress_unlz4.c).
 * Returns the end when the walk reaches exactly `limit`, else null.
 */
export function lz4LegacyEnd(b: Uint8Array, start: number, limit = b.length): number | null {
  if (!startsWith(b, start, LZ4_LEGACY_MAGIC)) return null;
  let p = start + 4;
  const bound = (8 << 20) + Math.floor((8 << 20) / 255) + 16;
  while (p + 4 <= limit) {
    const n = u32le(b, p);
    if (n === 0x184c2102 || n === 0 || n > bound) return null;
    p += 4 + n;
    if (p === limit) return p;
  }
  return null;
}

/** A compressed stream located by {@link locateStreamEndingAt}. */
export interface LocatedStream {
  codec: Codec;
  /** Offset of the stream's first byte. */
  start: number;
  /** Offset just past the stream (where the size trailer starts). */
  end: number;
  /** How the start was derived, for the layer's report. */
  method: "xz-index" | "zstd-blocks" | "lz4-chunks" | "first-magic";
}

/**
 * Finds the compressed stream that ends exactly at `end` (where a kernel
 * build's le32 size trailer starts), searching starts only in `[from, end)`.
 *
 * - xz: derived backwards from the stream footer and index ({@link xzStreamStart}).
 * - zstd: the lowest 4-aligned candidate in `[from, end)` whose frame walk
 *   ({@link zstdFrameEnd}) ends exactly at `end`; a zstd frame embedded in
 *   decompressor code ends elsewhere and is rejected.
 * - lz4 legacy: likewise by walking chunk sizes.
 * - gzip, bzip2, lzma, lzo carry no structure that gives their end without
 *   decoding: the first candidate at or after `from` whose header passes the
 *   dispatcher's strict checks ({@link hasCodecHeader}) is returned with
 *   `method: "first-magic"`, and the codec layer's own end check decides.
 *
 * Returns null when nothing fits. Never throws.
 */
export function locateStreamEndingAt(b: Uint8Array, from: number, end: number, align = 1): LocatedStream | null {
  if (from < 0 || end > b.length || from >= end) return null;
  const xz = xzStreamStart(b, end);
  if (xz !== null && xz >= from) return { codec: "xz", start: xz, end, method: "xz-index" };
  const step = Math.max(1, align);
  const first = Math.ceil(from / step) * step;
  let fallback: LocatedStream | null = null;
  for (let i = first; i + 4 <= end; i += step) {
    const c0 = b[i];
    if (c0 === 0x28 && zstdFrameEnd(b, i, end) === end) return { codec: "zstd", start: i, end, method: "zstd-blocks" };
    if (c0 === 0x02 && lz4LegacyEnd(b, i, end) === end) return { codec: "lz4", start: i, end, method: "lz4-chunks" };
    if (fallback === null && (c0 === 0x1f || c0 === 0x42 || c0 === 0x5d || c0 === 0x89)) {
      const c = codecAt(b, i);
      // The dispatcher's strict header rules (flags, reserved bits, header CRCs, lzma's
      // dictionary-size rule) keep random bytes from passing for a stream start.
      if ((c === "gzip" || c === "bzip2" || c === "lzma" || c === "lzo") && hasCodecHeader(b.subarray(i, end), c)) fallback = { codec: c, start: i, end, method: "first-magic" };
    }
  }
  return fallback;
}
