/**
 * The `.xz` container (xz file format spec 1.x): streams of blocks, each a
 * filter chain ending in LZMA2, with per-block integrity checks, an index and
 * a footer; concatenated streams and stream padding; and — for kernel
 * payloads, which end with a 4-byte size — trailing bytes after the last
 * stream, which end the input instead of failing.
 *
 * Two decoders share the header, index and footer parsers below:
 *
 * - {@link decompressXz}, one-shot, into one bounded output buffer: block
 *   data goes straight into it (the LZMA2 dictionary is the output itself),
 *   the BCJ/delta filters then run in place over the block, and the check is
 *   computed over the block's bytes. Match distances are checked against the
 *   bytes decoded since the last LZMA2 dictionary reset (as the kernel's
 *   single-call xz decoder does), not against the dictionary size the filter
 *   properties declare: every distance that passes points inside the output,
 *   so this is safe, and only a file that liblzma would refuse for using more
 *   than its declared dictionary can decode here.
 * - {@link createXzStreamDecoder}, streaming, with bounded state: a circular
 *   dictionary as long as the block's declared dictionary (so, like liblzma,
 *   it refuses a distance beyond it), at most one LZMA2 chunk of input, a
 *   few bytes each filter holds back, and incremental checks.
 *
 * Spec lines are quoted beside the code that implements them.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { KimageError, type ErrorCode } from "../core/errors.js";
import { BCJ_ALIGNMENT, BCJ_DECODERS, BCJ_LOOKAHEAD, BcjStream, DeltaStream, deltaDecode, type BcjDecoder, type ChunkFilter } from "./bcj.js";
import { crc32 } from "./crc32.js";
import { crc64 } from "./crc64.js";
import { LzmaDecoder, LzmaWindow, StreamInput, decodeLzmaProps, type LzmaProps } from "./lzma.js";
import { decodeLzma2, lzma2DictSize } from "./lzma2.js";
import { OutputBuffer, outputGuess } from "./output.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";
import { DEFAULT_STREAM_CHUNK, type StreamSink } from "./window.js";

const LAYER = "xz";

/** "HEADER_MAGIC[6] = { 0xFD, '7', 'z', 'X', 'Z', 0x00 }" */
export const XZ_MAGIC: readonly number[] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/** Filter IDs of the chain: "0x21 LZMA2", "0x03 Delta", BCJ IDs in `bcj.ts`. */
const FILTER_LZMA2 = 0x21;
const FILTER_DELTA = 0x03;

/**
 * "Type of Check: 0x00 0 bytes None, 0x01 4 bytes CRC32, 0x02-0x03 4 bytes
 * (Reserved), 0x04 8 bytes CRC64, 0x05-0x06 8 bytes, 0x07-0x09 16 bytes,
 * 0x0A 32 bytes SHA-256, 0x0B-0x0C 32 bytes, 0x0D-0x0F 64 bytes."
 */
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

/** Bytes the BCJ filters may look ahead of a position (IA-64 bundles: 16). */
const FILTER_LOOKAHEAD = 16;

interface Filter {
  id: number;
  props: Uint8Array;
  /** Offset of the filter flags, for errors. */
  at: number;
}

/** Throws a KimageError of layer `"xz"` at index `at` of the buffer being parsed. */
type Fail = (code: ErrorCode, message: string, at: number) => never;

// ---------------------------------------------------------------------------
// Parsers shared by the one-shot and the streaming decoder. Each reads a
// field that is wholly present in `v` and reports errors through `fail` with
// indices of `v`.
// ---------------------------------------------------------------------------

function u32le(v: Uint8Array, at: number): number {
  return ((v[at] as number) | ((v[at + 1] as number) << 8) | ((v[at + 2] as number) << 16) | ((v[at + 3] as number) << 24)) >>> 0;
}

function crcOk(v: Uint8Array, from: number, to: number, at: number, what: string, fail: Fail): void {
  if (crc32(v.subarray(from, to)) !== u32le(v, at)) fail("codec-checksum", `${what} CRC32 does not match`, at);
}

/** True when the six header magic bytes are at `v[at]` (before `end`). */
function hasMagic(v: Uint8Array, at: number, end: number): boolean {
  if (end - at < XZ_MAGIC.length) return false;
  for (let i = 0; i < XZ_MAGIC.length; i++) if (v[at + i] !== XZ_MAGIC[i]) return false;
  return true;
}

/** True when the bytes at `v[at, end)` (up to six) agree with the header magic. */
function isMagicPrefix(v: Uint8Array, at: number, end: number): boolean {
  for (let i = 0; i < XZ_MAGIC.length && at + i < end; i++) if (v[at + i] !== XZ_MAGIC[i]) return false;
  return true;
}

/**
 * "1.2 Multibyte Integers: ... All but the last byte of the multibyte
 * representation have the highest (eighth) bit set ... limited to 63 bits
 * ... nine bytes"; the decoder in the spec rejects a continuation byte
 * of 0x00 (non-minimal encoding). Values beyond 2^53 lose precision, which
 * only matters for sizes no real input has (they then mismatch).
 * Running into `end` fails with `code`.
 */
function readVli(v: Uint8Array, at: number, end: number, code: ErrorCode, what: string, fail: Fail): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 9; i++) {
    if (at >= end) fail(code, `${what} runs past its field`, at);
    const b = v[at++] as number;
    if (i > 0 && b === 0) fail("codec-corrupt", `${what} is not minimally encoded`, at - 1);
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [value, at];
  }
  return fail("codec-corrupt", `${what} is longer than nine bytes`, at);
}

/**
 * {@link readVli} for a field that may continue in input not seen yet: null
 * when `v[at, end)` ends inside it and more input may come (`!final`);
 * otherwise as readVli with `truncated` at `end`.
 */
function streamVli(v: Uint8Array, at: number, end: number, what: string, final: boolean, fail: Fail): [number, number] | null {
  if (!final && end - at < 9) {
    let i = at;
    while (i < end && (v[i] as number) & 0x80) i++;
    if (i >= end) return null;
  }
  return readVli(v, at, end, "truncated", what, fail);
}

/** Stream Flags of a stream header: the check type and the two bytes the footer must repeat. */
interface StreamFlags {
  flags0: number;
  flags1: number;
  checkType: number;
}

/** "2.1.1 Stream Header": magic (6), Stream Flags (2), CRC32 (4); all 12 bytes present. */
function parseStreamHeader(v: Uint8Array, p: number, fail: Fail): StreamFlags {
  // "If the Header Magic Bytes don't match, the decoder MUST indicate an error."
  if (!hasMagic(v, p, v.length)) fail("codec-corrupt", "not an xz stream (bad header magic)", p);
  // "The CRC32 is calculated from the Stream Flags field ... If the
  // calculated value does not match the stored one, the decoder MUST
  // indicate an error."
  crcOk(v, p + 6, p + 8, p + 8, "stream header", fail);
  const flags0 = v[p + 6] as number;
  const flags1 = v[p + 7] as number;
  // "The first byte of Stream Flags is always a null byte ... 4-7 0xF0
  // Reserved for future use; MUST be zero ... If any reserved bit is set,
  // the decoder MUST indicate an error."
  if (flags0 !== 0 || flags1 & 0xf0) fail("unsupported", "xz stream flags use reserved bits", p + 6);
  return { flags0, flags1, checkType: flags1 & 0x0f };
}

/** "2.1.2 Stream Footer": CRC32 (4), Backward Size (4), Stream Flags (2), "YZ"; all 12 bytes present. */
function parseStreamFooter(v: Uint8Array, r: number, flags: StreamFlags, indexSize: number, fail: Fail): void {
  // "the decoder MUST verify the existence of Footer Magic Bytes."
  if (v[r + 10] !== 0x59 || v[r + 11] !== 0x5a) fail("codec-corrupt", "xz stream footer magic is not YZ", r + 10);
  // "The CRC32 is calculated from the Backward Size and Stream Flags fields."
  crcOk(v, r + 4, r + 10, r, "xz stream footer", fail);
  // "The decoder MUST compare the Stream Flags fields in both Stream Header
  // and Stream Footer, and indicate an error if they are not identical."
  if (v[r + 8] !== flags.flags0 || v[r + 9] !== flags.flags1) fail("codec-corrupt", "xz stream footer flags differ from the header's", r + 8);
  // "real_backward_size = (stored_backward_size + 1) * 4; If the stored
  // value does not match the real size of the Index field, the decoder
  // MUST indicate an error."
  if ((u32le(v, r + 4) + 1) * 4 !== indexSize) fail("codec-corrupt", "xz backward size does not match the index", r + 4);
}

/** A parsed and validated block header. */
interface BlockHeader {
  /** "real_header_size = (encoded_header_size + 1) * 4" */
  size: number;
  /** -1 when absent. */
  declaredCompressed: number;
  /** -1 when absent. */
  declaredUncompressed: number;
  /** The chain, LZMA2 last. */
  filters: Filter[];
  /** The LZMA2 dictionary size. */
  dictSize: number;
}

/** "3.1 Block Header" at `v[q]`, whose `(v[q] + 1) * 4` bytes are present. */
function parseBlockHeader(v: Uint8Array, q: number, fail: Fail): BlockHeader {
  // "real_header_size = (encoded_header_size + 1) * 4"
  const hs = ((v[q] as number) + 1) * 4;
  const hEnd = q + hs - 4;
  // "3.1.7 The CRC32 is calculated over everything in the Block Header
  // field except the CRC32 field itself."
  crcOk(v, q, hEnd, hEnd, "xz block header", fail);
  const flags = v[q + 1] as number;
  // "2-5 0x3C Reserved for future use; MUST be zero for now. If any
  // reserved bit is set, the decoder MUST indicate an error."
  if (flags & 0x3c) fail("unsupported", "xz block flags use reserved bits", q + 1);
  // "0-1 0x03 Number of filters (1-4)"
  const nFilters = (flags & 0x03) + 1;
  let r = q + 2;
  let declaredCompressed = -1;
  let declaredUncompressed = -1;
  // "6 0x40 The Compressed Size field is present ... which MUST be non-zero."
  if (flags & 0x40) {
    [declaredCompressed, r] = readVli(v, r, hEnd, "codec-corrupt", "block compressed size", fail);
    if (declaredCompressed === 0) fail("codec-corrupt", "xz block compressed size is zero", q + 2);
  }
  // "7 0x80 The Uncompressed Size field is present."
  if (flags & 0x80) [declaredUncompressed, r] = readVli(v, r, hEnd, "codec-corrupt", "block uncompressed size", fail);

  // "3.1.5 Filter Flags: Filter ID, Size of Properties, Filter Properties"
  const filters: Filter[] = [];
  for (let i = 0; i < nFilters; i++) {
    const at = r;
    let id: number;
    let psize: number;
    [id, r] = readVli(v, r, hEnd, "codec-corrupt", "filter ID", fail);
    [psize, r] = readVli(v, r, hEnd, "codec-corrupt", "filter properties size", fail);
    if (psize > hEnd - r) fail("codec-corrupt", "filter properties run past the block header", r);
    filters.push({ id, props: v.slice(r, r + psize), at });
    r += psize;
  }
  // "3.1.6 Header Padding ... If any of the bytes are not null bytes, the
  // decoder MUST indicate an error."
  for (; r < hEnd; r++) if (v[r] !== 0) fail("unsupported", "xz block header padding is not null", r);

  // Validate the chain: "LZMA2 ... Allow as a non-last filter: No; Allow
  // as the last filter: Yes"; BCJ and Delta: "Allow as a non-last filter:
  // Yes; Allow as the last filter: No".
  const last = filters[nFilters - 1] as Filter;
  if (last.id !== FILTER_LZMA2) {
    if (last.id === FILTER_DELTA || BCJ_DECODERS.has(last.id)) fail("codec-corrupt", "xz filter chain does not end with LZMA2", last.at);
    fail("unsupported", `xz filter 0x${last.id.toString(16)} is not supported`, last.at);
  }
  // "Size of Filter Properties: 1 byte ... 0-5 Dictionary Size; 6-7
  // Reserved for future use; MUST be zero for now."
  if (last.props.length !== 1) fail("codec-corrupt", "LZMA2 filter properties are not one byte", last.at);
  const dictByte = last.props[0] as number;
  if (dictByte & 0xc0) fail("unsupported", "LZMA2 properties use reserved bits", last.at);
  const dictSize = lzma2DictSize(dictByte);
  if (dictSize === null) return fail("codec-corrupt", "LZMA2 dictionary size is above 4 GiB", last.at);
  for (let i = 0; i < nFilters - 1; i++) {
    const f = filters[i] as Filter;
    if (f.id === FILTER_LZMA2) fail("codec-corrupt", "LZMA2 is only allowed as the last filter", f.at);
    if (f.id === FILTER_DELTA) {
      // "The Properties byte indicates the delta distance ... 1-256"
      if (f.props.length !== 1) fail("codec-corrupt", "delta filter properties are not one byte", f.at);
    } else if (BCJ_DECODERS.has(f.id)) {
      // "Size of Filter Properties: 0 or 4 bytes"
      if (f.props.length !== 0 && f.props.length !== 4) fail("codec-corrupt", "BCJ filter properties are not 0 or 4 bytes", f.at);
      // liblzma refuses a start offset that is not a multiple of the
      // filter's alignment; so do we.
      if (bcjStart(f) % (BCJ_ALIGNMENT.get(f.id) ?? 1) !== 0) fail("unsupported", "BCJ start offset is not a multiple of the filter's alignment", f.at);
    } else {
      fail("unsupported", `xz filter 0x${f.id.toString(16)} is not supported`, f.at);
    }
  }
  return { size: hs, declaredCompressed, declaredUncompressed, filters, dictSize };
}

/** "If the size of Filter Properties is four bytes, the Filter Properties field contains the start offset ... unsigned 32-bit little endian". */
function bcjStart(f: Filter): number {
  const p = f.props;
  return p.length === 4 ? ((p[0] as number) | ((p[1] as number) << 8) | ((p[2] as number) << 16) | ((p[3] as number) << 24)) >>> 0 : 0;
}

/**
 * "3.4 Check: The type and size of the Check field depends on which bits
 * are set in the Stream Flags field ... The Check, when used, is calculated
 * from the original uncompressed data." Computed incrementally: CRC32,
 * CRC64 and SHA-256 are verified; reserved IDs are skipped ("If an
 * unsupported Check is used, the decoder SHOULD indicate a warning or
 * error") and not listed in `checked`.
 */
class BlockCheck {
  private readonly type: number;
  private c32 = 0;
  private c64 = 0n;
  private readonly sha: ReturnType<typeof sha256.create> | null;

  constructor(type: number) {
    this.type = type;
    this.sha = type === 0x0a ? sha256.create() : null;
  }

  update(data: Uint8Array): void {
    if (this.type === 0x01) this.c32 = crc32(data, this.c32);
    else if (this.type === 0x04) this.c64 = crc64(data, this.c64);
    else if (this.sha !== null) this.sha.update(data);
  }

  /**
   * Compares with the stored Check at `v[at]`: "If the calculated Check does
   * not match the stored one, the decoder MUST indicate an error." Returns
   * the name of the check verified, or null.
   */
  verify(v: Uint8Array, at: number, fail: Fail): string | null {
    if (this.type === 0x01) {
      if (this.c32 !== u32le(v, at)) fail("codec-checksum", "xz block CRC32 does not match the data", at);
      return "crc32";
    }
    if (this.type === 0x04) {
      const want = (BigInt(u32le(v, at + 4)) << 32n) | BigInt(u32le(v, at));
      if (this.c64 !== want) fail("codec-checksum", "xz block CRC64 does not match the data", at);
      return "crc64";
    }
    if (this.sha !== null) {
      const got = this.sha.digest();
      for (let i = 0; i < 32; i++) if (got[i] !== v[at + i]) fail("codec-checksum", "xz block SHA-256 does not match the data", at);
      return "sha256";
    }
    return null;
  }
}

// ---------------------------------------------------------------------------
// One-shot.
// ---------------------------------------------------------------------------

/**
 * Decodes a `.xz` file: every concatenated stream (with stream padding),
 * stopping at the first trailing bytes that are neither null padding nor a
 * stream header. `consumed` is the end of the last stream footer plus the
 * stream padding after it (whole groups of four null bytes).
 *
 * Supported: LZMA2 as the last filter, BCJ filters (x86, PowerPC, IA-64,
 * ARM, ARM-Thumb, SPARC, ARM64, RISC-V, with start offsets) and Delta before
 * it; checks None, CRC32, CRC64 and SHA-256 (all verified and listed in
 * `checked`; reserved check IDs are skipped unverified).
 *
 * Errors (KimageError, layer `"xz"`, absolute offsets):
 * - `truncated`: any field or chunk runs past the end of the input;
 * - `codec-checksum`: a header/index/footer CRC32 or a block check differs;
 * - `codec-corrupt`: bad magic, sizes that disagree with the data, invalid
 *   LZMA2/LZMA data, non-null padding, an index that does not match the
 *   blocks, a footer that does not match the header;
 * - `unsupported`: reserved flag bits or unknown filter IDs;
 * - `limit`: output beyond `maxOutput` (with `partial`: the first
 *   `maxOutput` bytes are returned with `complete: false`);
 * - `codec-size-mismatch`: the output length differs from `expectedSize`.
 */
export function decompressXz(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  const partial = options.partial ?? false;
  const userMax = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
  const n = input.length;
  const fail: Fail = (code, message, at) => {
    throw new KimageError(code, message, { layer: LAYER, offset: base + at });
  };

  // The output buffer starts at expectedSize (capped) or a guess from the
  // input size and doubles up to the cap. In partial mode it may hold a few
  // bytes past the cap so the BCJ filters see the instructions that
  // straddle it exactly as a full decode would; they are cut off again.
  // The guess covers the lookahead too: a buffer one lookahead short of the
  // cap would be grown (a second copy of everything) for its last chunk.
  const cap = partial ? userMax + FILTER_LOOKAHEAD : userMax;
  const guess = Math.min(cap, outputGuess(n));
  const ob = new OutputBuffer(LAYER, { ...options, maxOutput: cap }, guess);
  const dec = new LzmaDecoder(LAYER, base);
  const checked = new Set<string>();

  let pos = 0;
  let streamIndex = 0;
  for (;;) {
    const r = decodeStream(pos, streamIndex === 0);
    if (!r.complete) return finish(r.end, false);
    pos = r.end;
    streamIndex++;
    // "2.2 Stream Padding MUST contain only null bytes ... the size of
    // Stream Padding MUST be a multiple of four bytes." Anything else after
    // a stream that is not a stream header ends the input (kernel payloads
    // carry a 4-byte size there).
    let z = pos;
    while (z < n && input[z] === 0) z++;
    const pad = z - pos;
    if (z < n && hasMagic(input, z, n)) {
      if (pad % 4 !== 0) fail("codec-corrupt", "stream padding is not a multiple of four bytes", pos);
      pos = z;
      continue;
    }
    if (z < n && n - z < XZ_MAGIC.length && isMagicPrefix(input, z, n)) fail("truncated", "input ends inside a stream header", n);
    return finish(pos + pad - (pad % 4), true);
  }

  function finish(end: number, complete: boolean): DecompressResult {
    let len = ob.length;
    if (len > userMax) {
      len = userMax;
      complete = false;
    }
    if (complete && !partial && options.expectedSize !== undefined && len !== options.expectedSize) {
      fail("codec-size-mismatch", `xz output is ${len} bytes, expected ${options.expectedSize}`, 0);
    }
    return { codec: "xz", bytes: ob.buf.subarray(0, len), consumed: end, complete, checked: [...checked] };
  }

  /** Decodes one stream at `p`; returns where it (and its footer) ends. */
  function decodeStream(p: number, first: boolean): { end: number; complete: boolean } {
    // 2.1.1 Stream Header: magic (6), Stream Flags (2), CRC32 (4).
    if (n - p < 12) {
      if (first && !isMagicPrefix(input, p, n)) fail("codec-corrupt", "not an xz stream (bad header magic)", p);
      fail("truncated", "xz stream header needs 12 bytes", n);
    }
    const flags = parseStreamHeader(input, p, fail);
    const checkSize = CHECK_SIZES[flags.checkType] as number;

    let q = p + 12;
    const records: number[] = [];
    for (;;) {
      if (q >= n) fail("truncated", "xz stream ends before its index", n);
      // "4.1 Index Indicator ... overlaps with the Block Header Size field.
      // The value of Index Indicator is always 0x00."
      if (input[q] === 0) break;
      const b = decodeBlock(q, flags.checkType, checkSize);
      if (!b.complete) return { end: b.end, complete: false };
      records.push(b.unpadded, b.usize);
      q = b.end;
    }

    // 4. Index: Indicator, Number of Records, Records, Padding, CRC32.
    const indexStart = q;
    const [count, afterCount] = readVli(input, q + 1, n, "truncated", "index record count", fail);
    let r = afterCount;
    // "If the decoder has decoded all the Blocks of the Stream, and then
    // notices that the Number of Records doesn't match the real number of
    // Blocks, the decoder MUST indicate an error."
    if (count !== records.length / 2) fail("codec-corrupt", `xz index lists ${count} blocks, the stream has ${records.length / 2}`, q + 1);
    for (let i = 0; i < records.length; i += 2) {
      const at = r;
      let unpadded: number;
      let usize: number;
      [unpadded, r] = readVli(input, r, n, "truncated", "index unpadded size", fail);
      [usize, r] = readVli(input, r, n, "truncated", "index uncompressed size", fail);
      // "it MUST verify that the contents of the Records match the real
      // Unpadded Size and Uncompressed Size of the respective Blocks."
      if (unpadded !== records[i] || usize !== records[i + 1]) fail("codec-corrupt", `xz index record ${i / 2} does not match its block`, at);
    }
    // "4.4 Index Padding ... MUST contain 0-3 null bytes to pad the Index to
    // a multiple of four bytes."
    while ((r - indexStart) % 4 !== 0) {
      if (r >= n) fail("truncated", "xz index ends early", n);
      if (input[r] !== 0) fail("codec-corrupt", "xz index padding is not null", r);
      r++;
    }
    if (r + 4 > n) fail("truncated", "xz index ends early", n);
    // "4.5 The CRC32 is calculated over everything in the Index field except
    // the CRC32 field itself."
    crcOk(input, indexStart, r, r, "xz index", fail);
    r += 4;
    const indexSize = r - indexStart;

    // 2.1.2 Stream Footer: CRC32 (4), Backward Size (4), Stream Flags (2), "YZ".
    if (r + 12 > n) fail("truncated", "xz stream footer needs 12 bytes", n);
    parseStreamFooter(input, r, flags, indexSize, fail);
    return { end: r + 12, complete: true };
  }

  /** Decodes one block at `q`. */
  function decodeBlock(q: number, checkType: number, checkSize: number): { end: number; complete: boolean; unpadded: number; usize: number } {
    const hs = ((input[q] as number) + 1) * 4;
    if (q + hs > n) fail("truncated", "xz block header runs past the input", n);
    const h = parseBlockHeader(input, q, fail);

    // A declared size beyond the cap can be refused before decoding.
    if (!partial && h.declaredUncompressed > ob.max - ob.length) {
      fail("limit", `decompressed output exceeds the limit of ${ob.max} bytes`, q);
    }

    // 3.2 Compressed Data: LZMA2 straight into the output buffer.
    const dataStart = q + hs;
    const outStart = ob.length;
    const lz = decodeLzma2(input, dataStart, ob, dec, partial);
    applyFilters(h.filters, outStart);
    if (!lz.complete) return { end: lz.end, complete: false, unpadded: 0, usize: 0 };
    const compressed = lz.end - dataStart;
    const usize = ob.length - outStart;
    // "If the Compressed Size doesn't match the size of the Compressed Data
    // field, the decoder MUST indicate an error." / "If the Uncompressed
    // Size does not match the real uncompressed size, the decoder MUST
    // indicate an error."
    if (h.declaredCompressed >= 0 && h.declaredCompressed !== compressed) fail("codec-corrupt", "xz block compressed size does not match its data", q + 2);
    if (h.declaredUncompressed >= 0 && h.declaredUncompressed !== usize) fail("codec-corrupt", "xz block uncompressed size does not match its data", q + 2);

    // "3.3 Block Padding MUST contain 0-3 null bytes to make the size of the
    // Block a multiple of four bytes."
    let c = lz.end;
    while ((c - q) % 4 !== 0) {
      if (c >= n) fail("truncated", "xz block padding runs past the input", n);
      if (input[c] !== 0) fail("codec-corrupt", "xz block padding is not null", c);
      c++;
    }
    // "3.4 Check ... calculated from the original uncompressed data. If the
    // calculated Check does not match the stored one, the decoder MUST
    // indicate an error."
    if (c + checkSize > n) fail("truncated", "xz block check runs past the input", n);
    const check = new BlockCheck(checkType);
    check.update(ob.buf.subarray(outStart, ob.length));
    const name = check.verify(input, c, fail);
    if (name !== null) checked.add(name);
    // "4.3.1 Unpadded Size ... is the size of the Block Header, Compressed
    // Data, and Check fields."
    return { end: c + checkSize, complete: true, unpadded: hs + compressed + checkSize, usize };
  }

  /** Runs the non-last filters' decoders, last to first, over the block's output. */
  function applyFilters(filters: Filter[], outStart: number): void {
    for (let i = filters.length - 2; i >= 0; i--) {
      const f = filters[i] as Filter;
      const block = ob.buf.subarray(outStart, ob.length);
      if (f.id === FILTER_DELTA) {
        deltaDecode(block, (f.props[0] as number) + 1);
      } else {
        (BCJ_DECODERS.get(f.id) as BcjDecoder)(block, bcjStart(f));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Streaming.
// ---------------------------------------------------------------------------

/** Where the streaming parser is. */
const S_STREAM_HEADER = 0;
const S_BLOCK = 1;
const S_LZMA2 = 2;
const S_BLOCK_PADDING = 3;
const S_CHECK = 4;
const S_INDEX = 5;
const S_RECORDS = 6;
const S_INDEX_PADDING = 7;
const S_INDEX_CRC = 8;
const S_FOOTER = 9;
const S_STREAM_PADDING = 10;
const S_DONE = 11;

/**
 * Index records of up to this many blocks per stream are kept and compared
 * one by one (an error names the record); a stream with more blocks has the
 * rest compared through a running CRC32 of the records, as liblzma's
 * index_hash does, so the state stays bounded.
 */
const MAX_RECORDS = 1 << 16;

const recordScratch = new DataView(new ArrayBuffer(16));
/** Folds an (Unpadded Size, Uncompressed Size) pair into a running CRC32. */
function hashRecord(h: number, unpadded: number, usize: number): number {
  recordScratch.setFloat64(0, unpadded, true);
  recordScratch.setFloat64(8, usize, true);
  return crc32(new Uint8Array(recordScratch.buffer), h);
}

/** See {@link createXzStreamDecoder}. */
class XzStreamDecoder extends StreamInput implements StreamDecoder {
  readonly codec = "xz" as const;
  private readonly sink: StreamSink;
  private readonly base: number;
  private readonly max: number;
  private readonly expectedSize: number | undefined;
  private readonly chunk: number;
  private readonly dec: LzmaDecoder;
  private readonly win: LzmaWindow;
  /** The sink borrows views (StreamDecodeOptions.borrow). */
  private readonly borrow: boolean;
  private readonly checkedSet = new Set<string>();
  private readonly fail: Fail;
  private state = S_STREAM_HEADER;
  private endOffset = 0;
  /** Bytes delivered to the sink. */
  private out = 0;
  /** Bytes decoded by LZMA2 (all blocks and streams), for `maxOutput`. */
  private total = 0;

  // The current stream.
  private first = true;
  private flags: StreamFlags = { flags0: 0, flags1: 0, checkType: 0 };
  private checkSize = 0;
  private records: number[] = [];
  private blocks = 0;
  private blockHash = 0;

  // The current block.
  private blockStart = 0;
  private header: BlockHeader | null = null;
  private dataStart = 0;
  private compressed = 0;
  private blockOut = 0;
  private padLeft = 0;
  private stages: ChunkFilter[] = [];
  private check = new BlockCheck(0);
  private needDictReset = true;
  private needProps = true;

  // The index and what follows.
  private indexStart = 0;
  private indexCrc = 0;
  private count = 0;
  private record = 0;
  private indexHash = 0;
  private footerEnd = 0;
  private padding = 0;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    super();
    this.sink = sink;
    this.base = options.base ?? 0;
    this.max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    this.expectedSize = options.expectedSize;
    this.chunk = Math.max(options.chunkSize ?? DEFAULT_STREAM_CHUNK, 1 << 12);
    this.borrow = options.borrow === true;
    this.dec = new LzmaDecoder(LAYER, this.base);
    this.win = new LzmaWindow((b) => this.deliver(b), this.chunk, options.expectedSize);
    this.fail = (code, message, at) => {
      throw new KimageError(code, message, { layer: LAYER, offset: this.base + this.vBase + at });
    };
  }

  get consumed(): number {
    return this.done ? this.endOffset : this.at;
  }

  get produced(): number {
    return this.out;
  }

  get complete(): boolean {
    return this.done;
  }

  get checked(): readonly string[] {
    return [...this.checkedSet];
  }

  /** Decoded bytes from the window: through the block's filters, the check, to the sink. */
  private deliver(bytes: Uint8Array): void {
    let b = bytes;
    for (const s of this.stages) {
      b = s.push(b);
      if (b.length === 0) return;
    }
    this.emit(b);
  }

  /** `b` is the sink's to keep unless borrowing; a view (a filter's buffer) is copied then. */
  private emit(b: Uint8Array): void {
    this.check.update(b);
    this.out += b.length;
    this.sink(this.borrow || this.stages.length === 0 ? b : b.slice());
  }

  /** The end of the block's data: everything still held (window, filters) goes out. */
  private flushBlock(): void {
    this.win.flush();
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      let b = (stages[i] as ChunkFilter).flush();
      for (let j = i + 1; j < stages.length && b.length > 0; j++) b = (stages[j] as ChunkFilter).push(b);
      if (b.length > 0) this.emit(b);
    }
  }

  private finishStream(end: number): void {
    this.done = true;
    this.state = S_DONE;
    this.endOffset = end;
    if (this.expectedSize !== undefined && this.out !== this.expectedSize) {
      throw new KimageError("codec-size-mismatch", `xz output is ${this.out} bytes, expected ${this.expectedSize}`, { layer: LAYER, offset: this.base });
    }
  }

  /** Not enough input for the next unit: wait for `need` bytes from `p`, or (at the end of the input) fail. */
  private short(p: number, need: number, final: boolean, message: string, at: number): number {
    if (final) this.fail("truncated", message, at);
    this.want = need;
    return p;
  }

  protected pump(v: Uint8Array, p: number, e: number, final: boolean): number {
    const fail = this.fail;
    for (;;) {
      switch (this.state) {
        case S_STREAM_HEADER: {
          // 2.1.1 Stream Header: magic (6), Stream Flags (2), CRC32 (4).
          if (this.first && !isMagicPrefix(v, p, e)) fail("codec-corrupt", "not an xz stream (bad header magic)", p);
          if (e - p < 12) return this.short(p, 12, final, "xz stream header needs 12 bytes", e);
          this.flags = parseStreamHeader(v, p, fail);
          this.checkSize = CHECK_SIZES[this.flags.checkType] as number;
          this.records = [];
          this.blocks = 0;
          this.blockHash = 0;
          p += 12;
          this.state = S_BLOCK;
          break;
        }
        case S_BLOCK: {
          if (p >= e) return this.short(p, 1, final, "xz stream ends before its index", e);
          // "4.1 Index Indicator ... overlaps with the Block Header Size
          // field. The value of Index Indicator is always 0x00."
          if (v[p] === 0) {
            this.state = S_INDEX;
            break;
          }
          const hs = ((v[p] as number) + 1) * 4;
          if (e - p < hs) return this.short(p, hs, final, "xz block header runs past the input", e);
          const h = parseBlockHeader(v, p, fail);
          // A declared size beyond the cap can be refused before decoding.
          if (h.declaredUncompressed > this.max - this.total) fail("limit", `decompressed output exceeds the limit of ${this.max} bytes`, p);
          this.startBlock(h, this.vBase + p);
          p += hs;
          this.dataStart = this.vBase + p;
          this.state = S_LZMA2;
          break;
        }
        case S_LZMA2: {
          const q = this.lzma2Chunk(v, p, e, final);
          if (q < 0) return p;
          p = q;
          break;
        }
        case S_BLOCK_PADDING: {
          // "3.3 Block Padding MUST contain 0-3 null bytes to make the size
          // of the Block a multiple of four bytes."
          while (this.padLeft > 0) {
            if (p >= e) return this.short(p, 1, final, "xz block padding runs past the input", e);
            if (v[p] !== 0) fail("codec-corrupt", "xz block padding is not null", p);
            p++;
            this.padLeft--;
          }
          this.state = S_CHECK;
          break;
        }
        case S_CHECK: {
          const size = this.checkSize;
          if (e - p < size) return this.short(p, size, final, "xz block check runs past the input", e);
          // "3.4 Check ... If the calculated Check does not match the stored
          // one, the decoder MUST indicate an error."
          const name = this.check.verify(v, p, fail);
          if (name !== null) this.checkedSet.add(name);
          p += size;
          // "4.3.1 Unpadded Size ... is the size of the Block Header,
          // Compressed Data, and Check fields."
          const unpadded = (this.header as BlockHeader).size + this.compressed + size;
          if (this.blocks < MAX_RECORDS) this.records.push(unpadded, this.blockOut);
          else this.blockHash = hashRecord(this.blockHash, unpadded, this.blockOut);
          this.blocks++;
          this.state = S_BLOCK;
          break;
        }
        case S_INDEX: {
          // 4. Index: Indicator, Number of Records, Records, Padding, CRC32.
          const r = streamVli(v, p + 1, e, "index record count", final, fail);
          if (r === null) return this.short(p, e - p + 1, final, "", e);
          const [count, next] = r;
          // "If the decoder has decoded all the Blocks of the Stream, and
          // then notices that the Number of Records doesn't match the real
          // number of Blocks, the decoder MUST indicate an error."
          if (count !== this.blocks) fail("codec-corrupt", `xz index lists ${count} blocks, the stream has ${this.blocks}`, p + 1);
          this.indexStart = this.vBase + p;
          this.indexCrc = crc32(v.subarray(p, next));
          this.count = count;
          this.record = 0;
          this.indexHash = 0;
          p = next;
          this.state = S_RECORDS;
          break;
        }
        case S_RECORDS: {
          while (this.record < this.count) {
            const a = streamVli(v, p, e, "index unpadded size", final, fail);
            const b = a === null ? null : streamVli(v, a[1], e, "index uncompressed size", final, fail);
            if (a === null || b === null) return this.short(p, e - p + 1, final, "", e);
            const i = this.record;
            // "it MUST verify that the contents of the Records match the
            // real Unpadded Size and Uncompressed Size of the respective
            // Blocks."
            if (i < MAX_RECORDS) {
              if (a[0] !== this.records[2 * i] || b[0] !== this.records[2 * i + 1]) fail("codec-corrupt", `xz index record ${i} does not match its block`, p);
            } else {
              this.indexHash = hashRecord(this.indexHash, a[0], b[0]);
            }
            this.indexCrc = crc32(v.subarray(p, b[1]), this.indexCrc);
            p = b[1];
            this.record++;
          }
          if (this.count > MAX_RECORDS && this.indexHash !== this.blockHash) fail("codec-corrupt", "xz index records do not match the blocks", p);
          this.state = S_INDEX_PADDING;
          break;
        }
        case S_INDEX_PADDING: {
          // "4.4 Index Padding ... MUST contain 0-3 null bytes to pad the
          // Index to a multiple of four bytes."
          while ((this.vBase + p - this.indexStart) % 4 !== 0) {
            if (p >= e) return this.short(p, 1, final, "xz index ends early", e);
            if (v[p] !== 0) fail("codec-corrupt", "xz index padding is not null", p);
            this.indexCrc = crc32(v.subarray(p, p + 1), this.indexCrc);
            p++;
          }
          this.state = S_INDEX_CRC;
          break;
        }
        case S_INDEX_CRC: {
          if (e - p < 4) return this.short(p, 4, final, "xz index ends early", e);
          // "4.5 The CRC32 is calculated over everything in the Index field
          // except the CRC32 field itself."
          if (this.indexCrc !== u32le(v, p)) fail("codec-checksum", "xz index CRC32 does not match", p);
          p += 4;
          this.state = S_FOOTER;
          break;
        }
        case S_FOOTER: {
          if (e - p < 12) return this.short(p, 12, final, "xz stream footer needs 12 bytes", e);
          parseStreamFooter(v, p, this.flags, this.vBase + p - this.indexStart, fail);
          p += 12;
          this.footerEnd = this.vBase + p;
          this.padding = 0;
          this.first = false;
          this.state = S_STREAM_PADDING;
          break;
        }
        case S_STREAM_PADDING: {
          // "2.2 Stream Padding MUST contain only null bytes ... the size of
          // Stream Padding MUST be a multiple of four bytes." Anything else
          // after a stream that is not a stream header ends the input
          // (kernel payloads carry a 4-byte size there).
          while (p < e && v[p] === 0) {
            p++;
            this.padding++;
          }
          const end = this.footerEnd + this.padding - (this.padding % 4);
          if (p >= e) {
            if (final) this.finishStream(end);
            else this.want = 1;
            return p;
          }
          if (e - p < XZ_MAGIC.length && isMagicPrefix(v, p, e)) {
            // Maybe the start of another stream.
            if (!final) return this.short(p, XZ_MAGIC.length, false, "", e);
            fail("truncated", "input ends inside a stream header", e);
          }
          if (!hasMagic(v, p, e)) {
            this.finishStream(end);
            return p;
          }
          if (this.padding % 4 !== 0) fail("codec-corrupt", "stream padding is not a multiple of four bytes", this.footerEnd - this.vBase);
          this.state = S_STREAM_HEADER;
          break;
        }
        default:
          return p;
      }
    }
  }

  /** Sets up the block whose header was just parsed (at absolute offset `at`). */
  private startBlock(h: BlockHeader, at: number): void {
    this.header = h;
    this.blockStart = at;
    this.blockOut = 0;
    this.check = new BlockCheck(this.flags.checkType);
    this.needDictReset = true;
    this.needProps = true;
    const stages: ChunkFilter[] = [];
    for (let i = h.filters.length - 2; i >= 0; i--) {
      const f = h.filters[i] as Filter;
      stages.push(f.id === FILTER_DELTA ? new DeltaStream((f.props[0] as number) + 1) : new BcjStream(BCJ_DECODERS.get(f.id) as BcjDecoder, bcjStart(f)));
    }
    this.stages = stages;
    // The filters copy what they are given into buffers of their own, so the
    // window may lend them views; without filters the sink gets the window's
    // bytes directly, as views only when it borrows.
    this.win.views = this.borrow || stages.length > 0;
    // Each filter may hold back a few bytes and add them to the next chunk:
    // keep every chunk the sink sees within chunkSize.
    this.win.emitMax = this.chunk - BCJ_LOOKAHEAD * stages.length;
  }

  /**
   * One LZMA2 chunk at `v[p]` (see `lzma2.ts` for the format): decoded once
   * it is wholly in `v`. Returns the position after it, or -1 when it is not
   * complete yet (`want` set).
   */
  private lzma2Chunk(v: Uint8Array, p: number, e: number, final: boolean): number {
    const fail = this.fail;
    const dec = this.dec;
    if (p >= e) return this.short(-1, 1, final, "LZMA2 data ends early", e);
    const ctrlAt = p;
    const control = v[p] as number;
    if (control === 0x00) {
      // "0x00: end of LZMA2 stream."
      this.endBlock(p + 1);
      return p + 1;
    }
    // "The first chunk must reset the dictionary (0x01 or >= 0xE0)".
    const reset = control >= 0xe0 || control === 0x01;
    if (!reset && this.needDictReset) fail("codec-corrupt", "LZMA2: the first chunk does not reset the dictionary", ctrlAt);
    const window = Math.min((this.header as BlockHeader).dictSize, this.max);

    if (control < 0x80) {
      // "0x01: dictionary reset followed by an uncompressed chunk; 0x02:
      // uncompressed chunk (no dictionary reset)"; "0x03-0x7F: invalid."
      if (control > 0x02) fail("codec-corrupt", `LZMA2: invalid control byte 0x${control.toString(16)}`, ctrlAt);
      if (e - p < 3) return this.short(-1, 3, final, "LZMA2 data ends early", p + 1);
      const size = (((v[p + 1] as number) << 8) | (v[p + 2] as number)) + 1;
      if (e - p < 3 + size) return this.short(-1, 3 + size, final, "LZMA2 data ends early", e);
      if (reset) {
        this.needProps = true;
        this.needDictReset = false;
        this.win.reset(window, dec);
      }
      if (size > this.max - this.total) fail("limit", `decompressed output exceeds the limit of ${this.max} bytes`, ctrlAt);
      this.win.write(v.subarray(p + 3, p + 3 + size), dec);
      this.total += size;
      this.blockOut += size;
      return p + 3 + size;
    }

    // "0x80-0xFF: LZMA chunk": the uncompressed size's bits 16-20 in the
    // control byte, its low 16 bits, the compressed size minus one, and a
    // properties byte if >= 0xC0.
    const hdr = control >= 0xc0 ? 5 : 4;
    if (e - p < 1 + hdr) return this.short(-1, 1 + hdr, final, "LZMA2 data ends early", p + 1);
    const usize = ((control & 0x1f) << 16) + ((v[p + 1] as number) << 8) + (v[p + 2] as number) + 1;
    const csize = ((v[p + 3] as number) << 8) + (v[p + 4] as number) + 1;
    let props: LzmaProps | null = null;
    if (control >= 0xc0) {
      // "lc + lp must be <= 4" in LZMA2 properties.
      props = decodeLzmaProps(v[p + 5] as number);
      if (props === null || props.lc + props.lp > 4) fail("codec-corrupt", "LZMA2: invalid properties byte", p + 5);
    } else if (this.needProps) {
      // "a dictionary reset implies that the next LZMA chunk must set new properties"
      fail("codec-corrupt", "LZMA2: LZMA chunk without properties after a dictionary reset", ctrlAt);
    }
    const dataAt = p + 1 + hdr;
    const cEnd = dataAt + csize;
    if (e < cEnd) return this.short(-1, cEnd - p, final, "LZMA2 data ends early", e);
    if (csize < 5) fail("codec-corrupt", "LZMA2: compressed chunk smaller than the range coder header", ctrlAt);
    if (usize > this.max - this.total) fail("limit", `decompressed output exceeds the limit of ${this.max} bytes`, ctrlAt);

    if (reset) {
      this.needProps = true;
      this.needDictReset = false;
      this.win.reset(window, dec);
    }
    if (props !== null) {
      dec.setProps(props);
      this.needProps = false;
    } else if (control >= 0xa0) {
      dec.resetState();
    }
    // "Every LZMA chunk starts a fresh range coder (5 init bytes included in
    // its compressed size), must produce exactly its uncompressed size, must
    // consume exactly its compressed size, must end with Code == 0".
    dec.base = this.base + this.vBase;
    dec.initRange(v, dataAt);
    const got = this.win.decode(dec, v, cEnd, usize);
    this.total += got;
    this.blockOut += got;
    if (dec.inPos > cEnd) fail("codec-corrupt", "LZMA2: chunk data runs past its compressed size", cEnd);
    if (dec.finished) fail("codec-corrupt", "LZMA2: end marker inside an LZMA2 chunk", dec.inPos);
    if (got !== usize || dec.pendingLen !== 0 || dec.inPos !== cEnd || !dec.rangeFinished()) {
      fail("codec-corrupt", "LZMA2: chunk sizes do not match its data", dec.inPos);
    }
    return cEnd;
  }

  /** The LZMA2 end marker at `v[end - 1]`: the block's data is complete. */
  private endBlock(end: number): void {
    this.flushBlock();
    const h = this.header as BlockHeader;
    const lzEnd = this.vBase + end;
    this.compressed = lzEnd - this.dataStart;
    // "If the Compressed Size doesn't match the size of the Compressed Data
    // field, the decoder MUST indicate an error." / "If the Uncompressed
    // Size does not match the real uncompressed size, the decoder MUST
    // indicate an error."
    const at = this.blockStart + 2 - this.vBase;
    if (h.declaredCompressed >= 0 && h.declaredCompressed !== this.compressed) this.fail("codec-corrupt", "xz block compressed size does not match its data", at);
    if (h.declaredUncompressed >= 0 && h.declaredUncompressed !== this.blockOut) this.fail("codec-corrupt", "xz block uncompressed size does not match its data", at);
    this.padLeft = (4 - ((lzEnd - this.blockStart) % 4)) % 4;
    this.stages = [];
    this.state = S_BLOCK_PADDING;
  }
}

/**
 * A streaming `.xz` decoder ({@link StreamDecoder}): the same streams,
 * filters, checks, errors and offsets as {@link decompressXz}, with bounded
 * state. What it holds:
 *
 * - the LZMA2 dictionary as a circular buffer of the block's dictionary size
 *   (from the filter properties; at most `maxOutput`), grown on demand, into
 *   which LZMA2 decodes directly; decoded bytes leave it in chunks of at most
 *   `chunkSize` (default 1 MiB) before the circle wraps over them;
 * - at most one LZMA2 chunk of input (64 KiB + 6 bytes): "LZMA2 chunk
 *   headers state each chunk's compressed size", so a chunk is decoded once
 *   it is wholly available, straight from the caller's buffer when it lies
 *   inside one `write`, else from a copy;
 * - up to 15 bytes per BCJ filter (an instruction cut by the end of a chunk),
 *   256 for Delta, and the running CRC32/CRC64/SHA-256 of the block check;
 * - per stream, the (Unpadded Size, Uncompressed Size) of up to 65536 blocks
 *   to compare with the index, and a running hash beyond that.
 *
 * Decoded bytes reach the sink before the block's check is verified (a
 * corrupt block throws `codec-checksum` after its bytes went out). Unlike
 * the one-shot decoder, a match distance beyond the declared dictionary size
 * is `codec-corrupt` (as in liblzma). After the last stream the decoder
 * waits for the next bytes: null padding, another stream, or anything else
 * (e.g. a kernel's size trailer), which completes it; `end()` completes it
 * too. `consumed` then counts whole groups of four padding bytes, as
 * {@link decompressXz}.
 */
export function createXzStreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new XzStreamDecoder(sink, options);
}
