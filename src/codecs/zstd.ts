/**
 * Zstandard (RFC 8878): an own, bounded, browser-safe decoder for the
 * frames the kernel build writes (`zstd -22 --ultra --long=27`: 128 MiB
 * windows, no content size, XXH64 content checksum), verified against the
 * checksum and stopping at the end of the frame so trailing bytes (the
 * kernel's le32 size) are left alone.
 *
 * Why not the `fzstd` package: given an output buffer it neither reports
 * how many bytes it wrote nor checks match distances, it throws on bytes
 * after the last frame, and without a buffer it allocates the frame's
 * window size straight from the header.
 *
 * The whole output stays in one buffer, so the window never needs copying:
 * a match may reach back to the start of its frame's output. Sequences are
 * executed as they are decoded; the output buffer, sized from
 * `expectedSize` or the frame content size when known, grows only through
 * {@link OutputBuffer} (bounded by `maxOutput`).
 *
 * {@link createZstdStreamDecoder} decodes the same frames from chunks with
 * the same block code, into a {@link WindowOutput} that keeps only the
 * window.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { OutputBuffer, outputGuess } from "./output.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";
import { DEFAULT_STREAM_CHUNK, WindowOutput, type StreamSink } from "./window.js";
import { FeedingStreamDecoder } from "./stream-base.js";
import { Xxh64, xxh64Parts } from "./xxhash.js";

const LAYER = "zstd";

/** The frame magic 0xFD2FB528 (little-endian). */
export const ZSTD_MAGIC = 0xfd2fb528;

/** Thrown internally with a scratch-relative position; converted by the caller. */
class Fail extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly at: number,
    /** A match reached past the window it was given (not before the frame). */
    readonly pastWindow = false,
  ) {
    super(message);
  }
}

/** The error of a match offset `off` that reaches past `hist` (the frame's output so far) or `wmax`. */
function farMatch(off: number, hist: number, p: number): Fail {
  if (off > hist) return new Fail("codec-corrupt", "match offset reaches before the frame", p);
  return new Fail("codec-corrupt", "match offset reaches past the window", p, true);
}

/** "Block_Maximum_Size is the smallest of Window_Size and 128 KiB" */
const BLOCK_MAX = 128 << 10;
/**
 * Scratch padding (bytes) on both sides of a block's copy: bit reads (even
 * the up to ~12 bytes one sequence may read past a corrupt stream's start
 * before the overrun check) and 4-byte literal copies never leave the array.
 */
const PAD = 32;

// RFC 8878 3.1.1.3.2.1.1: literals length codes: baseline and extra bits.
const LL_BASE = Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536);
const LL_BITS = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
// Match length codes: "codes 0-31: value = code + 3", then baselines with extra bits.
const ML_BASE = new Int32Array(53);
const ML_BITS = new Uint8Array(53);
{
  for (let i = 0; i < 32; i++) ML_BASE[i] = i + 3;
  const base = [35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539];
  const bits = [1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  for (let i = 0; i < base.length; i++) {
    ML_BASE[32 + i] = base[i] as number;
    ML_BITS[32 + i] = bits[i] as number;
  }
}
// 3.1.1.3.2.2: predefined distributions (accuracy logs 6, 6, 5).
const LL_DEFAULT = [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1];
const ML_DEFAULT = [
  1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
  -1, -1,
];
const OF_DEFAULT = [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1];

/** An FSE decoding table: per state, the symbol, the bits to read and the baseline of the next state. */
interface Fse {
  log: number;
  sym: Uint8Array;
  nb: Uint8Array;
  base: Int32Array;
  /**
   * The sequence decoding table, built on first use by {@link packed}
   * (null until then: every table has the same shape, so V8 sees one kind
   * of object in the sequence loop).
   */
  dt: Int32Array | null;
}

/** A Huffman decoding table indexed by the next `bits` bits. */
interface Huf {
  bits: number;
  sym: Uint8Array;
  nb: Uint8Array;
  /** Per cell `symbol | Number_of_Bits << 8` (one load per symbol). */
  dt: Uint16Array;
}

function highbit(v: number): number {
  return 31 - Math.clz32(v);
}

/** Reads `n` (≤ 25) bits starting at bit `p` of `s` (little-endian bit order). */
function rb(s: Uint8Array, p: number, n: number): number {
  const b = p >>> 3;
  return (((s[b] as number) | ((s[b + 1] as number) << 8) | ((s[b + 2] as number) << 16) | ((s[b + 3] as number) << 24)) >>> (p & 7)) & ((1 << n) - 1);
}

/**
 * Builds an FSE decoding table from normalized counts (RFC 8878 4.1.1):
 * "symbols with probability -1 ('less than 1') take the last cells, one
 * each, with Number_of_Bits = Accuracy_Log and Baseline 0; the others are
 * spread with position += (tableSize >> 1) + (tableSize >> 3) + 3, skipping
 * the cells taken; then each cell's next-state counter gives Number_of_Bits
 * = Accuracy_Log - highbit(counter) and Baseline = (counter << bits) - size".
 */
function buildFse(norm: ArrayLike<number>, n: number, log: number, at: number): Fse {
  const size = 1 << log;
  const sym = new Uint8Array(size);
  const nb = new Uint8Array(size);
  const base = new Int32Array(size);
  const next = new Uint32Array(n);
  let high = size - 1;
  for (let s = 0; s < n; s++) {
    const c = norm[s] as number;
    if (c === -1) {
      sym[high--] = s;
      next[s] = 1;
    } else next[s] = c;
  }
  const step = (size >>> 1) + (size >>> 3) + 3;
  const mask = size - 1;
  let pos = 0;
  for (let s = 0; s < n; s++) {
    const c = norm[s] as number;
    for (let i = 0; i < c; i++) {
      sym[pos] = s;
      do pos = (pos + step) & mask;
      while (pos > high);
    }
  }
  if (pos !== 0) throw new Fail("codec-corrupt", "FSE table spread does not end at position 0", at);
  for (let i = 0; i < size; i++) {
    const s = sym[i] as number;
    const c = next[s] as number;
    next[s] = c + 1;
    const bits = log - highbit(c);
    nb[i] = bits;
    base[i] = (c << bits) - size;
  }
  return { log, sym, nb, base, dt: null };
}

const PREDEFINED: { ll: Fse; ml: Fse; of: Fse } = {
  ll: buildFse(LL_DEFAULT, LL_DEFAULT.length, 6, 0),
  ml: buildFse(ML_DEFAULT, ML_DEFAULT.length, 6, 0),
  of: buildFse(OF_DEFAULT, OF_DEFAULT.length, 5, 0),
};

/**
 * Reads an FSE table description (RFC 8878 4.1.1) from the forward
 * bitstream at byte `p` (limit `end`); returns the table and the byte after
 * it. "Accuracy_Log = low 4 bits + 5; then each symbol's probability, in a
 * variable number of bits that shrinks as the remaining total falls; a
 * probability of 0 is followed by 2-bit repeat flags for more zeros (3:
 * another flag follows); values are probability + 1, so 0 means -1 ('less
 * than 1'); the remaining total must end at exactly 1".
 */
function readFse(s: Uint8Array, p: number, end: number, maxLog: number, maxSym: number): [Fse, number] {
  const start = p * 8;
  let bp = start;
  const log = rb(s, bp, 4) + 5;
  bp += 4;
  if (log > maxLog) throw new Fail("codec-corrupt", `FSE accuracy log ${log} exceeds ${maxLog}`, p);
  const norm = new Int16Array(256);
  let remaining = (1 << log) + 1;
  let threshold = 1 << log;
  let bits = log + 1;
  let sym = 0;
  while (remaining > 1) {
    if (sym > maxSym) throw new Fail("codec-corrupt", "FSE table description has too many symbols", p);
    const max = 2 * threshold - 1 - remaining;
    let count: number;
    const low = rb(s, bp, bits - 1);
    if (low < max) {
      count = low;
      bp += bits - 1;
    } else {
      count = rb(s, bp, bits);
      if (count >= threshold) count -= max;
      bp += bits;
    }
    count--;
    remaining -= count < 0 ? -count : count;
    norm[sym++] = count;
    if (count === 0) {
      for (;;) {
        const r = rb(s, bp, 2);
        bp += 2;
        sym += r;
        if (sym > maxSym + 1) throw new Fail("codec-corrupt", "FSE zero-probability run past the last symbol", p);
        if (r !== 3) break;
      }
    }
    if (bp > end * 8) throw new Fail("codec-corrupt", "FSE table description runs past its section", p);
    while (remaining < threshold && threshold > 1) {
      bits--;
      threshold >>>= 1;
    }
  }
  if (remaining !== 1) throw new Fail("codec-corrupt", "FSE probabilities do not add up", p);
  const next = (bp + 7) >>> 3;
  if (next > end) throw new Fail("codec-corrupt", "FSE table description runs past its section", p);
  return [buildFse(norm, sym, log, p), next];
}

/**
 * The start of a backward bitstream ending at byte `end`: "the last byte
 * holds a final 1-bit marker above the last bits; a last byte of 0 is
 * invalid". Returns the bit position just below the marker.
 */
function backStart(s: Uint8Array, end: number, at: number): number {
  const last = s[end - 1] as number;
  if (last === 0) throw new Fail("codec-corrupt", "bitstream's last byte has no end marker", at);
  return (end - 1) * 8 + highbit(last);
}

/**
 * Reads a Huffman tree description (RFC 8878 4.2.1) at byte `p`; returns
 * the table and the byte after it. "Header byte < 128: that many bytes of
 * FSE-compressed weights (two interleaved states, accuracy log ≤ 6); ≥ 128:
 * (byte - 127) weights as 4-bit fields. The last symbol's weight is
 * implied: the weights' sum of 2^(w-1) is completed to the next power of
 * two; Number_of_Bits = Max_Number_of_Bits + 1 - weight."
 */
function readHuffman(s: Uint8Array, p: number, end: number): [Huf, number] {
  if (p >= end) throw new Fail("codec-corrupt", "Huffman tree description runs past the literals section", p);
  const hb = s[p++] as number;
  const w = new Uint8Array(256);
  let n = 0;
  if (hb < 128) {
    const sEnd = p + hb;
    if (sEnd > end) throw new Fail("codec-corrupt", "Huffman weights run past the literals section", p);
    const [t, q] = readFse(s, p, sEnd, 6, 255);
    if (q >= sEnd) throw new Fail("codec-corrupt", "Huffman weights have no bitstream", q);
    const lo = q * 8;
    let bp = backStart(s, sEnd, sEnd - 1);
    const read = (k: number): number => {
      bp -= k;
      // bits below the stream's start read as zeros; overflow is detected by the caller
      if (bp >= lo) return rb(s, bp, k);
      if (bp + k <= lo) return 0;
      return rb(s, lo, k - (lo - bp)) << (lo - bp);
    };
    // `a` is the state whose turn it is, `b` the other one
    let a = read(t.log);
    let b = read(t.log);
    // zstd's two-state loop: a symbol, its state update, alternating
    // between the states; on overflow the other state's symbol is the last.
    for (;;) {
      if (n > 254) throw new Fail("codec-corrupt", "too many Huffman weights", p);
      w[n++] = t.sym[a] as number;
      a = (t.base[a] as number) + read(t.nb[a] as number);
      if (bp < lo) {
        w[n++] = t.sym[b] as number;
        break;
      }
      const x = a;
      a = b;
      b = x;
    }
    p = sEnd;
  } else {
    n = hb - 127;
    const bytes = (n + 1) >>> 1;
    if (p + bytes > end) throw new Fail("codec-corrupt", "Huffman weights run past the literals section", p);
    for (let i = 0; i < n; i++) {
      const b = s[p + (i >>> 1)] as number;
      w[i] = i & 1 ? b & 15 : b >>> 4;
    }
    p += bytes;
  }
  if (n > 255) throw new Fail("codec-corrupt", "too many Huffman weights", p);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = w[i] as number;
    if (x > 11) throw new Fail("codec-corrupt", "Huffman weight above 11", p);
    if (x) sum += 1 << (x - 1);
  }
  if (sum === 0) throw new Fail("codec-corrupt", "Huffman weights are all zero", p);
  const bits = highbit(sum) + 1;
  const rest = (1 << bits) - sum;
  if (rest & (rest - 1)) throw new Fail("codec-corrupt", "Huffman weights do not complete a power of two", p);
  if (bits > 11) throw new Fail("codec-corrupt", "Huffman codes longer than 11 bits", p);
  w[n++] = highbit(rest) + 1;
  // Cells by code length, longest codes (weight 1) first; within one length by symbol.
  const size = 1 << bits;
  const sym = new Uint8Array(size);
  const nb = new Uint8Array(size);
  const start = new Uint32Array(bits + 2);
  const count = new Uint32Array(bits + 2);
  for (let i = 0; i < n; i++) {
    const x = w[i] as number;
    if (x) count[x] = (count[x] as number) + 1;
  }
  let pos = 0;
  for (let x = 1; x <= bits; x++) {
    start[x] = pos;
    pos += (count[x] as number) << (x - 1);
  }
  if (pos !== size) throw new Fail("codec-corrupt", "Huffman table does not fill its code space", p);
  for (let i = 0; i < n; i++) {
    const x = w[i] as number;
    if (!x) continue;
    const from = start[x] as number;
    const len = 1 << (x - 1);
    sym.fill(i, from, from + len);
    nb.fill(bits + 1 - x, from, from + len);
    start[x] = from + len;
  }
  const dt = new Uint16Array(size);
  for (let i = 0; i < size; i++) dt[i] = (sym[i] as number) | ((nb[i] as number) << 8);
  return [{ bits, sym, nb, dt }, p];
}

/**
 * Decodes one Huffman-coded stream `s[from, to)` into exactly `count`
 * literals at `dst[dp..]`. "Read backward from the marker; each symbol is
 * found by the next Max_Number_of_Bits bits, and consumes its own
 * Number_of_Bits; the stream must be consumed exactly."
 */
function huffStream(s: Uint8Array, from: number, to: number, h: Huf, dst: Uint8Array, dp: number, count: number): void {
  if (to <= from) throw new Fail("codec-corrupt", "empty Huffman stream", from);
  huffRest(s, from, backStart(s, to, to - 1), h, dst, dp, dp + count);
}

/**
 * Continues a Huffman stream starting at byte `from`, at bit position `bp`,
 * filling `dst[dp, end)`, and checks that it is consumed exactly.
 */
function huffRest(s: Uint8Array, from: number, bp: number, h: Huf, dst: Uint8Array, dp: number, end: number): void {
  const lo = from * 8;
  const bits = h.bits;
  const mask = (1 << bits) - 1;
  const dt = h.dt;
  // fast path while two full peeks stay inside the stream: a 32-bit window
  // `cw` of the stream from byte-aligned bit `cq`, refilled when fewer than
  // 22 bits (two 11-bit peeks) lie below `bp` in it
  const two = 2 * bits;
  let cq = 1 << 30;
  let cw = 0;
  while (end - dp >= 2 && bp - two >= lo) {
    if (bp - cq < 22) {
      cq = ((bp >> 3) - 3) << 3;
      const cb = cq >> 3;
      cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
    }
    let e = dt[(cw >>> (bp - bits - cq)) & mask] as number;
    dst[dp] = e;
    bp -= e >>> 8;
    e = dt[(cw >>> (bp - bits - cq)) & mask] as number;
    dst[dp + 1] = e;
    bp -= e >>> 8;
    dp += 2;
  }
  while (dp < end) {
    // near the start: bits below it read as zeros
    let v: number;
    if (bp - bits >= lo) v = rb(s, bp - bits, bits);
    else if (bp <= lo) v = 0;
    else v = rb(s, lo, bp - lo) << (bits - (bp - lo));
    const e = dt[v] as number;
    dst[dp++] = e;
    bp -= e >>> 8;
    if (bp < lo) throw new Fail("codec-corrupt", "Huffman stream overrun", from);
  }
  if (bp !== lo) throw new Fail("codec-corrupt", "Huffman stream not consumed exactly", from);
}

/** Reads the 32-bit window of `s` at byte `cb`. */
function win(s: Uint8Array, cb: number): number {
  return (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
}

/**
 * Decodes the four Huffman streams `s[q1, q2)`, `s[q2, q3)`, `s[q3, q4)`,
 * `s[q4, q5)` into `dst[0, 3 * per + last)`, interleaved two symbols per
 * stream at a time (four independent dependency chains) while every stream
 * has room for it ({@link huff4Loop}), then each stream's rest with
 * {@link huffRest}.
 */
function huff4(s: Uint8Array, q1: number, q2: number, q3: number, q4: number, q5: number, h: Huf, dst: Uint8Array, per: number, last: number): void {
  if (q2 <= q1 || q3 <= q2 || q4 <= q3 || q5 <= q4) throw new Fail("codec-corrupt", "empty Huffman stream", q1);
  huff4B1 = backStart(s, q2, q2 - 1);
  huff4B2 = backStart(s, q3, q3 - 1);
  huff4B3 = backStart(s, q4, q4 - 1);
  huff4B4 = backStart(s, q5, q5 - 1);
  const d1 = huff4Loop(s, q1, q2, q3, q4, h, dst, per, last);
  huffRest(s, q1, huff4B1, h, dst, d1, per);
  huffRest(s, q2, huff4B2, h, dst, per + d1, 2 * per);
  huffRest(s, q3, huff4B3, h, dst, 2 * per + d1, 3 * per);
  huffRest(s, q4, huff4B4, h, dst, 3 * per + d1, 3 * per + last);
}

// The four streams' bit positions, in and out of huff4Loop.
let huff4B1 = 0;
let huff4B2 = 0;
let huff4B3 = 0;
let huff4B4 = 0;

/**
 * The interleaved loop of {@link huff4}: takes the streams' bit positions
 * from `huff4B1..4`, leaves them there, returns the symbols decoded per
 * stream. (A function of its own: V8 optimizes a hot loop while it runs, and
 * code after it that has not run yet would then deoptimize the first time
 * it runs; the caller's calls to huffRest must not be such code.)
 */
function huff4Loop(s: Uint8Array, q1: number, q2: number, q3: number, q4: number, h: Huf, dst: Uint8Array, per: number, last: number): number {
  let b1 = huff4B1, b2 = huff4B2, b3 = huff4B3, b4 = huff4B4;
  const bits = h.bits;
  const mask = (1 << bits) - 1;
  const dt = h.dt;
  const two = 2 * bits;
  const l1 = q1 * 8 + two, l2 = q2 * 8 + two, l3 = q3 * 8 + two, l4 = q4 * 8 + two;
  let d1 = 0;
  const n = Math.min(per, last) - 1;
  while (d1 < n && b1 >= l1 && b2 >= l2 && b3 >= l3 && b4 >= l4) {
    // each stream's 32-bit window from byte-aligned bit c (b - c ≥ 24: two peeks)
    const c1 = ((b1 >> 3) - 3) << 3, c2 = ((b2 >> 3) - 3) << 3, c3 = ((b3 >> 3) - 3) << 3, c4 = ((b4 >> 3) - 3) << 3;
    const w1 = win(s, c1 >> 3), w2 = win(s, c2 >> 3), w3 = win(s, c3 >> 3), w4 = win(s, c4 >> 3);
    let e = dt[(w1 >>> (b1 - bits - c1)) & mask] as number;
    dst[d1] = e;
    b1 -= e >>> 8;
    e = dt[(w2 >>> (b2 - bits - c2)) & mask] as number;
    dst[per + d1] = e;
    b2 -= e >>> 8;
    e = dt[(w3 >>> (b3 - bits - c3)) & mask] as number;
    dst[2 * per + d1] = e;
    b3 -= e >>> 8;
    e = dt[(w4 >>> (b4 - bits - c4)) & mask] as number;
    dst[3 * per + d1] = e;
    b4 -= e >>> 8;
    e = dt[(w1 >>> (b1 - bits - c1)) & mask] as number;
    dst[d1 + 1] = e;
    b1 -= e >>> 8;
    e = dt[(w2 >>> (b2 - bits - c2)) & mask] as number;
    dst[per + d1 + 1] = e;
    b2 -= e >>> 8;
    e = dt[(w3 >>> (b3 - bits - c3)) & mask] as number;
    dst[2 * per + d1 + 1] = e;
    b3 -= e >>> 8;
    e = dt[(w4 >>> (b4 - bits - c4)) & mask] as number;
    dst[3 * per + d1 + 1] = e;
    b4 -= e >>> 8;
    d1 += 2;
  }
  huff4B1 = b1;
  huff4B2 = b2;
  huff4B3 = b3;
  huff4B4 = b4;
  return d1;
}

/** Per-frame decoder state carried across blocks. */
interface FrameState {
  huf: Huf | null;
  ll: Fse | null;
  ml: Fse | null;
  of: Fse | null;
  /** Repeated_Offset1-3 (an Int32Array keeps them int32 in the sequence loop). */
  rep: Int32Array;
}

/** Reusable per-call buffers. */
interface Work {
  scratch: Uint8Array;
  /** A view of `scratch` (raw literals are read in place). */
  sv: DataView;
  /** Decoded literals, with {@link PAD} bytes of slack for 4-byte copies. */
  lits: Uint8Array;
  /** A view of `lits`. */
  lv: DataView;
}

/** Sequence table kinds, for {@link packed}. */
const LL = 0, OF = 1, ML = 2;

/**
 * The sequence decoding table of `t` for its kind, two int32 per state:
 * `[2*state]` the value's baseline (Literals_Length / Match_Length baseline,
 * or `1 << code` for offsets) and `[2*state+1]` packed as `extraBits |
 * Number_of_Bits << 8 | next-state Baseline << 16`, so one sequence reads
 * two entries per table instead of a symbol, then its baseline and bits.
 */
function packed(t: Fse, kind: number): Int32Array {
  if (t.dt) return t.dt;
  const size = t.sym.length;
  const dt = new Int32Array(2 * size);
  for (let i = 0; i < size; i++) {
    const sym = t.sym[i] as number;
    let vb: number, xb: number;
    if (kind === LL) {
      vb = LL_BASE[sym] as number;
      xb = LL_BITS[sym] as number;
    } else if (kind === ML) {
      vb = ML_BASE[sym] as number;
      xb = ML_BITS[sym] as number;
    } else {
      vb = (1 << sym) | 0;
      xb = sym;
    }
    dt[2 * i] = vb;
    dt[2 * i + 1] = xb | ((t.nb[i] as number) << 8) | ((t.base[i] as number) << 16);
  }
  t.dt = dt;
  return dt;
}

/** One sequence table (LL, OF or ML) by its compression mode (RFC 8878 3.1.1.3.2.1). */
function seqTable(
  mode: number, s: Uint8Array, p: number, end: number, maxLog: number, maxSym: number, predefined: Fse, prev: Fse | null,
): [Fse, number] {
  switch (mode) {
    case 0: // "Predefined_Mode"
      return [predefined, p];
    case 1: {
      // "RLE_Mode: a single byte, the only symbol"
      if (p >= end) throw new Fail("codec-corrupt", "RLE sequence table runs past the block", p);
      const v = s[p] as number;
      if (v > maxSym) throw new Fail("codec-corrupt", "RLE sequence symbol out of range", p);
      return [{ log: 0, sym: Uint8Array.of(v), nb: Uint8Array.of(0), base: Int32Array.of(0), dt: null }, p + 1];
    }
    case 2: // "FSE_Compressed_Mode"
      return readFse(s, p, end, maxLog, maxSym);
    default: // "Repeat_Mode: the table of the previous block"
      if (!prev) throw new Fail("codec-corrupt", "repeat mode with no previous sequence table", p);
      return [prev, p];
  }
}

/** Returned by {@link sequences} when partial output stopped early. */
const FULL = -1;

/**
 * What blocks decode into: the one-shot {@link OutputBuffer} (the whole
 * output) or a streaming {@link WindowOutput} (the window; its `ensure` may
 * move the bytes down, see {@link room}).
 */
type Out = OutputBuffer | WindowOutput;

/** Bytes already dropped from the front of `out` (always 0 for the one-shot buffer). */
function flushedOf(out: Out): number {
  return out instanceof WindowOutput ? out.flushed : 0;
}

/**
 * Where writing into `out.buf` must stop: its end, or where `maxOutput` is
 * reached when that comes first (a streaming window may be larger than
 * what the limit still allows).
 */
function outEnd(out: Out): number {
  return Math.min(out.buf.length, out.max - flushedOf(out));
}

/**
 * Makes room for `need` more bytes at `op`: grows `out` (or, in partial
 * mode at the cap, reports that it is full by returning false). A
 * {@link WindowOutput} may drop old bytes and move the rest down: the
 * caller re-reads `out.buf` and takes `out.length` as its new `op` (its
 * other buffer positions move down by the same amount).
 */
function room(out: Out, op: number, need: number): boolean {
  out.length = op;
  if (need > out.max - flushedOf(out) - op) {
    if (!(out instanceof OutputBuffer && out.partial)) throw new Fail("limit", `decompressed output exceeds the limit of ${out.max} bytes`, PAD);
    return false;
  }
  out.ensure(need);
  return true;
}

/**
 * Decodes the `nseq` sequences of the backward bitstream `s[p, end)` and
 * executes each at once (RFC 8878 3.1.1.3.2.2 and 3.1.1.4): "copy
 * Literals_Length literals, then Match_Length bytes from Offset back";
 * after the last sequence, the remaining literals. Updates the repeat
 * offsets. Returns the new output position, or {@link FULL} when partial
 * output reached the cap (the bytes up to it are written).
 *
 * Speed: the tables are packed (see {@link packed}); the bit reader lives
 * in locals (`bp` the bit position; `cw` a 32-bit window of the stream from
 * byte-aligned bit `cq`), refilled only when a read would reach below `cq`;
 * the three extra-bits fields, and the three state updates, are each taken
 * from one read when they total at most 24 bits (all but rare sequences).
 * The rare ones, and the first sequence of every block, read field by
 * field: V8 optimizes this loop while it runs, and a path first taken after
 * that throws the optimized code away (and recompiling this function costs
 * more than decoding megabytes); taking the per-field path on every block's
 * first sequence means V8 has seen it before.
 * Offsets and repeat offsets stay int32 (a double anywhere in the loop
 * slows all of it). While a sequence ends at least 32 bytes before the
 * output buffer's end, its literals (≤ 16) and its match (≤ 32 bytes,
 * offset ≥ 4) are copied in fixed groups of 4-byte DataView loads and
 * stores, writing up to 28 bytes past the sequence that what follows
 * overwrites; `lv` views `lits`, which has at least 16 readable bytes after
 * `litEnd`. Longer copies use `set`/`copyWithin`.
 *
 * Match reach (3.1.1.3, Prerequisites): "Previous decoded data, up to a
 * distance of Window_Size, or beginning of the Frame, whichever is
 * smaller": an offset beyond `op - frameStart` or `wmax` is corrupt.
 * `frameStart` is a position in `out.buf`; in a streaming window it moves
 * down (possibly below 0) when {@link room} drops old bytes, and `wmax`
 * (at most the window) keeps every match inside the buffer.
 */
function sequences(
  s: Uint8Array, p: number, end: number, llt: Fse, oft: Fse, mlt: Fse, nseq: number, rep: Int32Array,
  lits: Uint8Array, lv: DataView, lp: number, litEnd: number, out: Out, frameStart: number, wmax: number,
): number {
  let op = sequenceLoop(s, p, end, llt, oft, mlt, nseq, rep, lits, lv, lp, litEnd, out, frameStart, wmax);
  if (op === FULL) return FULL;
  if (seqBp !== p * 8) throw new Fail("codec-corrupt", "sequence bitstream not consumed exactly", p);
  rep[0] = seqR1;
  rep[1] = seqR2;
  rep[2] = seqR3;
  lp = seqLp;
  const rest = litEnd - lp;
  if (rest > outEnd(out) - op) {
    if (!room(out, op, rest)) return partialTail(out as OutputBuffer, op, lits, lp, rest, 0, 1, seqFrameStart);
    op = out.length;
  }
  out.buf.set(lits.subarray(lp, litEnd), op);
  return op + rest;
}

/**
 * The loop of {@link sequences}: decodes and executes the sequences, leaves
 * the stopping point in `seqBp`, `seqLp`, `seqFrameStart` and the repeat
 * offsets in `seqR1..3`, and returns the output position (or {@link FULL}). A
 * function of its own: V8 optimizes a hot loop while it runs, and code
 * after it that has not run yet would then deoptimize it the first time it
 * runs.
 */
function sequenceLoop(
  s: Uint8Array, p: number, end: number, llt: Fse, oft: Fse, mlt: Fse, nseq: number, rep: Int32Array,
  lits: Uint8Array, lv: DataView, lp: number, litEnd: number, out: Out, frameStart: number, wmax: number,
): number {
  const llT = packed(llt, LL), ofT = packed(oft, OF), mlT = packed(mlt, ML);
  const lo = p * 8;
  let bp = backStart(s, end, end - 1);
  // "initial states: Literals_Length, then Offset, then Match_Length, each Accuracy_Log bits"
  bp -= llt.log;
  let lls = rb(s, bp, llt.log);
  bp -= oft.log;
  let ofs = rb(s, bp, oft.log);
  bp -= mlt.log;
  let mls = rb(s, bp, mlt.log);
  let r1 = rep[0] as number, r2 = rep[1] as number, r3 = rep[2] as number;
  let cq = 1 << 30;
  let cw = 0;
  let buf = out.buf;
  let ov = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let op = out.length;
  // where the buffer, or what maxOutput allows, ends: a sequence past it goes through room()
  let bufEnd = outEnd(out);
  // sequences ending at or below `lim` take the fast copies
  let lim = bufEnd - 32;
  for (let i = 0; i < nseq; i++) {
    const oi = ofs << 1, mi = mls << 1, li = lls << 1;
    const oe = ofT[oi + 1] as number, me = mlT[mi + 1] as number, le = llT[li + 1] as number;
    const ob = oe & 0xff, mb = me & 0xff, lb = le & 0xff;
    // "decode Offset, then Match_Length, then Literals_Length": read
    // backward, so the offset's extra bits are the highest
    let ofv: number, ml: number, ll: number;
    let n = ob + mb + lb;
    if (n <= 24 && i !== 0) {
      bp -= n;
      if (bp < cq) {
        cq = (((bp + n) >> 3) - 3) << 3;
        const cb = cq >> 3;
        cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
      }
      let v = cw >>> (bp - cq);
      ll = (llT[li] as number) + (v & ((1 << lb) - 1));
      v >>>= lb;
      ml = (mlT[mi] as number) + (v & ((1 << mb) - 1));
      v >>>= mb;
      ofv = (ofT[oi] as number) + (v & ((1 << ob) - 1));
    } else {
      // One read per field, each reloading the window: for the rare
      // sequences whose extra bits total more than 24, and for the first of
      // every block, so that this path has run before V8 optimizes the loop
      // (a path first taken after that throws the optimized code away).
      bp -= ob;
      if (ob > 24) {
        // more bits than the window holds (offsets of 16 MiB or more): two
        // direct reads. Offsets stay int32 (a double here would slow the
        // whole loop): one of 2 GiB or more is corrupt unless the frame has
        // already produced that much
        const big = 2 ** ob + rb(s, bp + 16, ob - 16) * 65536 + rb(s, bp, 16);
        if (big > 0x7fffffff) {
          if (op - frameStart < 0x7fff0000) throw new Fail("codec-corrupt", "match offset reaches before the frame", p);
          throw new Fail("unsupported", "match offsets of 2 GiB or more", p);
        }
        ofv = big | 0;
      } else {
        cq = (((bp + ob) >> 3) - 3) << 3;
        const cb = cq >> 3;
        cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
        ofv = (ofT[oi] as number) + ((cw >>> (bp - cq)) & ((1 << ob) - 1));
      }
      bp -= mb;
      cq = (((bp + mb) >> 3) - 3) << 3;
      let cb = cq >> 3;
      cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
      ml = (mlT[mi] as number) + ((cw >>> (bp - cq)) & ((1 << mb) - 1));
      bp -= lb;
      cq = (((bp + lb) >> 3) - 3) << 3;
      cb = cq >> 3;
      cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
      ll = (llT[li] as number) + ((cw >>> (bp - cq)) & ((1 << lb) - 1));
    }
    // Repeat offsets (3.1.1.5): "Offset_Value > 3: offset = value - 3;
    // otherwise 1-3 select Repeated_Offset1-3, shifted by one when
    // Literals_Length is 0 (then 3 means Repeated_Offset1 - 1)"
    let off: number;
    if (ofv > 3) {
      off = ofv - 3;
      r3 = r2;
      r2 = r1;
      r1 = off;
    } else {
      const idx = ll === 0 ? ofv : ofv - 1;
      if (idx === 0) off = r1;
      else if (idx === 1) {
        off = r2;
        r2 = r1;
        r1 = off;
      } else {
        // idx 2: Repeated_Offset3; idx 3: Repeated_Offset1 - 1 (one
        // expression for both, so the rarer case runs no code of its own)
        off = (idx === 2 ? r3 : r1) - (idx & 1);
        if (off === 0) throw new Fail("codec-corrupt", "repeat offset of 0", end - 1);
        r3 = r2;
        r2 = r1;
        r1 = off;
      }
    }
    if (i + 1 < nseq) {
      // "state updates: Literals_Length, then Match_Length, then Offset"
      const lnb = (le >>> 8) & 0xff, mnb = (me >>> 8) & 0xff, onb = (oe >>> 8) & 0xff;
      n = lnb + mnb + onb;
      if (n <= 24 && i !== 0) {
        bp -= n;
        if (bp < cq) {
          cq = (((bp + n) >> 3) - 3) << 3;
          const cb = cq >> 3;
          cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
        }
        let v = cw >>> (bp - cq);
        ofs = (oe >>> 16) + (v & ((1 << onb) - 1));
        v >>>= onb;
        mls = (me >>> 16) + (v & ((1 << mnb) - 1));
        v >>>= mnb;
        lls = (le >>> 16) + (v & ((1 << lnb) - 1));
      } else {
        // one read per state, each reloading the window (see the extra bits)
        bp -= lnb;
        cq = (((bp + lnb) >> 3) - 3) << 3;
        let cb = cq >> 3;
        cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
        lls = (le >>> 16) + ((cw >>> (bp - cq)) & ((1 << lnb) - 1));
        bp -= mnb;
        cq = (((bp + mnb) >> 3) - 3) << 3;
        cb = cq >> 3;
        cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
        mls = (me >>> 16) + ((cw >>> (bp - cq)) & ((1 << mnb) - 1));
        bp -= onb;
        cq = (((bp + onb) >> 3) - 3) << 3;
        cb = cq >> 3;
        cw = (s[cb] as number) | ((s[cb + 1] as number) << 8) | ((s[cb + 2] as number) << 16) | ((s[cb + 3] as number) << 24);
        ofs = (oe >>> 16) + ((cw >>> (bp - cq)) & ((1 << onb) - 1));
      }
    }
    if (bp < lo) throw new Fail("codec-corrupt", "sequence bitstream overrun", p);
    // execute
    if (ll > litEnd - lp) throw new Fail("codec-corrupt", "sequence needs more literals than the block has", p);
    let e = op + ll + ml;
    if (e > lim) {
      if (e > bufEnd) {
        if (!room(out, op, ll + ml)) return partialTail(out as OutputBuffer, op, lits, lp, ll, ml, off, frameStart);
        // a streaming window may have moved its bytes down
        const shift = op - out.length;
        op -= shift;
        e -= shift;
        frameStart -= shift;
        buf = out.buf;
        ov = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        bufEnd = outEnd(out);
        lim = bufEnd - 32;
      }
      if (e > lim) {
        // near the buffer's end: exact byte copies
        for (let j = 0; j < ll; j++) buf[op + j] = lits[lp + j] as number;
        op += ll;
        lp += ll;
        if (off > op - frameStart || off > wmax) throw farMatch(off, op - frameStart, p);
        let from = op - off;
        while (op < e) buf[op++] = buf[from++] as number;
        continue;
      }
    }
    if (ll <= 8) {
      ov.setUint32(op, lv.getUint32(lp, true), true);
      ov.setUint32(op + 4, lv.getUint32(lp + 4, true), true);
    } else if (ll <= 16) {
      ov.setUint32(op, lv.getUint32(lp, true), true);
      ov.setUint32(op + 4, lv.getUint32(lp + 4, true), true);
      ov.setUint32(op + 8, lv.getUint32(lp + 8, true), true);
      ov.setUint32(op + 12, lv.getUint32(lp + 12, true), true);
    } else {
      buf.set(lits.subarray(lp, lp + ll), op);
    }
    op += ll;
    lp += ll;
    if (off > op - frameStart || off > wmax) throw farMatch(off, op - frameStart, p);
    if (ml <= 32) {
      let from = op - off;
      if (off >= 4) {
        // each 4-byte load reads only bytes already final (off ≥ 4)
        ov.setUint32(op, ov.getUint32(from, true), true);
        ov.setUint32(op + 4, ov.getUint32(from + 4, true), true);
        ov.setUint32(op + 8, ov.getUint32(from + 8, true), true);
        ov.setUint32(op + 12, ov.getUint32(from + 12, true), true);
        if (ml > 16) {
          ov.setUint32(op + 16, ov.getUint32(from + 16, true), true);
          ov.setUint32(op + 20, ov.getUint32(from + 20, true), true);
          ov.setUint32(op + 24, ov.getUint32(from + 24, true), true);
          ov.setUint32(op + 28, ov.getUint32(from + 28, true), true);
        }
        op = e;
      } else {
        while (op < e) buf[op++] = buf[from++] as number;
      }
    } else {
      // a long match: one copy, or when it overlaps itself (off < ml) it
      // repeats the `off` bytes before it: copies from its start in doubling
      // chunks (each a whole number of periods)
      const from = op - off;
      while (op < e) {
        const k = Math.min(op - from, e - op);
        buf.copyWithin(op, from, from + k);
        op += k;
      }
    }
  }
  seqBp = bp;
  seqLp = lp;
  seqFrameStart = frameStart;
  seqR1 = r1;
  seqR2 = r2;
  seqR3 = r3;
  return op;
}

// Where the loop of sequenceLoop() stopped: bit position, literal position, the frame's start, the repeat offsets.
let seqBp = 0;
let seqLp = 0;
let seqFrameStart = 0;
let seqR1 = 0;
let seqR2 = 0;
let seqR3 = 0;

/** Partial output at the cap: writes what fits of one sequence and returns {@link FULL}. */
function partialTail(out: OutputBuffer, op: number, lits: Uint8Array, lp: number, ll: number, ml: number, off: number, frameStart: number): number {
  out.ensure(out.max - op);
  const buf = out.buf;
  const k = Math.min(ll, out.max - op);
  buf.set(lits.subarray(lp, lp + k), op);
  op += k;
  if (k === ll && ml > 0) {
    if (off > op - frameStart) throw new Fail("codec-corrupt", "match offset reaches before the frame", PAD);
    const m = Math.min(ml, out.max - op);
    for (let j = 0; j < m; j++) buf[op + j] = buf[op - off + j] as number;
    op += m;
  }
  out.length = op;
  return FULL;
}

/**
 * Decodes one compressed block (`s[PAD, PAD + size)` holds it) into
 * `out`, with matches allowed back to `frameStart` (a position in
 * `out.buf`) and at most `wmax` bytes. Returns false when partial output
 * filled up.
 */
function compressedBlock(s: Uint8Array, size: number, st: FrameState, work: Work, out: Out, frameStart: number, blockMax: number, wmax: number): boolean {
  const end = PAD + size;
  let p = PAD;
  // ---- Literals_Section_Header (3.1.1.3.1.1)
  const b0 = s[p] as number;
  const ltype = b0 & 3;
  const sf = (b0 >>> 2) & 3;
  let regen: number;
  let csize = 0;
  let streams = 1;
  if (ltype < 2) {
    // Raw / RLE: "Size_Format 00 or 10: 1 byte, 5-bit size; 01: 2 bytes, 12 bits; 11: 3 bytes, 20 bits"
    if (sf === 0 || sf === 2) {
      regen = b0 >>> 3;
      p += 1;
    } else if (sf === 1) {
      regen = (b0 >>> 4) + ((s[p + 1] as number) << 4);
      p += 2;
    } else {
      regen = (b0 >>> 4) + ((s[p + 1] as number) << 4) + ((s[p + 2] as number) << 12);
      p += 3;
    }
  } else {
    // Compressed / Treeless: "00: 1 stream, 10+10 bits in 3 bytes; 01: 4
    // streams, same; 10: 4 streams, 14+14 bits in 4 bytes; 11: 4 streams, 18+18 bits in 5 bytes"
    const b1 = s[p + 1] as number, b2 = s[p + 2] as number;
    if (sf < 2) {
      streams = sf === 0 ? 1 : 4;
      regen = (b0 >>> 4) | ((b1 & 0x3f) << 4);
      csize = (b1 >>> 6) | (b2 << 2);
      p += 3;
    } else if (sf === 2) {
      streams = 4;
      const b3 = s[p + 3] as number;
      regen = (b0 >>> 4) | (b1 << 4) | ((b2 & 3) << 12);
      csize = (b2 >>> 2) | (b3 << 6);
      p += 4;
    } else {
      streams = 4;
      const b3 = s[p + 3] as number, b4 = s[p + 4] as number;
      regen = (b0 >>> 4) | (b1 << 4) | ((b2 & 0x3f) << 12);
      csize = (b2 >>> 6) | (b3 << 2) | (b4 << 10);
      p += 5;
    }
  }
  if (p > end) throw new Fail("codec-corrupt", "literals section header runs past the block", PAD);
  if (regen > blockMax) throw new Fail("codec-corrupt", "literals exceed the block maximum size", PAD);
  let lits: Uint8Array;
  let lp: number;
  if (ltype === 0) {
    if (regen > end - p) throw new Fail("codec-corrupt", "raw literals run past the block", p);
    lits = s;
    lp = p;
    p += regen;
  } else if (ltype === 1) {
    if (p >= end) throw new Fail("codec-corrupt", "RLE literal byte runs past the block", p);
    lits = work.lits;
    lits.fill(s[p] as number, 0, regen);
    lp = 0;
    p += 1;
  } else {
    if (csize > end - p) throw new Fail("codec-corrupt", "compressed literals run past the block", p);
    const cend = p + csize;
    if (ltype === 2) {
      const [h, q] = readHuffman(s, p, cend);
      st.huf = h;
      p = q;
    } else if (!st.huf) {
      throw new Fail("codec-corrupt", "treeless literals with no previous Huffman table", p);
    }
    const h = st.huf as Huf;
    lits = work.lits;
    lp = 0;
    if (streams === 1) {
      huffStream(s, p, cend, h, lits, 0, regen);
    } else {
      // "Jump_Table: three u16le stream sizes; the fourth is the rest. Each
      // of the first three streams regenerates (Regenerated_Size + 3) / 4 bytes"
      if (cend - p < 6) throw new Fail("codec-corrupt", "jump table runs past the literals", p);
      const z1 = (s[p] as number) | ((s[p + 1] as number) << 8);
      const z2 = (s[p + 2] as number) | ((s[p + 3] as number) << 8);
      const z3 = (s[p + 4] as number) | ((s[p + 5] as number) << 8);
      const q1 = p + 6, q2 = q1 + z1, q3 = q2 + z2, q4 = q3 + z3;
      if (q4 > cend) throw new Fail("codec-corrupt", "jump table sizes exceed the literals", p);
      const per = (regen + 3) >>> 2;
      const last = regen - 3 * per;
      if (last < 0) throw new Fail("codec-corrupt", "too few literals for four streams", p);
      huff4(s, q1, q2, q3, q4, cend, h, lits, per, last);
    }
    p = cend;
  }

  // ---- Sequences_Section_Header (3.1.1.3.2.1)
  if (p >= end) throw new Fail("codec-corrupt", "sequences section missing", p);
  let nseq = s[p++] as number;
  // "byte0 < 128: Number_of_Sequences = byte0; < 255: ((byte0 - 128) << 8) + byte1; 255: byte1 + (byte2 << 8) + 0x7F00"
  if (nseq >= 128) {
    if (nseq < 255) {
      nseq = ((nseq - 128) << 8) + (s[p] as number);
      p += 1;
    } else {
      nseq = (s[p] as number) + ((s[p + 1] as number) << 8) + 0x7f00;
      p += 2;
    }
  }
  if (p > end) throw new Fail("codec-corrupt", "sequences header runs past the block", p);
  if (nseq > 0) {
    if (p >= end) throw new Fail("codec-corrupt", "sequences header runs past the block", p);
    const modes = s[p++] as number;
    // "bits 7-6 Literals_Lengths_Mode, 5-4 Offsets_Mode, 3-2 Match_Lengths_Mode, 1-0 reserved (0)"
    if (modes & 3) throw new Fail("codec-corrupt", "reserved sequence mode bits set", p - 1);
    let t: [Fse, number];
    t = seqTable(modes >>> 6, s, p, end, 9, 35, PREDEFINED.ll, st.ll);
    const llt = (st.ll = t[0]);
    t = seqTable((modes >>> 4) & 3, s, t[1], end, 8, 31, PREDEFINED.of, st.of);
    const oft = (st.of = t[0]);
    t = seqTable((modes >>> 2) & 3, s, t[1], end, 9, 52, PREDEFINED.ml, st.ml);
    const mlt = (st.ml = t[0]);
    p = t[1];
    if (p >= end) throw new Fail("codec-corrupt", "sequence bitstream missing", p);
    const start = flushedOf(out) + out.length;
    const lv = lits === s ? work.sv : work.lv;
    const op = sequences(s, p, end, llt, oft, mlt, nseq, st.rep, lits, lv, lp, lp + regen, out, frameStart, wmax);
    if (op === FULL) return false;
    out.length = op;
    if (flushedOf(out) + op - start > blockMax) throw new Fail("codec-corrupt", "block decodes to more than the block maximum size", PAD);
    return true;
  }
  if (p !== end) throw new Fail("codec-corrupt", "bytes after a block with no sequences", p);
  // no sequences: the block is its literals
  if (regen > outEnd(out) - out.length && !room(out, out.length, regen)) {
    partialTail(out as OutputBuffer, out.length, lits, lp, regen, 0, 1, frameStart);
    return false;
  }
  out.buf.set(lits.subarray(lp, lp + regen), out.length);
  out.length += regen;
  return true;
}

function u32le(d: Uint8Array, i: number): number {
  return ((d[i] as number) | ((d[i + 1] as number) << 8) | ((d[i + 2] as number) << 16) | ((d[i + 3] as number) << 24)) >>> 0;
}

/**
 * Decompresses Zstandard data: one or more frames (and skippable frames),
 * stopping at the first bytes that are neither, so trailing data is allowed
 * and not consumed. The XXH64 content checksum (when the frame has one) and
 * the frame content size (when stated) are verified.
 *
 * Output sizing: `expectedSize`, else the first frame's content size, is the
 * initial buffer (capped by `maxOutput`); otherwise the buffer doubles as
 * needed, bounded by `maxOutput`. No allocation follows the window size.
 *
 * Errors: `codec-corrupt`, `codec-checksum`, `codec-size-mismatch`,
 * `truncated`, `unsupported` (dictionaries), `limit`.
 */
export function decompressZstd(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  const err = (code: ErrorCode, msg: string, at: number): KimageError =>
    new KimageError(code, `zstd: ${msg}`, { layer: LAYER, offset: base + at });
  let out: OutputBuffer | null = null;
  const checked = new Set<string>();
  let work: Work | null = null;
  let pos = 0;
  let complete = true;
  let frames = 0;
  frameLoop: for (;;) {
    if (input.length - pos < 4) {
      if (frames === 0) throw err("truncated", "input too short for a zstd magic", pos);
      break;
    }
    const magic = u32le(input, pos);
    if (magic >>> 4 === 0x184d2a5) {
      // "Skippable frames: magic 0x184D2A5?, Frame_Size (u32le), user data"
      if (input.length - pos < 8) throw err("truncated", "skippable frame header runs past the end", pos);
      const size = u32le(input, pos + 4);
      if (size > input.length - pos - 8) throw err("truncated", "skippable frame runs past the end", pos);
      pos += 8 + size;
      frames++;
      continue;
    }
    if (magic !== ZSTD_MAGIC) {
      if (frames === 0) throw err("codec-corrupt", `not a zstd frame (magic 0x${magic.toString(16)})`, pos);
      break;
    }
    // ---- Frame_Header (3.1.1.1)
    let p = pos + 4;
    if (p >= input.length) throw err("truncated", "frame header runs past the end", p);
    const fhd = input[p++] as number;
    // "bits 7-6 Frame_Content_Size_Flag, 5 Single_Segment_Flag, 4 unused,
    // 3 reserved (must be 0), 2 Content_Checksum_Flag, 1-0 Dictionary_ID_Flag"
    if (fhd & 8) throw err("codec-corrupt", "reserved frame header bit set", p - 1);
    const fcsFlag = fhd >>> 6;
    const single = (fhd & 0x20) !== 0;
    const hasSum = (fhd & 4) !== 0;
    const didLen = [0, 1, 2, 4][fhd & 3] as number;
    const fcsLen = fcsFlag === 0 ? (single ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
    const hdrLen = (single ? 0 : 1) + didLen + fcsLen;
    if (input.length - p < hdrLen) throw err("truncated", "frame header runs past the end", p);
    let windowSize = 0;
    if (!single) {
      // "Window_Log = 10 + Exponent; Window_Size = 2^Window_Log + (2^Window_Log / 8) * Mantissa"
      const wd = input[p++] as number;
      const wbase = 2 ** (10 + (wd >>> 3));
      windowSize = wbase + (wbase / 8) * (wd & 7);
    }
    let dictId = 0;
    for (let i = 0; i < didLen; i++) dictId += (input[p + i] as number) * 2 ** (8 * i);
    p += didLen;
    if (dictId !== 0) throw err("unsupported", `frame needs dictionary ${dictId}`, p - didLen);
    let fcs = -1;
    if (fcsLen > 0) {
      fcs = 0;
      for (let i = 0; i < fcsLen; i++) fcs += (input[p + i] as number) * 2 ** (8 * i);
      // "with 2 bytes, the value is offset by 256"
      if (fcsLen === 2) fcs += 256;
      p += fcsLen;
    }
    // "Single_Segment_Flag: Window_Size = Frame_Content_Size"
    if (single) windowSize = fcs;
    const blockMax = Math.min(windowSize, BLOCK_MAX);
    // offsets are int32 in the sequence loop; larger ones fail there anyway
    const wmax = Math.min(windowSize, 0x7fffffff);
    if (!out) {
      const guess = fcs >= 0 ? fcs : outputGuess(input.length);
      out = new OutputBuffer(LAYER, options, guess);
    }
    if (!work) {
      const scratch = new Uint8Array(BLOCK_MAX + 2 * PAD);
      const lits = new Uint8Array(BLOCK_MAX + PAD);
      work = { scratch, sv: new DataView(scratch.buffer), lits, lv: new DataView(lits.buffer) };
    }
    const st: FrameState = { huf: null, ll: null, ml: null, of: null, rep: Int32Array.of(1, 4, 8) };
    const frameStart = out.length;
    // ---- Blocks (3.1.1.2)
    for (;;) {
      if (input.length - p < 3) throw err("truncated", "block header runs past the end", p);
      const bh = (input[p] as number) | ((input[p + 1] as number) << 8) | ((input[p + 2] as number) << 16);
      // "bit 0 Last_Block, bits 1-2 Block_Type (0 Raw, 1 RLE, 2 Compressed, 3 Reserved), bits 3-23 Block_Size"
      const last = bh & 1;
      const type = (bh >>> 1) & 3;
      const size = bh >>> 3;
      const data = p + 3;
      if (type === 3) throw err("codec-corrupt", "reserved block type", p);
      if (type === 1) {
        // "RLE_Block: a single byte repeated Block_Size times"
        if (size > blockMax) throw err("codec-corrupt", "RLE block exceeds the block maximum size", p);
        if (data >= input.length) throw err("truncated", "block runs past the end", p);
        const room = out.max - out.length;
        const k = Math.min(size, room);
        if (size > room && !out.partial) throw err("limit", `decompressed output exceeds the limit of ${out.max} bytes`, p);
        out.ensure(k);
        out.buf.fill(input[data] as number, out.length, out.length + k);
        out.length += k;
        p = data + 1;
        if (k < size) {
          complete = false;
          break frameLoop;
        }
      } else {
        if (size > blockMax) throw err("codec-corrupt", "block exceeds the block maximum size", p);
        if (size > input.length - data) throw err("truncated", "block runs past the end", p);
        if (type === 0) {
          const room = out.max - out.length;
          const k = Math.min(size, room);
          if (size > room && !out.partial) throw err("limit", `decompressed output exceeds the limit of ${out.max} bytes`, p);
          out.write(input.subarray(data, data + k));
          if (k < size) {
            complete = false;
            break frameLoop;
          }
        } else {
          if (size === 0) throw err("codec-corrupt", "empty compressed block", p);
          const s = work.scratch;
          s.set(input.subarray(data, data + size), PAD);
          s.fill(0, PAD + size, PAD + size + PAD);
          let ok: boolean;
          try {
            ok = compressedBlock(s, size, st, work, out, frameStart, blockMax, wmax);
          } catch (e) {
            if (e instanceof Fail) throw err(e.code, e.message, data + Math.max(0, Math.min(size, e.at - PAD)));
            if (e instanceof KimageError) throw e;
            throw err("codec-corrupt", `decoder failure: ${e instanceof Error ? e.message : String(e)}`, data);
          }
          if (!ok) {
            complete = false;
            break frameLoop;
          }
        }
        p = data + size;
      }
      if (last) break;
    }
    if (hasSum) {
      // "Content_Checksum: the lowest 4 bytes of XXH64(content, seed 0), little-endian"
      if (input.length - p < 4) throw err("truncated", "content checksum runs past the end", p);
      const { lo } = xxh64Parts(out.buf, frameStart, out.length);
      if (lo !== u32le(input, p)) throw err("codec-checksum", "XXH64 content checksum mismatch", p);
      checked.add("xxh64");
      p += 4;
    }
    if (fcs >= 0 && out.length - frameStart !== fcs) {
      throw err("codec-size-mismatch", `frame decoded to ${out.length - frameStart} bytes, its header says ${fcs}`, pos + 5);
    }
    pos = p;
    frames++;
  }
  out ??= new OutputBuffer(LAYER, options, 64);
  if (complete && !options.partial && options.expectedSize !== undefined && out.length !== options.expectedSize) {
    throw err("codec-size-mismatch", `decoded ${out.length} bytes, expected ${options.expectedSize}`, 0);
  }
  return { codec: "zstd", bytes: out.result(), consumed: pos, complete, checked: [...checked] };
}

// ---------------------------------------------------------------- streaming

// What the streaming decoder is waiting for.
/** A frame magic (4 bytes; anything else after the first frame ends the stream). */
const S_MAGIC = 0;
/** A skippable frame's Frame_Size (bytes 4-7 of its header). */
const S_SKIP_SIZE = 1;
/** A skippable frame's user data. */
const S_SKIP = 2;
/** The Frame_Header_Descriptor. */
const S_FHD = 3;
/** The rest of the frame header. */
const S_FHDR = 4;
/** A block header. */
const S_BLOCK = 5;
/** The rest of a Raw_Block (copied through as it arrives). */
const S_RAW = 6;
/** An RLE_Block's byte. */
const S_RLE = 7;
/** The rest of a Compressed_Block (buffered, then decoded whole). */
const S_COMP = 8;
/** The Content_Checksum. */
const S_SUM = 9;


/** The per-frame state of the streaming decoder. */
interface StreamFrame {
  /** Input offset of the frame's magic. */
  at: number;
  st: FrameState;
  /** Frame_Content_Size, or -1. */
  fcs: number;
  blockMax: number;
  /** The farthest a match may reach: Window_Size capped as the output window is. */
  wmax: number;
  /**
   * What capped the window below Window_Size, so a match past it means that
   * limit was exceeded: "expected", "max", or "" (none: the match is corrupt).
   */
  cap: "" | "expected" | "max";
  /** Total output (all frames) when the frame began. */
  start: number;
  /** XXH64 of the frame's content when it has a Content_Checksum. */
  hash: Xxh64 | null;
}

/**
 * The streaming Zstandard decoder (see {@link createZstdStreamDecoder}).
 * Input is parsed as a state machine over the frame layout: small fixed
 * fields are gathered in `hdr`, a Compressed_Block's bytes in the scratch
 * buffer until the whole block is there, Raw_Block bytes and skippable
 * frames pass through as they arrive.
 */
class ZstdStreamDecoder extends FeedingStreamDecoder {
  readonly codec = "zstd" as const;
  private readonly sink: StreamSink;
  private readonly base: number;
  private readonly max: number;
  private readonly chunk: number;
  private readonly expected: number | undefined;
  private out: WindowOutput | null = null;
  /** Output of earlier windows (replaced when a later frame needs a larger one). */
  private before = 0;
  private state = S_MAGIC;
  /** Fixed fields being gathered; `hlen` bytes so far, from input offset `unitAt`. */
  private readonly hdr = new Uint8Array(32);
  private hlen = 0;
  private unitAt = 0;
  private frames = 0;
  private frame: StreamFrame | null = null;
  /** The current block: Last_Block, Block_Size, bytes still to come (raw, skippable) or buffered (compressed). */
  private last = false;
  private size = 0;
  private left = 0;
  private got = 0;
  /** A Raw_Block's bytes that fit under `maxOutput` still to write, and whether it goes past the limit. */
  private room = 0;
  private rawOver = false;
  private work: Work | null = null;
  /** The sink borrows views (StreamDecodeOptions.borrow). */
  private readonly borrow: boolean;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    super();
    this.sink = sink;
    this.borrow = options.borrow === true;
    this.base = options.base ?? 0;
    this.max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    this.chunk = Math.max(options.chunkSize ?? DEFAULT_STREAM_CHUNK, 1 << 12);
    this.expected = options.expectedSize !== undefined && options.expectedSize >= 0 ? options.expectedSize : undefined;
  }

  get produced(): number {
    return this.before + (this.out ? this.out.total : 0);
  }


  private err(code: ErrorCode, msg: string, at: number): KimageError {
    return new KimageError(code, `zstd: ${msg}`, { layer: LAYER, offset: this.base + at });
  }

  /** Starts gathering a fixed field at the current input offset. */
  private unit(state: number): void {
    this.state = state;
    this.hlen = 0;
    this.unitAt = this.pos;
  }

  /** Gathers bytes of `c` from `i` until `hdr` holds `need`; returns the new `i`. */
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
        case S_MAGIC: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          const magic = u32le(this.hdr, 0);
          // "Skippable frames: magic 0x184D2A5?, Frame_Size (u32le), user data"
          if (magic >>> 4 === 0x184d2a5) this.state = S_SKIP_SIZE;
          else if (magic === ZSTD_MAGIC) this.state = S_FHD;
          else if (this.frames === 0) throw this.err("codec-corrupt", `not a zstd frame (magic 0x${magic.toString(16)})`, this.unitAt);
          else this.finish(this.unitAt);
          break;
        }
        case S_SKIP_SIZE:
          i = this.gather(c, i, 8);
          if (this.hlen < 8) break;
          this.left = u32le(this.hdr, 4);
          this.state = S_SKIP;
          if (this.left === 0) this.endFrame();
          break;
        case S_SKIP: {
          const n = Math.min(this.left, c.length - i);
          i += n;
          this.pos += n;
          this.left -= n;
          if (this.left === 0) this.endFrame();
          break;
        }
        case S_FHD: {
          i = this.gather(c, i, 5);
          if (this.hlen < 5) break;
          const fhd = this.hdr[4] as number;
          if (fhd & 8) throw this.err("codec-corrupt", "reserved frame header bit set", this.unitAt + 4);
          this.state = S_FHDR;
          break;
        }
        case S_FHDR: {
          const fhd = this.hdr[4] as number;
          const single = (fhd & 0x20) !== 0;
          const fcsFlag = fhd >>> 6;
          const didLen = [0, 1, 2, 4][fhd & 3] as number;
          const fcsLen = fcsFlag === 0 ? (single ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
          const need = 5 + (single ? 0 : 1) + didLen + fcsLen;
          i = this.gather(c, i, need);
          if (this.hlen < need) break;
          this.startFrame(fhd, single, didLen, fcsLen);
          break;
        }
        case S_BLOCK: {
          i = this.gather(c, i, 3);
          if (this.hlen < 3) break;
          this.startBlock();
          break;
        }
        case S_RAW: {
          const n = Math.min(this.left, c.length - i);
          const w = Math.min(n, this.room);
          if (w > 0) {
            (this.out as WindowOutput).write(c.subarray(i, i + w));
            this.frame?.hash?.update(c, i, i + w);
            this.room -= w;
          }
          i += n;
          this.pos += n;
          this.left -= n;
          if (this.left === 0) {
            if (this.rawOver) this.overLimit();
            this.endBlock();
          }
          break;
        }
        case S_RLE: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          // "RLE_Block: a single byte repeated Block_Size times"
          if (this.size > this.max - this.produced) this.overLimit();
          const out = this.out as WindowOutput;
          out.ensure(this.size);
          out.buf.fill(this.hdr[3] as number, out.length, out.length + this.size);
          this.frame?.hash?.update(out.buf, out.length, out.length + this.size);
          out.length += this.size;
          this.endBlock();
          break;
        }
        case S_COMP: {
          const n = Math.min(this.size - this.got, c.length - i);
          (this.work as Work).scratch.set(c.subarray(i, i + n), PAD + this.got);
          this.got += n;
          i += n;
          this.pos += n;
          if (this.got === this.size) {
            this.decodeBlock();
            this.endBlock();
          }
          break;
        }
        case S_SUM: {
          i = this.gather(c, i, 4);
          if (this.hlen < 4) break;
          // "Content_Checksum: the lowest 4 bytes of XXH64(content, seed 0), little-endian"
          const f = this.frame as StreamFrame;
          if ((f.hash as Xxh64).digest().lo !== u32le(this.hdr, 0)) throw this.err("codec-checksum", "XXH64 content checksum mismatch", this.unitAt);
          this.checks.add("xxh64");
          this.endFrame();
          break;
        }
      }
    }
  }

  /** The frame header is in `hdr`: validate it, size the window, expect the first block. */
  private startFrame(fhd: number, single: boolean, didLen: number, fcsLen: number): void {
    const h = this.hdr;
    let p = 5;
    let windowSize = 0;
    if (!single) {
      // "Window_Log = 10 + Exponent; Window_Size = 2^Window_Log + (2^Window_Log / 8) * Mantissa"
      const wd = h[p++] as number;
      const wbase = 2 ** (10 + (wd >>> 3));
      windowSize = wbase + (wbase / 8) * (wd & 7);
    }
    let dictId = 0;
    for (let k = 0; k < didLen; k++) dictId += (h[p + k] as number) * 2 ** (8 * k);
    if (dictId !== 0) throw this.err("unsupported", `frame needs dictionary ${dictId}`, this.unitAt + p);
    p += didLen;
    let fcs = -1;
    if (fcsLen > 0) {
      fcs = 0;
      for (let k = 0; k < fcsLen; k++) fcs += (h[p + k] as number) * 2 ** (8 * k);
      // "with 2 bytes, the value is offset by 256"
      if (fcsLen === 2) fcs += 256;
    }
    // "Single_Segment_Flag: Window_Size = Frame_Content_Size"
    if (single) windowSize = fcs;
    const produced = this.produced;
    // The history this frame can need: Window_Size, but never more than what
    // `expectedSize` leaves (a kernel payload states its size) or what
    // `maxOutput` leaves.
    let win = Math.min(windowSize, 0x7fffffff);
    let cap: StreamFrame["cap"] = "";
    if (this.expected !== undefined && this.expected - produced < win) {
      win = Math.max(0, this.expected - produced);
      cap = "expected";
    }
    if (this.max - produced < win) {
      win = this.max - produced;
      cap = "max";
    }
    if (!this.out || this.out.window < win) {
      // A larger window than the current one: emit everything, start a new one.
      if (this.out) {
        this.out.drain(this.chunk, true);
        this.before += this.out.total;
      }
      // Slack of a quarter window: the window moves down once per that much output.
      this.out = new WindowOutput(LAYER, win, this.sink, { maxOutput: this.max - this.before, base: this.base, chunkSize: Math.max(this.chunk, Math.floor(win / 4)), borrow: this.borrow });
    }
    if (!this.work) {
      const scratch = new Uint8Array(BLOCK_MAX + 2 * PAD);
      const lits = new Uint8Array(BLOCK_MAX + PAD);
      this.work = { scratch, sv: new DataView(scratch.buffer), lits, lv: new DataView(lits.buffer) };
    }
    this.frame = {
      at: this.unitAt,
      st: { huf: null, ll: null, ml: null, of: null, rep: Int32Array.of(1, 4, 8) },
      fcs,
      blockMax: Math.min(windowSize, BLOCK_MAX),
      wmax: win,
      cap,
      start: produced,
      hash: fhd & 4 ? new Xxh64() : null,
    };
    this.unit(S_BLOCK);
  }

  /** A block header is in `hdr`. */
  private startBlock(): void {
    const f = this.frame as StreamFrame;
    const bh = (this.hdr[0] as number) | ((this.hdr[1] as number) << 8) | ((this.hdr[2] as number) << 16);
    // "bit 0 Last_Block, bits 1-2 Block_Type (0 Raw, 1 RLE, 2 Compressed, 3 Reserved), bits 3-23 Block_Size"
    this.last = (bh & 1) === 1;
    const type = (bh >>> 1) & 3;
    const size = bh >>> 3;
    this.size = size;
    if (type === 3) throw this.err("codec-corrupt", "reserved block type", this.unitAt);
    if (size > f.blockMax) throw this.err("codec-corrupt", type === 1 ? "RLE block exceeds the block maximum size" : "block exceeds the block maximum size", this.unitAt);
    if (type === 0) {
      // Raw bytes pass through as they arrive, up to the limit; one past it
      // is reported when the whole block is there (else it is truncated).
      this.state = S_RAW;
      this.left = size;
      this.room = Math.min(size, this.max - this.produced);
      this.rawOver = size > this.room;
      if (size === 0) this.endBlock();
    } else if (type === 1) {
      this.state = S_RLE;
    } else {
      if (size === 0) throw this.err("codec-corrupt", "empty compressed block", this.unitAt);
      this.state = S_COMP;
      this.got = 0;
    }
  }

  /** A Raw or RLE block goes past `maxOutput` (reported once its bytes are there, like the one-shot decoder). */
  private overLimit(): never {
    throw this.err("limit", `decompressed output exceeds the limit of ${this.max} bytes`, this.unitAt);
  }

  /** The whole Compressed_Block is in the scratch buffer: decode it into the window. */
  private decodeBlock(): void {
    const f = this.frame as StreamFrame;
    const out = this.out as WindowOutput;
    const work = this.work as Work;
    const s = work.scratch;
    const size = this.size;
    const data = this.unitAt + 3;
    s.fill(0, PAD + size, PAD + size + PAD);
    // Room for a whole block first, so the window moves (if at all) between blocks.
    out.ensure(Math.min(f.blockMax, out.max - out.total));
    const start = out.total;
    try {
      // the frame's start as a position in the window (below 0 once dropped)
      compressedBlock(s, size, f.st, work, out, f.start - this.before - out.flushed, f.blockMax, f.wmax);
    } catch (e) {
      // A match past a window capped below Window_Size means the output went past that cap.
      if (e instanceof Fail && e.pastWindow && f.cap !== "") this.overCap(f, data);
      if (e instanceof Fail) throw this.err(e.code, e.message, data + Math.max(0, Math.min(size, e.at - PAD)));
      if (e instanceof KimageError) throw e;
      throw this.err("codec-corrupt", `decoder failure: ${e instanceof Error ? e.message : String(e)}`, data);
    }
    // The window may hold more than maxOutput allows: check the block (it is not emitted).
    if (out.total > out.max) this.overCap({ ...f, cap: "max" }, data);
    if (f.hash) f.hash.update(out.buf, start - out.flushed, out.length);
  }

  /** The error for output past the limit that capped the window, as the one-shot decoder reports it. */
  private overCap(f: StreamFrame, data: number): never {
    if (f.cap === "max") throw this.err("limit", `decompressed output exceeds the limit of ${this.max} bytes`, data);
    throw this.err("codec-size-mismatch", `decoded more than the expected ${this.expected} bytes`, 0);
  }

  /** After a block: check sizes, emit whole chunks, expect the next block or the frame's end. */
  private endBlock(): void {
    const f = this.frame as StreamFrame;
    const produced = this.produced;
    // Fail as soon as `expectedSize` is exceeded (the window was capped by it).
    if (this.expected !== undefined && produced > this.expected) {
      throw this.err("codec-size-mismatch", `decoded more than the expected ${this.expected} bytes`, 0);
    }
    (this.out as WindowOutput).drain(this.chunk, false);
    if (!this.last) this.unit(S_BLOCK);
    else if (f.hash) this.unit(S_SUM);
    else this.endFrame();
  }

  /** After a frame (or a skippable frame). */
  private endFrame(): void {
    const f = this.frame;
    if (f && f.fcs >= 0 && this.produced - f.start !== f.fcs) {
      throw this.err("codec-size-mismatch", `frame decoded to ${this.produced - f.start} bytes, its header says ${f.fcs}`, f.at + 5);
    }
    this.frame = null;
    this.frames++;
    this.unit(S_MAGIC);
  }

  /** The stream ended at input offset `at`: emit the rest, check `expectedSize`. */
  private finish(at: number): void {
    if (this.out) this.out.drain(this.chunk, true);
    const produced = this.produced;
    if (this.expected !== undefined && produced !== this.expected) {
      throw this.err("codec-size-mismatch", `decoded ${produced} bytes, expected ${this.expected}`, 0);
    }
    this.endPos = at;
    this.done = true;
  }

  /** No more input. */
  protected finishInput(): void {
    switch (this.state) {
      case S_MAGIC:
        if (this.frames > 0) return this.finish(this.unitAt);
        throw this.err("truncated", "input too short for a zstd magic", this.unitAt);
      case S_SKIP_SIZE:
        throw this.err("truncated", "skippable frame header runs past the end", this.unitAt);
      case S_SKIP:
        throw this.err("truncated", "skippable frame runs past the end", this.unitAt);
      case S_FHD:
        throw this.err("truncated", "frame header runs past the end", this.unitAt + 4);
      case S_FHDR:
        throw this.err("truncated", "frame header runs past the end", this.unitAt + 5);
      case S_BLOCK:
        throw this.err("truncated", "block header runs past the end", this.unitAt);
      case S_SUM:
        throw this.err("truncated", "content checksum runs past the end", this.unitAt);
      default:
        throw this.err("truncated", "block runs past the end", this.unitAt);
    }
  }
}

/**
 * A streaming Zstandard decoder (RFC 8878): the same frames, checks and
 * errors as {@link decompressZstd}, fed in chunks of any size. "Each block
 * can be decompressed without waiting for its successor, allowing streaming
 * operations." (Quotes are from the Zstandard format document, the text RFC
 * 8878 publishes.)
 *
 * What it holds, at most:
 * - The window. "To properly decode compressed data, a decoder will need to
 *   allocate a buffer of at least `Window_Size` bytes", for a match may
 *   reach "Previous decoded data, up to a distance of `Window_Size`, or
 *   beginning of the Frame, whichever is smaller." The window is
 *   Window_Size (128 MiB for the kernel's `zstd --long=27`) capped by what
 *   `expectedSize` and `maxOutput` still allow, so a kernel payload whose
 *   size its trailer states holds no more than its own size. Plus a quarter
 *   window of slack (the window moves down once per that much output) and
 *   one output chunk. (The buffer starts at 64 KiB.)
 * - One Compressed_Block, gathered in a scratch buffer until the whole block
 *   is there, then decoded by the one-shot decoder's block code: "The size
 *   of `Block_Content` is limited by `Block_Maximum_Size`, which is the
 *   smallest of: `Window_Size`, 128 KB". A Raw_Block's bytes pass through as
 *   they arrive; a skippable frame's "User_Data can be anything. Data will
 *   just be skipped by the decoder."
 * - The frame's state across blocks: "List of "recent offsets" from
 *   previous `Compressed_Block`", "The previous Huffman tree, required by
 *   `Treeless_Literals_Block` type", "Previous FSE decoding tables, required
 *   by `Repeat_Mode`".
 * - The XXH64 state. "The content checksum is the result of xxh64() hash
 *   function digesting the original (decoded) data as input, and a seed of
 *   zero. The low 4 bytes of the checksum are stored in little-endian
 *   format." It is computed block by block ({@link Xxh64}).
 *
 * Decoded bytes are emitted in `chunkSize` pieces (default 1 MiB) as soon as
 * they are decoded, not when they leave the window. Frames follow each other
 * ("The decompressed content of multiple concatenated frames is the
 * concatenation of each frame decompressed content"); the stream ends at
 * the first 4 bytes after a frame that are neither a zstd nor a skippable
 * magic (e.g. the kernel's le32 size trailer), which are not consumed.
 *
 * Errors: those of {@link decompressZstd}, with the same codes at the same
 * offsets: `codec-corrupt`, `codec-checksum`, `codec-size-mismatch`,
 * `truncated` (from `end()`), `unsupported` (dictionaries), `limit` (past
 * `maxOutput`; nothing past it is emitted). One difference: output past
 * `expectedSize` is `codec-size-mismatch` as soon as it happens (the
 * one-shot decoder reports it at the end, after any later error).
 */
export function createZstdStreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new ZstdStreamDecoder(sink, options);
}
