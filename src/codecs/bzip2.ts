/**
 * bzip2: an own bounded, browser-safe decoder (the kernel's `cmd_bzip2`
 * writes `bzip2 -9`). Verifies every block CRC and the stream CRC, stops at
 * the end-of-stream marker (bytes after it are left alone) and never holds
 * more than one block's tables (≤ 900k entries, fixed by the header's level).
 *
 * Why not `@openpgp/seek-bzip`: it is CommonJS with a byte-at-a-time stream
 * interface, does not report where the stream ended, and cannot bound its
 * output.
 *
 * The format (facts restated from the bzip2 1.0.x sources' layout and the
 * common format descriptions, no code copied): "BZh" and a level '1'..'9'
 * (block size level × 100 000); blocks start with the 48-bit magic
 * 0x314159265359, the stream ends with 0x177245385090 and the combined
 * CRC; all fields are read most significant bit first.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { OutputBuffer } from "./output.js";
import type { DecompressOptions, DecompressResult } from "./types.js";

const LAYER = "bzip2";

/** CRC-32 as bzip2 uses it: polynomial 0x04C11DB7, not reflected (MSB first). */
let crcTable: Int32Array | null = null;
function crcTab(): Int32Array {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i << 24;
      for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
      crcTable[i] = c;
    }
  }
  return crcTable;
}

/** bzip2's block CRC of `d[start, end)`. */
export function bzip2Crc(d: Uint8Array, start = 0, end = d.length, crc = 0): number {
  const t = crcTab();
  let c = ~crc;
  for (let i = start; i < end; i++) c = (c << 8) ^ (t[((c >>> 24) ^ (d[i] as number)) & 0xff] as number);
  return ~c >>> 0;
}

class Fail extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const MAX_GROUPS = 6;
const MAX_ALPHA = 258;
const MAX_CODE_LEN = 20;
const FAST_BITS = 10;
/** "a new Huffman table may be selected every 50 symbols" */
const GROUP_SIZE = 50;

/** A decoding table for one Huffman group. */
interface Group {
  /** FAST_BITS-bit lookup: (symbol << 5) | length, or 0 when the code is longer. */
  fast: Int32Array;
  /** Canonical decoding for long codes: limit[len] (largest code of that length, exclusive), base[len], perm. */
  limit: Int32Array;
  base: Int32Array;
  perm: Uint16Array;
  minLen: number;
  maxLen: number;
}

function newGroup(): Group {
  return {
    fast: new Int32Array(1 << FAST_BITS),
    limit: new Int32Array(MAX_CODE_LEN + 2),
    base: new Int32Array(MAX_CODE_LEN + 2),
    perm: new Uint16Array(MAX_ALPHA),
    minLen: 0,
    maxLen: 0,
  };
}

/**
 * Builds a group's tables from code lengths: canonical codes "assigned in
 * order of length, then symbol", most significant bit first.
 */
function buildGroup(g: Group, lens: Uint8Array, n: number, at: number): void {
  let minLen = 32, maxLen = 0;
  for (let i = 0; i < n; i++) {
    const l = lens[i] as number;
    if (l < minLen) minLen = l;
    if (l > maxLen) maxLen = l;
  }
  g.minLen = minLen;
  g.maxLen = maxLen;
  g.fast.fill(0);
  let pp = 0;
  let code = 0;
  let left = 1;
  for (let len = 1; len <= maxLen; len++) {
    left <<= 1;
    g.base[len] = code - pp; // code - base = index into perm
    for (let s = 0; s < n; s++) {
      if (lens[s] !== len) continue;
      if (--left < 0) throw new Fail("codec-corrupt", "over-subscribed Huffman code", at);
      g.perm[pp++] = s;
      if (len <= FAST_BITS) {
        const e = (s << 5) | len;
        const from = code << (FAST_BITS - len);
        g.fast.fill(e, from, from + (1 << (FAST_BITS - len)));
      }
      code++;
    }
    g.limit[len] = code; // codes of this length are < limit
    code <<= 1;
  }
}

/**
 * Decompresses a bzip2 stream (and further streams while the bytes after
 * one start with "BZh1".."BZh9"). Every block CRC and each stream's
 * combined CRC are verified; `consumed` ends at the byte holding the last
 * stream's final bit; trailing bytes are not read.
 *
 * Errors: `codec-corrupt`, `codec-checksum`, `truncated`, `unsupported`
 * (randomised blocks, written only by bzip2 0.9.0), `codec-size-mismatch`
 * (`expectedSize`), `limit`.
 */
export function decompressBzip2(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  const n = input.length;
  let ip = 0;
  let bitbuf = 0;
  let bitcnt = 0;
  // A decoding error after the bit reader ran past the input (it pads with
  // zeros) is the input's end, not bad data.
  const fail = (code: ErrorCode, msg: string, at = ip): KimageError =>
    code === "codec-corrupt" && ip > n
      ? new KimageError("truncated", "bzip2: stream runs past the end of the input", { layer: LAYER, offset: base + n })
      : new KimageError(code, `bzip2: ${msg}`, { layer: LAYER, offset: base + Math.min(at, n) });

  /** Reads `k` ≤ 24 bits, most significant first. */
  const bits = (k: number): number => {
    while (bitcnt < k) {
      if (ip >= n) throw fail("truncated", "stream runs past the end of the input", n);
      bitbuf = (bitbuf << 8) | (input[ip++] as number);
      bitcnt += 8;
    }
    bitcnt -= k;
    return (bitbuf >>> bitcnt) & ((1 << k) - 1);
  };
  const isStreamStart = (p: number): boolean =>
    n - p >= 4 && input[p] === 0x42 && input[p + 1] === 0x5a && input[p + 2] === 0x68 && (input[p + 3] as number) >= 0x31 && (input[p + 3] as number) <= 0x39;

  if (!isStreamStart(0)) {
    if (n < 4) throw fail("truncated", "input too short for a bzip2 header", 0);
    throw fail("codec-corrupt", "not a bzip2 stream (bad 'BZh' header)", 0);
  }
  const out = new OutputBuffer(LAYER, options, Math.min(64 << 20, Math.max(1 << 16, n * 5)));
  const groups: Group[] = [];
  for (let i = 0; i < MAX_GROUPS; i++) groups.push(newGroup());
  const lens = new Uint8Array(MAX_ALPHA);
  const selectors = new Uint8Array(32768);
  const seqToUnseq = new Uint8Array(256);
  const mtf = new Uint8Array(256);
  const counts = new Int32Array(256);
  let tt: Uint32Array | null = null;
  let complete = true;
  let consumed = 0;

  stream: while (isStreamStart(ip)) {
    // "BZh" + level: "block size = level × 100 000 bytes"
    const level = (input[ip + 3] as number) - 0x30;
    ip += 4;
    bitbuf = 0;
    bitcnt = 0;
    const blockSize = level * 100000;
    if (!tt || tt.length < blockSize) tt = new Uint32Array(blockSize);
    let combined = 0;
    for (;;) {
      const m1 = bits(24);
      const m2 = bits(24);
      if (m1 === 0x177245 && m2 === 0x385090) {
        // end of stream: "the combined CRC: for each block, (crc << 1 | crc >>> 31) ^ blockCRC"
        const want = ((bits(16) << 16) | bits(16)) >>> 0;
        if (want !== combined >>> 0) throw fail("codec-checksum", "stream CRC mismatch");
        // "padded to a whole byte": whole bytes still buffered were read ahead
        consumed = ip - (bitcnt >>> 3);
        if (consumed > n) throw fail("truncated", "stream runs past the end of the input", n);
        ip = consumed;
        bitbuf = 0;
        bitcnt = 0;
        break;
      }
      if (m1 !== 0x314159 || m2 !== 0x265359) throw fail("codec-corrupt", "bad block magic");
      const blockStartByte = ip;
      const blockCrc = ((bits(16) << 16) | bits(16)) >>> 0;
      if (bits(1)) throw fail("unsupported", "randomised blocks (bzip2 0.9.0) are not supported");
      const origPtr = bits(24);
      // "the symbol map: 16 bits for which 16-value ranges are used, then 16 bits for each used range"
      const used16 = bits(16);
      let inUse = 0;
      for (let i = 0; i < 16; i++) {
        if (used16 & (0x8000 >>> i)) {
          const u = bits(16);
          for (let j = 0; j < 16; j++) if (u & (0x8000 >>> j)) seqToUnseq[inUse++] = i * 16 + j;
        }
      }
      if (inUse === 0) throw fail("codec-corrupt", "block uses no symbols");
      const alpha = inUse + 2;
      // "nGroups (3 bits, 2..6), nSelectors (15 bits), then the selectors, MTF-coded in unary"
      const nGroups = bits(3);
      if (nGroups < 2 || nGroups > MAX_GROUPS) throw fail("codec-corrupt", `invalid number of Huffman groups ${nGroups}`);
      const nSel = bits(15);
      if (nSel < 1) throw fail("codec-corrupt", "no selectors");
      const selMtf = [0, 1, 2, 3, 4, 5];
      for (let i = 0; i < nSel; i++) {
        let j = 0;
        while (bits(1)) {
          j++;
          if (j >= nGroups) throw fail("codec-corrupt", "selector out of range");
        }
        const v = selMtf[j] as number;
        for (let k = j; k > 0; k--) selMtf[k] = selMtf[k - 1] as number;
        selMtf[0] = v;
        selectors[i] = v;
      }
      // "code lengths: a 5-bit start, then per symbol: while the next bit is 1, the bit after it adds (0) or subtracts (1) one"
      for (let g = 0; g < nGroups; g++) {
        let len = bits(5);
        for (let s = 0; s < alpha; s++) {
          for (;;) {
            if (len < 1 || len > MAX_CODE_LEN) throw fail("codec-corrupt", "Huffman code length out of range");
            if (!bits(1)) break;
            len += bits(1) ? -1 : 1;
          }
          lens[s] = len;
        }
        try {
          buildGroup(groups[g] as Group, lens, alpha, ip);
        } catch (e) {
          if (e instanceof Fail) throw fail(e.code, e.message);
          throw e;
        }
      }
      // ---- the MTF/RLE2 symbols, Huffman-coded, 50 per selector
      for (let i = 0; i < 256; i++) mtf[i] = i;
      counts.fill(0);
      const eob = inUse + 1;
      let count = 0; // bytes of the pre-BWT block
      let run = 0; // pending RUNA/RUNB run length
      let runBit = 1;
      let selIdx = 0;
      let left = 0;
      let g = groups[0] as Group;
      const t = tt;
      for (;;) {
        if (left === 0) {
          if (selIdx >= nSel) throw fail("codec-corrupt", "more symbols than selectors");
          g = groups[selectors[selIdx++] as number] as Group;
          left = GROUP_SIZE;
        }
        left--;
        // decode one symbol: the fast table, else the canonical limits
        while (bitcnt < 24) {
          bitbuf = (bitbuf << 8) | (ip < n ? (input[ip] as number) : 0);
          ip++;
          bitcnt += 8;
        }
        let sym: number;
        const e = g.fast[(bitbuf >>> (bitcnt - FAST_BITS)) & ((1 << FAST_BITS) - 1)] as number;
        if (e !== 0) {
          bitcnt -= e & 31;
          sym = e >>> 5;
        } else {
          let len = FAST_BITS + 1;
          for (;;) {
            if (len > g.maxLen) throw fail("codec-corrupt", "invalid Huffman code");
            const code = (bitbuf >>> (bitcnt - len)) & ((1 << len) - 1);
            if (code < (g.limit[len] as number)) {
              const idx = code - (g.base[len] as number);
              if (idx < 0 || idx >= alpha) throw fail("codec-corrupt", "invalid Huffman code");
              sym = g.perm[idx] as number;
              bitcnt -= len;
              break;
            }
            len++;
          }
        }
        if (ip - (bitcnt >>> 3) > n) throw fail("truncated", "stream runs past the end of the input", n);
        // "RUNA (0) and RUNB (1) write a run length in bijective base 2: RUNA adds 1 << k, RUNB 2 << k"
        if (sym <= 1) {
          run += runBit << sym;
          runBit <<= 1;
          if (run > blockSize) throw fail("codec-corrupt", "run exceeds the block size");
          continue;
        }
        if (run > 0) {
          if (count + run > blockSize) throw fail("codec-corrupt", "block exceeds its declared size");
          const b = seqToUnseq[mtf[0] as number] as number;
          counts[b] = (counts[b] as number) + run;
          t.fill(b, count, count + run);
          count += run;
          run = 0;
          runBit = 1;
        }
        if (sym === eob) break;
        // "symbol s (2..inUse) is MTF index s - 1"
        if (count >= blockSize) throw fail("codec-corrupt", "block exceeds its declared size");
        const k = sym - 1;
        const v = mtf[k] as number;
        if (k < 16) {
          for (let j = k; j > 0; j--) mtf[j] = mtf[j - 1] as number;
        } else {
          mtf.copyWithin(1, 0, k);
        }
        mtf[0] = v;
        const b = seqToUnseq[v] as number;
        counts[b] = (counts[b] as number) + 1;
        t[count++] = b;
      }
      if (origPtr >= count) throw fail("codec-corrupt", "BWT origin pointer outside the block");
      // ---- inverse BWT: "cftab[b] = number of bytes smaller than b; T[cftab[byte]++] = index"
      const cf = new Int32Array(256);
      let sum = 0;
      for (let b = 0; b < 256; b++) {
        cf[b] = sum;
        sum += counts[b] as number;
      }
      for (let i = 0; i < count; i++) {
        const b = (t[i] as number) & 0xff;
        const c = cf[b] as number;
        t[c] = (t[c] as number) | (i << 8);
        cf[b] = c + 1;
      }
      // ---- walk the BWT chain, undoing the initial run-length coding:
      // "after four equal bytes, the next byte is a count (0-255) of more copies"
      let tPos = (t[origPtr] as number) >>> 8;
      const start = out.length;
      let buf = out.buf;
      let op = start;
      let cap = buf.length;
      let last = -1;
      let same = 0;
      for (let k = 0; k < count; k++) {
        tPos = t[tPos] as number;
        const ch = tPos & 0xff;
        tPos >>>= 8;
        if (same === 4) {
          if (ch > cap - op) {
            out.length = op;
            if (ch > out.max - op) {
              if (!out.partial) throw fail("limit", `decompressed output exceeds the limit of ${out.max} bytes`, blockStartByte);
              out.ensure(out.max - op);
              out.buf.fill(last, op, out.max);
              out.length = out.max;
              complete = false;
              break stream;
            }
            out.ensure(ch);
            buf = out.buf;
            cap = buf.length;
          }
          buf.fill(last, op, op + ch);
          op += ch;
          same = 0;
          continue;
        }
        if (ch === last) same++;
        else {
          same = 1;
          last = ch;
        }
        if (op >= cap) {
          out.length = op;
          if (op >= out.max) {
            if (!out.partial) throw fail("limit", `decompressed output exceeds the limit of ${out.max} bytes`, blockStartByte);
            complete = false;
            break stream;
          }
          out.ensure(1);
          buf = out.buf;
          cap = buf.length;
        }
        buf[op++] = ch;
      }
      out.length = op;
      if (bzip2Crc(buf, start, op) !== blockCrc) throw fail("codec-checksum", "block CRC mismatch", blockStartByte);
      combined = (((combined << 1) | (combined >>> 31)) ^ blockCrc) >>> 0;
    }
  }
  if (complete && !options.partial && options.expectedSize !== undefined && out.length !== options.expectedSize) {
    throw fail("codec-size-mismatch", `decoded ${out.length} bytes, expected ${options.expectedSize}`, 0);
  }
  return { codec: "bzip2", bytes: out.result(), consumed: complete ? consumed : ip, complete, checked: complete ? ["crc32"] : [] };
}
