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
 * The decoder is resumable (one core behind {@link decompressBzip2} and
 * {@link createBzip2StreamDecoder}): a block's compressed size is not
 * stated, so instead of waiting for a whole block it parses the block
 * header once {@link BZIP2_HEADER_MARGIN} bytes are at hand (the most the
 * fields up to the selectors can take), then reads code lengths and Huffman
 * symbols step by step, each once a few bytes are at hand, keeping the
 * block's tables and its BWT array between calls. When the end-of-block
 * symbol arrives, the block is inverted and written out.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { ChunkFeeder, type FeedStep } from "./inflate.js";
import { OutputBuffer, outputGuess } from "./output.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import type { DecompressOptions, DecompressResult } from "./types.js";
import { WindowOutput, type StreamSink } from "./window.js";

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
 * The most input a bzip2 decoding step waits for before it starts (unless
 * the input has ended): the selectors, at most 32767 of at most 6 bits
 * (24 577 bytes). The other steps wait for less: a block or end-of-stream
 * magic with its CRC 10 bytes; the fixed header fields after the magic
 * (32 + 1 + 24 + 16 + 16 × 16 + 3 + 15 bits) are parsed as soon as they
 * may be there and again if they were not; one code-length step or one
 * Huffman symbol 3 bytes (the bit reader reads no further ahead).
 */
export const BZIP2_HEADER_MARGIN = 24577;
/** Input bytes before a block or end-of-stream magic (48 bits) and its CRC (32 bits). */
const BLOCK_MARGIN = 10;
/** The fixed header fields after the block magic: 347 bits. */
const FIELDS_MARGIN = 44;
/** Input bytes before one code-length step (≤ 7 bits) or one Huffman symbol (≤ 20 bits): the bit reader holds ≤ 31 bits, so it reads ≤ 3 bytes. */
const STEP_MARGIN = 3;

// Where the core is between calls.
const B_FIRST = 0; // before the first "BZh" header
const B_NEXT = 1; // after a stream: another "BZh" header, or the end
const B_BLOCK = 2; // before a block magic or the end-of-stream marker
const B_HEADER = 3; // after a block magic: CRC, origin, symbol map, group and selector counts
const B_SELECTORS = 4; // the selectors
const B_LENS = 5; // the groups' code lengths
const B_SYMS = 6; // the Huffman-coded MTF/RLE2 symbols
const B_DONE = 7; // after the last stream (or partial output is full)

/** Where the core writes: a growable {@link OutputBuffer} (one-shot) or a {@link WindowOutput} (streaming, no window). */
type Bzip2Output = OutputBuffer | WindowOutput;

const EMPTY = new Uint8Array(0);

/** The resumable bzip2 decoder behind {@link decompressBzip2} and {@link createBzip2StreamDecoder}. */
class Bzip2Core {
  // The input of the current run: input[ip, n), input[0] at absolute abs0.
  private input: Uint8Array = EMPTY;
  private ip = 0;
  private n = 0;
  private abs0 = 0;
  private bitbuf = 0;
  private bitcnt = 0;
  private state = B_FIRST;
  /** False when partial output filled up (one-shot only). */
  complete = true;

  // per stream
  private blockSize = 0;
  private combined = 0;
  private tt: Uint32Array | null = null;
  // per block
  private blockAbs = 0;
  private blockCrc = 0;
  private origPtr = 0;
  private inUse = 0;
  private nGroups = 0;
  private nSel = 0;
  private readonly groups: Group[] = [];
  private readonly lens = new Uint8Array(MAX_ALPHA);
  private readonly selectors = new Uint8Array(32768);
  private readonly seqToUnseq = new Uint8Array(256);
  private readonly mtf = new Uint8Array(256);
  private readonly counts = new Int32Array(256);
  // code-length reading: group, symbol (-1 before the group's 5-bit start), current length
  private lg = 0;
  private ls = -1;
  private llen = 0;
  // symbol reading
  private selIdx = 0;
  private left = 0;
  private gi = 0;
  private runLen = 0;
  private runBit = 1;
  private count = 0;

  constructor(
    private readonly out: Bzip2Output,
    private readonly partial: boolean,
  ) {
    for (let i = 0; i < MAX_GROUPS; i++) this.groups.push(newGroup());
  }

  /** True after the last stream (or when partial output is full). */
  get done(): boolean {
    return this.state === B_DONE;
  }

  // A decoding error after the bit reader ran past the input (it pads with
  // zeros) is the input's end, not bad data.
  private fail(code: ErrorCode, msg: string, ip: number, at = ip): KimageError {
    const n = this.n;
    if (code === "codec-corrupt" && ip > n) return new KimageError("truncated", "bzip2: stream runs past the end of the input", { layer: LAYER, offset: this.abs0 + n });
    return new KimageError(code, `bzip2: ${msg}`, { layer: LAYER, offset: this.abs0 + Math.min(at, n) });
  }

  /** Reads `k` ≤ 24 bits, most significant first. */
  private bits(k: number): number {
    while (this.bitcnt < k) {
      if (this.ip >= this.n) throw this.fail("truncated", "stream runs past the end of the input", this.ip, this.n);
      this.bitbuf = (this.bitbuf << 8) | (this.input[this.ip++] as number);
      this.bitcnt += 8;
    }
    this.bitcnt -= k;
    return (this.bitbuf >>> this.bitcnt) & ((1 << k) - 1);
  }

  /** Stops for more input: whole bytes read ahead go back to the caller. */
  private pause(): number {
    // Most significant bit first: the last bytes read are the lowest bits.
    const whole = this.bitcnt >>> 3; // ≤ 3: the reader holds at most 31 bits
    this.ip -= whole;
    this.bitbuf >>>= whole * 8;
    this.bitcnt &= 7;
    const ip = this.ip;
    this.input = EMPTY;
    return ip;
  }

  private isStreamStart(p: number): boolean {
    const input = this.input;
    return this.n - p >= 4 && input[p] === 0x42 && input[p + 1] === 0x5a && input[p + 2] === 0x68 && (input[p + 3] as number) >= 0x31 && (input[p + 3] as number) <= 0x39;
  }

  /**
   * Decodes from `input[ip, n)`; returns the position of the first byte not
   * used. Unless `ended`, it stops early (state kept) where fewer bytes
   * remain than the next step may need; the caller passes `input[return, n)`
   * again, followed by more input. Once {@link done}, the return value is
   * the end of the last stream (bytes after it are not consumed).
   *
   * @throws KimageError `codec-corrupt`, `codec-checksum`, `truncated`, `unsupported`, `limit`
   */
  run(input: Uint8Array, ip: number, n: number, ended: boolean, abs0: number): number {
    this.input = input;
    this.ip = ip;
    this.n = n;
    this.abs0 = abs0;
    for (;;) {
      switch (this.state) {
        case B_FIRST:
        case B_NEXT: {
          // "BZh" + level: "block size = level × 100 000 bytes"
          const first = this.state === B_FIRST;
          if (n - this.ip < 4) {
            const sig = [0x42, 0x5a, 0x68];
            let prefix = true;
            for (let i = this.ip; i < n; i++) if (i - this.ip < 3 && input[i] !== sig[i - this.ip]) prefix = false;
            if (!ended && (first || prefix)) return this.pause();
            if (first) throw this.fail("truncated", "input too short for a bzip2 header", this.ip);
            this.state = B_DONE;
            break;
          }
          if (!this.isStreamStart(this.ip)) {
            if (first) throw this.fail("codec-corrupt", "not a bzip2 stream (bad 'BZh' header)", this.ip);
            this.state = B_DONE;
            break;
          }
          const level = (input[this.ip + 3] as number) - 0x30;
          this.ip += 4;
          this.bitbuf = 0;
          this.bitcnt = 0;
          this.blockSize = level * 100000;
          if (!this.tt || this.tt.length < this.blockSize) this.tt = new Uint32Array(this.blockSize);
          this.combined = 0;
          this.state = B_BLOCK;
          break;
        }
        case B_BLOCK: {
          if (!ended && n - this.ip < BLOCK_MARGIN) return this.pause();
          const m1 = this.bits(24);
          const m2 = this.bits(24);
          if (m1 === 0x177245 && m2 === 0x385090) {
            // end of stream: "the combined CRC: for each block, (crc << 1 | crc >>> 31) ^ blockCRC"
            const want = ((this.bits(16) << 16) | this.bits(16)) >>> 0;
            if (want !== this.combined >>> 0) throw this.fail("codec-checksum", "stream CRC mismatch", this.ip);
            // "padded to a whole byte": whole bytes still buffered were read ahead
            const end = this.ip - (this.bitcnt >>> 3);
            if (end > n) throw this.fail("truncated", "stream runs past the end of the input", n);
            this.ip = end;
            this.bitbuf = 0;
            this.bitcnt = 0;
            this.state = B_NEXT;
            break;
          }
          if (m1 !== 0x314159 || m2 !== 0x265359) throw this.fail("codec-corrupt", "bad block magic", this.ip);
          this.blockAbs = abs0 + this.ip;
          this.state = B_HEADER;
          break;
        }
        case B_HEADER:
          if (!ended && n - this.ip < FIELDS_MARGIN) {
            // Maybe the fields are all there: parse them, or start again later.
            const ip0 = this.ip;
            const bitbuf0 = this.bitbuf;
            const bitcnt0 = this.bitcnt;
            try {
              this.header();
            } catch (e) {
              if (!(e instanceof KimageError) || e.code !== "truncated") throw e;
              this.ip = ip0;
              this.bitbuf = bitbuf0;
              this.bitcnt = bitcnt0;
              return this.pause();
            }
          } else this.header();
          this.state = B_SELECTORS;
          break;
        case B_SELECTORS:
          if (!ended && n - this.ip < Math.ceil((this.nSel * 6) / 8)) return this.pause();
          this.readSelectors();
          this.state = B_LENS;
          this.lg = 0;
          this.ls = -1;
          break;
        case B_LENS:
          if (!this.codeLengths(ended)) return this.pause();
          this.startSymbols();
          this.state = B_SYMS;
          break;
        case B_SYMS:
          if (!this.symbols(ended)) return this.pause();
          this.writeBlock();
          if (this.state === B_SYMS) this.state = B_BLOCK;
          break;
        default: {
          const end = this.ip;
          this.input = EMPTY;
          return end;
        }
      }
    }
  }

  /** The block header from its CRC through the number of selectors. */
  private header(): void {
    const ip = (): number => this.ip;
    this.blockCrc = ((this.bits(16) << 16) | this.bits(16)) >>> 0;
    if (this.bits(1)) throw this.fail("unsupported", "randomised blocks (bzip2 0.9.0) are not supported", ip());
    this.origPtr = this.bits(24);
    // "the symbol map: 16 bits for which 16-value ranges are used, then 16 bits for each used range"
    const used16 = this.bits(16);
    let inUse = 0;
    for (let i = 0; i < 16; i++) {
      if (used16 & (0x8000 >>> i)) {
        const u = this.bits(16);
        for (let j = 0; j < 16; j++) if (u & (0x8000 >>> j)) this.seqToUnseq[inUse++] = i * 16 + j;
      }
    }
    if (inUse === 0) throw this.fail("codec-corrupt", "block uses no symbols", ip());
    this.inUse = inUse;
    // "nGroups (3 bits, 2..6), nSelectors (15 bits), then the selectors, MTF-coded in unary"
    const nGroups = this.bits(3);
    if (nGroups < 2 || nGroups > MAX_GROUPS) throw this.fail("codec-corrupt", `invalid number of Huffman groups ${nGroups}`, ip());
    const nSel = this.bits(15);
    if (nSel < 1) throw this.fail("codec-corrupt", "no selectors", ip());
    this.nGroups = nGroups;
    this.nSel = nSel;
  }

  /** The selectors: which group codes each run of 50 symbols. */
  private readSelectors(): void {
    const ip = (): number => this.ip;
    const nGroups = this.nGroups;
    const nSel = this.nSel;
    const selMtf = [0, 1, 2, 3, 4, 5];
    for (let i = 0; i < nSel; i++) {
      let j = 0;
      while (this.bits(1)) {
        j++;
        if (j >= nGroups) throw this.fail("codec-corrupt", "selector out of range", ip());
      }
      const v = selMtf[j] as number;
      for (let k = j; k > 0; k--) selMtf[k] = selMtf[k - 1] as number;
      selMtf[0] = v;
      this.selectors[i] = v;
    }
  }

  /**
   * The code lengths of every group, step by step: "a 5-bit start, then per
   * symbol: while the next bit is 1, the bit after it adds (0) or subtracts
   * (1) one". Returns false when it must wait for input.
   */
  private codeLengths(ended: boolean): boolean {
    const safe = ended ? Number.MAX_SAFE_INTEGER : this.n - STEP_MARGIN;
    const alpha = this.inUse + 2;
    const lens = this.lens;
    while (this.lg < this.nGroups) {
      if (this.ls < 0) {
        if (this.ip > safe) return false;
        this.llen = this.bits(5);
        this.ls = 0;
      }
      while (this.ls < alpha) {
        if (this.ip > safe) return false;
        const len = this.llen;
        if (len < 1 || len > MAX_CODE_LEN) throw this.fail("codec-corrupt", "Huffman code length out of range", this.ip);
        if (!this.bits(1)) {
          lens[this.ls++] = len;
          continue;
        }
        this.llen = len + (this.bits(1) ? -1 : 1);
      }
      try {
        buildGroup(this.groups[this.lg] as Group, lens, alpha, this.ip);
      } catch (e) {
        if (e instanceof Fail) throw this.fail(e.code, e.message, this.ip);
        throw e;
      }
      this.lg++;
      this.ls = -1;
    }
    return true;
  }

  private startSymbols(): void {
    for (let i = 0; i < 256; i++) this.mtf[i] = i;
    this.counts.fill(0);
    this.count = 0; // bytes of the pre-BWT block
    this.runLen = 0; // pending RUNA/RUNB run length
    this.runBit = 1;
    this.selIdx = 0;
    this.left = 0;
    this.gi = 0;
  }

  /** The MTF/RLE2 symbols, Huffman-coded, 50 per selector, up to end-of-block. Returns false when it must wait for input. */
  private symbols(ended: boolean): boolean {
    const input = this.input;
    const n = this.n;
    const safe = ended ? Number.MAX_SAFE_INTEGER : n - STEP_MARGIN;
    const blockSize = this.blockSize;
    const nSel = this.nSel;
    const selectors = this.selectors;
    const groups = this.groups;
    const seqToUnseq = this.seqToUnseq;
    const mtf = this.mtf;
    const counts = this.counts;
    const alpha = this.inUse + 2;
    const eob = this.inUse + 1;
    const t = this.tt as Uint32Array;
    let ip = this.ip;
    let bitbuf = this.bitbuf;
    let bitcnt = this.bitcnt;
    let count = this.count;
    let run = this.runLen;
    let runBit = this.runBit;
    let selIdx = this.selIdx;
    let left = this.left;
    let gi = this.gi;
    let g = groups[gi] as Group;
    let finished = false;
    for (;;) {
      if (ip > safe) break;
      if (left === 0) {
        if (selIdx >= nSel) {
          this.ip = ip;
          throw this.fail("codec-corrupt", "more symbols than selectors", ip);
        }
        gi = selectors[selIdx++] as number;
        g = groups[gi] as Group;
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
          if (len > g.maxLen) throw this.fail("codec-corrupt", "invalid Huffman code", ip);
          const code = (bitbuf >>> (bitcnt - len)) & ((1 << len) - 1);
          if (code < (g.limit[len] as number)) {
            const idx = code - (g.base[len] as number);
            if (idx < 0 || idx >= alpha) throw this.fail("codec-corrupt", "invalid Huffman code", ip);
            sym = g.perm[idx] as number;
            bitcnt -= len;
            break;
          }
          len++;
        }
      }
      if (ip - (bitcnt >>> 3) > n) throw this.fail("truncated", "stream runs past the end of the input", ip, n);
      // "RUNA (0) and RUNB (1) write a run length in bijective base 2: RUNA adds 1 << k, RUNB 2 << k"
      if (sym <= 1) {
        run += runBit << sym;
        runBit <<= 1;
        if (run > blockSize) throw this.fail("codec-corrupt", "run exceeds the block size", ip);
        continue;
      }
      if (run > 0) {
        if (count + run > blockSize) throw this.fail("codec-corrupt", "block exceeds its declared size", ip);
        const b = seqToUnseq[mtf[0] as number] as number;
        counts[b] = (counts[b] as number) + run;
        t.fill(b, count, count + run);
        count += run;
        run = 0;
        runBit = 1;
      }
      if (sym === eob) {
        finished = true;
        break;
      }
      // "symbol s (2..inUse) is MTF index s - 1"
      if (count >= blockSize) throw this.fail("codec-corrupt", "block exceeds its declared size", ip);
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
    this.ip = ip;
    this.bitbuf = bitbuf;
    this.bitcnt = bitcnt;
    this.count = count;
    this.runLen = run;
    this.runBit = runBit;
    this.selIdx = selIdx;
    this.left = left;
    this.gi = gi;
    return finished;
  }

  /** Inverts the BWT of the block just read, undoes the initial run-length coding, writes the bytes and checks the block CRC. */
  private writeBlock(): void {
    const count = this.count;
    const t = this.tt as Uint32Array;
    const counts = this.counts;
    const origPtr = this.origPtr;
    if (origPtr >= count) throw this.fail("codec-corrupt", "BWT origin pointer outside the block", this.ip);
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
    const out = this.out;
    const limit = (): KimageError => new KimageError("limit", `bzip2: decompressed output exceeds the limit of ${out.max} bytes`, { layer: LAYER, offset: this.blockAbs });
    let tPos = (t[origPtr] as number) >>> 8;
    let buf = out.buf;
    let op = out.length;
    let flushed = out instanceof OutputBuffer ? 0 : out.flushed;
    // op may reach cap before the buffer must grow (or maxOutput is reached)
    let cap = Math.min(buf.length, out.max - flushed);
    // The block CRC covers buf[from, op) plus `crc` for bytes already emitted.
    let from = op;
    let crc = 0;
    let last = -1;
    let same = 0;
    for (let k = 0; k < count; k++) {
      tPos = t[tPos] as number;
      const ch = tPos & 0xff;
      tPos >>>= 8;
      if (same === 4) {
        if (ch > cap - op) {
          const room = out.max - flushed - op;
          if (ch > room) {
            if (!this.partial) throw limit();
            out.length = op;
            out.ensure(room);
            out.buf.fill(last, op, op + room);
            out.length = op + room;
            this.complete = false;
            this.state = B_DONE;
            return;
          }
          crc = bzip2Crc(buf, from, op, crc);
          out.length = op;
          out.ensure(ch);
          buf = out.buf;
          op = out.length;
          from = op;
          flushed = out instanceof OutputBuffer ? 0 : out.flushed;
          cap = Math.min(buf.length, out.max - flushed);
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
        if (out.max - flushed - op < 1) {
          if (!this.partial) throw limit();
          out.length = op;
          this.complete = false;
          this.state = B_DONE;
          return;
        }
        crc = bzip2Crc(buf, from, op, crc);
        out.length = op;
        out.ensure(1);
        buf = out.buf;
        op = out.length;
        from = op;
        flushed = out instanceof OutputBuffer ? 0 : out.flushed;
        cap = Math.min(buf.length, out.max - flushed);
      }
      buf[op++] = ch;
    }
    out.length = op;
    crc = bzip2Crc(buf, from, op, crc);
    if (crc !== this.blockCrc) {
      throw new KimageError("codec-checksum", "bzip2: block CRC mismatch", { layer: LAYER, offset: this.blockAbs });
    }
    this.combined = (((this.combined << 1) | (this.combined >>> 31)) ^ this.blockCrc) >>> 0;
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
  const out = new OutputBuffer(LAYER, options, outputGuess(input.length));
  const core = new Bzip2Core(out, out.partial);
  const consumed = core.run(input, 0, input.length, true, base);
  const complete = core.complete;
  if (complete && !options.partial && options.expectedSize !== undefined && out.length !== options.expectedSize) {
    throw new KimageError("codec-size-mismatch", `bzip2: decoded ${out.length} bytes, expected ${options.expectedSize}`, { layer: LAYER, offset: base });
  }
  return { codec: "bzip2", bytes: out.result(), consumed, complete, checked: complete ? ["crc32"] : [] };
}

/** See {@link createBzip2StreamDecoder}. */
class Bzip2StreamDecoder implements StreamDecoder {
  readonly codec = "bzip2" as const;
  private readonly out: WindowOutput;
  private readonly core: Bzip2Core;
  private readonly feeder: ChunkFeeder;
  private readonly base: number;
  private readonly expectedSize: number | undefined;
  private finished = false;
  private failed: unknown = null;
  private ended = false;
  private readonly step: FeedStep = (input, ip, n, ended, abs0) => {
    const p = this.core.run(input, ip, n, ended, abs0);
    if (this.core.done) this.finish();
    return p;
  };
  private readonly stopped = (): boolean => this.finished;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    this.base = options.base ?? 0;
    this.expectedSize = options.expectedSize;
    // No window: a block is decoded from its own BWT array, never from earlier output.
    this.out = new WindowOutput(LAYER, 0, sink, { maxOutput: options.maxOutput, base: this.base, chunkSize: options.chunkSize, borrow: options.borrow });
    this.core = new Bzip2Core(this.out, false);
    this.feeder = new ChunkFeeder(1 << 17, this.base);
  }

  get consumed(): number {
    return this.feeder.consumed;
  }

  get produced(): number {
    return this.out.emitted;
  }

  get complete(): boolean {
    return this.finished;
  }

  get checked(): readonly string[] {
    return this.finished ? ["crc32"] : [];
  }

  write(chunk: Uint8Array): void {
    if (this.failed) throw this.failed;
    if (this.finished || this.ended) return;
    try {
      this.feeder.feed(chunk, false, this.step, this.stopped);
    } catch (e) {
      this.failed = e;
      throw e;
    }
  }

  end(): void {
    if (this.failed) throw this.failed;
    if (this.ended) return;
    this.ended = true;
    try {
      if (!this.finished) this.feeder.feed(EMPTY, true, this.step, this.stopped);
      if (!this.finished) throw new KimageError("truncated", "bzip2: stream runs past the end of the input", { layer: LAYER, offset: this.base + this.feeder.consumed + this.feeder.held });
    } catch (e) {
      this.failed = e;
      throw e;
    }
  }

  private finish(): void {
    this.finished = true;
    this.out.finish();
    if (this.expectedSize !== undefined && this.out.total !== this.expectedSize) {
      throw new KimageError("codec-size-mismatch", `bzip2: decoded ${this.out.total} bytes, expected ${this.expectedSize}`, { layer: LAYER, offset: this.base });
    }
  }
}

/**
 * A streaming bzip2 decoder: write compressed chunks, decoded chunks go to
 * `sink`. The same streams, checks and errors as {@link decompressBzip2}:
 * every block CRC and each stream's combined CRC are verified, further
 * streams are decoded while the bytes after one start with "BZh1".."BZh9",
 * other bytes after the last stream are not consumed. `maxOutput` is
 * `limit`, `expectedSize` is checked at the end (`codec-size-mismatch`).
 *
 * Bounded state, whatever the input: one block's BWT array (4 bytes × the
 * block size: 3.6 MB at level 9) and Huffman tables, one output chunk
 * ({@link WindowOutput} with no window), and a 128 KiB carry buffer for the
 * bytes a step could not use yet (fewer than {@link BZIP2_HEADER_MARGIN} +
 * 4). A block's output (up to ~46 MB for runs) is emitted chunk by chunk
 * and its CRC computed on the way.
 */
export function createBzip2StreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new Bzip2StreamDecoder(sink, options);
}
