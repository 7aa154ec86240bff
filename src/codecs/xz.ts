/**
 * The `.xz` container (xz file format spec 1.x): streams of blocks, each a
 * filter chain ending in LZMA2, with per-block integrity checks, an index and
 * a footer; concatenated streams and stream padding; and — for kernel
 * payloads, which end with a 4-byte size — trailing bytes after the last
 * stream, which end the input instead of failing.
 *
 * Everything is decoded one-shot into one bounded output buffer: block data
 * goes straight into it (the LZMA2 dictionary is the output itself), the
 * BCJ/delta filters then run in place over the block, and the check is
 * computed over the block's bytes.
 *
 * Match distances are checked against the bytes decoded since the last
 * LZMA2 dictionary reset (as the kernel's single-call xz decoder does), not
 * against the dictionary size the filter properties declare: every distance
 * that passes points inside the output, so this is safe, and only a file
 * that liblzma would refuse for using more than its declared dictionary can
 * decode here.
 *
 * Spec lines are quoted beside the code that implements them.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { KimageError, type ErrorCode } from "../core/errors.js";
import { BCJ_ALIGNMENT, BCJ_DECODERS, deltaDecode } from "./bcj.js";
import { crc32 } from "./crc32.js";
import { crc64 } from "./crc64.js";
import { LzmaDecoder } from "./lzma.js";
import { decodeLzma2, lzma2DictSize } from "./lzma2.js";
import { OutputBuffer } from "./output.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";

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
  const fail = (code: ErrorCode, message: string, at: number): never => {
    throw new KimageError(code, message, { layer: LAYER, offset: base + at });
  };
  const u32 = (at: number): number => ((input[at] as number) | ((input[at + 1] as number) << 8) | ((input[at + 2] as number) << 16) | ((input[at + 3] as number) << 24)) >>> 0;
  const crcOk = (from: number, to: number, at: number, what: string): void => {
    if (crc32(input.subarray(from, to)) !== u32(at)) fail("codec-checksum", `${what} CRC32 does not match`, at);
  };

  // The output buffer starts at expectedSize (capped) or a guess from the
  // input size and doubles up to the cap. In partial mode it may hold a few
  // bytes past the cap so the BCJ filters see the instructions that
  // straddle it exactly as a full decode would; they are cut off again.
  const guess = Math.min(userMax, Math.max(1 << 16, n * 4));
  const ob = new OutputBuffer(LAYER, { ...options, maxOutput: partial ? userMax + FILTER_LOOKAHEAD : userMax }, guess);
  const dec = new LzmaDecoder(LAYER, base);
  const checked = new Set<string>();

  /**
   * "1.2 Multibyte Integers: ... All but the last byte of the multibyte
   * representation have the highest (eighth) bit set ... limited to 63 bits
   * ... nine bytes"; the decoder in the spec rejects a continuation byte
   * of 0x00 (non-minimal encoding). Values beyond 2^53 lose precision, which
   * only matters for sizes no real input has (they then mismatch).
   */
  const readVli = (at: number, end: number, code: ErrorCode, what: string): [number, number] => {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 9; i++) {
      if (at >= end) fail(code, `${what} runs past its field`, at);
      const b = input[at++] as number;
      if (i > 0 && b === 0) fail("codec-corrupt", `${what} is not minimally encoded`, at - 1);
      value += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return [value, at];
    }
    return fail("codec-corrupt", `${what} is longer than nine bytes`, at);
  };

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
    if (z < n && hasMagic(z)) {
      if (pad % 4 !== 0) fail("codec-corrupt", "stream padding is not a multiple of four bytes", pos);
      pos = z;
      continue;
    }
    if (z < n && n - z < XZ_MAGIC.length && isMagicPrefix(z)) fail("truncated", "input ends inside a stream header", n);
    return finish(pos + pad - (pad % 4), true);
  }

  function hasMagic(at: number): boolean {
    if (n - at < XZ_MAGIC.length) return false;
    for (let i = 0; i < XZ_MAGIC.length; i++) if (input[at + i] !== XZ_MAGIC[i]) return false;
    return true;
  }

  function isMagicPrefix(at: number): boolean {
    for (let i = 0; i < XZ_MAGIC.length && at + i < n; i++) if (input[at + i] !== XZ_MAGIC[i]) return false;
    return true;
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
      if (first && !isMagicPrefix(p)) fail("codec-corrupt", "not an xz stream (bad header magic)", p);
      fail("truncated", "xz stream header needs 12 bytes", n);
    }
    // "If the Header Magic Bytes don't match, the decoder MUST indicate an error."
    if (!hasMagic(p)) fail("codec-corrupt", "not an xz stream (bad header magic)", p);
    // "The CRC32 is calculated from the Stream Flags field ... If the
    // calculated value does not match the stored one, the decoder MUST
    // indicate an error."
    crcOk(p + 6, p + 8, p + 8, "stream header");
    const flags0 = input[p + 6] as number;
    const flags1 = input[p + 7] as number;
    // "The first byte of Stream Flags is always a null byte ... 4-7 0xF0
    // Reserved for future use; MUST be zero ... If any reserved bit is set,
    // the decoder MUST indicate an error."
    if (flags0 !== 0 || flags1 & 0xf0) fail("unsupported", "xz stream flags use reserved bits", p + 6);
    const checkType = flags1 & 0x0f;
    const checkSize = CHECK_SIZES[checkType] as number;

    let q = p + 12;
    const records: number[] = [];
    for (;;) {
      if (q >= n) fail("truncated", "xz stream ends before its index", n);
      // "4.1 Index Indicator ... overlaps with the Block Header Size field.
      // The value of Index Indicator is always 0x00."
      if (input[q] === 0) break;
      const b = decodeBlock(q, checkType, checkSize);
      if (!b.complete) return { end: b.end, complete: false };
      records.push(b.unpadded, b.usize);
      q = b.end;
    }

    // 4. Index: Indicator, Number of Records, Records, Padding, CRC32.
    const indexStart = q;
    const [count, afterCount] = readVli(q + 1, n, "truncated", "index record count");
    let r = afterCount;
    // "If the decoder has decoded all the Blocks of the Stream, and then
    // notices that the Number of Records doesn't match the real number of
    // Blocks, the decoder MUST indicate an error."
    if (count !== records.length / 2) fail("codec-corrupt", `xz index lists ${count} blocks, the stream has ${records.length / 2}`, q + 1);
    for (let i = 0; i < records.length; i += 2) {
      const at = r;
      let unpadded: number;
      let usize: number;
      [unpadded, r] = readVli(r, n, "truncated", "index unpadded size");
      [usize, r] = readVli(r, n, "truncated", "index uncompressed size");
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
    crcOk(indexStart, r, r, "xz index");
    r += 4;
    const indexSize = r - indexStart;

    // 2.1.2 Stream Footer: CRC32 (4), Backward Size (4), Stream Flags (2), "YZ".
    if (r + 12 > n) fail("truncated", "xz stream footer needs 12 bytes", n);
    // "the decoder MUST verify the existence of Footer Magic Bytes."
    if (input[r + 10] !== 0x59 || input[r + 11] !== 0x5a) fail("codec-corrupt", "xz stream footer magic is not YZ", r + 10);
    // "The CRC32 is calculated from the Backward Size and Stream Flags fields."
    crcOk(r + 4, r + 10, r, "xz stream footer");
    // "The decoder MUST compare the Stream Flags fields in both Stream Header
    // and Stream Footer, and indicate an error if they are not identical."
    if (input[r + 8] !== flags0 || input[r + 9] !== flags1) fail("codec-corrupt", "xz stream footer flags differ from the header's", r + 8);
    // "real_backward_size = (stored_backward_size + 1) * 4; If the stored
    // value does not match the real size of the Index field, the decoder
    // MUST indicate an error."
    if ((u32(r + 4) + 1) * 4 !== indexSize) fail("codec-corrupt", "xz backward size does not match the index", r + 4);
    return { end: r + 12, complete: true };
  }

  /** Decodes one block at `q`. */
  function decodeBlock(q: number, checkType: number, checkSize: number): { end: number; complete: boolean; unpadded: number; usize: number } {
    // "real_header_size = (encoded_header_size + 1) * 4"
    const hs = ((input[q] as number) + 1) * 4;
    if (q + hs > n) fail("truncated", "xz block header runs past the input", n);
    const hEnd = q + hs - 4;
    // "3.1.7 The CRC32 is calculated over everything in the Block Header
    // field except the CRC32 field itself."
    crcOk(q, hEnd, hEnd, "xz block header");
    const flags = input[q + 1] as number;
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
      [declaredCompressed, r] = readVli(r, hEnd, "codec-corrupt", "block compressed size");
      if (declaredCompressed === 0) fail("codec-corrupt", "xz block compressed size is zero", q + 2);
    }
    // "7 0x80 The Uncompressed Size field is present."
    if (flags & 0x80) [declaredUncompressed, r] = readVli(r, hEnd, "codec-corrupt", "block uncompressed size");

    // "3.1.5 Filter Flags: Filter ID, Size of Properties, Filter Properties"
    const filters: Filter[] = [];
    for (let i = 0; i < nFilters; i++) {
      const at = r;
      let id: number;
      let psize: number;
      [id, r] = readVli(r, hEnd, "codec-corrupt", "filter ID");
      [psize, r] = readVli(r, hEnd, "codec-corrupt", "filter properties size");
      if (psize > hEnd - r) fail("codec-corrupt", "filter properties run past the block header", r);
      filters.push({ id, props: input.subarray(r, r + psize), at });
      r += psize;
    }
    // "3.1.6 Header Padding ... If any of the bytes are not null bytes, the
    // decoder MUST indicate an error."
    for (; r < hEnd; r++) if (input[r] !== 0) fail("unsupported", "xz block header padding is not null", r);

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
    if (lzma2DictSize(dictByte) === null) fail("codec-corrupt", "LZMA2 dictionary size is above 4 GiB", last.at);
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

    // A declared size beyond the cap can be refused before decoding.
    if (!partial && declaredUncompressed > ob.max - ob.length) {
      fail("limit", `decompressed output exceeds the limit of ${ob.max} bytes`, q);
    }

    // 3.2 Compressed Data: LZMA2 straight into the output buffer.
    const dataStart = q + hs;
    const outStart = ob.length;
    const lz = decodeLzma2(input, dataStart, ob, dec, partial);
    applyFilters(filters, outStart);
    if (!lz.complete) return { end: lz.end, complete: false, unpadded: 0, usize: 0 };
    const compressed = lz.end - dataStart;
    const usize = ob.length - outStart;
    // "If the Compressed Size doesn't match the size of the Compressed Data
    // field, the decoder MUST indicate an error." / "If the Uncompressed
    // Size does not match the real uncompressed size, the decoder MUST
    // indicate an error."
    if (declaredCompressed >= 0 && declaredCompressed !== compressed) fail("codec-corrupt", "xz block compressed size does not match its data", q + 2);
    if (declaredUncompressed >= 0 && declaredUncompressed !== usize) fail("codec-corrupt", "xz block uncompressed size does not match its data", q + 2);

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
    verifyCheck(checkType, ob.buf.subarray(outStart, ob.length), c);
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
        (BCJ_DECODERS.get(f.id) as (b: Uint8Array, s: number) => void)(block, bcjStart(f));
      }
    }
  }

  /** "If the size of Filter Properties is four bytes, the Filter Properties field contains the start offset ... unsigned 32-bit little endian". */
  function bcjStart(f: Filter): number {
    const p = f.props;
    return p.length === 4 ? ((p[0] as number) | ((p[1] as number) << 8) | ((p[2] as number) << 16) | ((p[3] as number) << 24)) >>> 0 : 0;
  }

  function verifyCheck(checkType: number, data: Uint8Array, at: number): void {
    if (checkType === 0x01) {
      if (crc32(data) !== u32(at)) fail("codec-checksum", "xz block CRC32 does not match the data", at);
      checked.add("crc32");
    } else if (checkType === 0x04) {
      const want = (BigInt(u32(at + 4)) << 32n) | BigInt(u32(at));
      if (crc64(data) !== want) fail("codec-checksum", "xz block CRC64 does not match the data", at);
      checked.add("crc64");
    } else if (checkType === 0x0a) {
      const got = sha256(data);
      for (let i = 0; i < 32; i++) if (got[i] !== input[at + i]) fail("codec-checksum", "xz block SHA-256 does not match the data", at);
      checked.add("sha256");
    }
    // Reserved check IDs: "If an unsupported Check is used, the decoder
    // SHOULD indicate a warning or error" — skipped and not listed in `checked`.
  }
}
