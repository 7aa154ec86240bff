/**
 * A pure-JS raw DEFLATE decoder (RFC 1951), bounded and browser-safe: the
 * default inflater behind gzip. It reports where the deflate stream ended,
 * which the gzip wrapper needs to find the trailer when more bytes follow.
 *
 * Huffman codes decode through two-level tables (10 primary bits for
 * literal/length codes, 8 for distances, one sub-table per long-code
 * prefix); every table entry, length, distance and copy is checked.
 *
 * The decoder is resumable ({@link Inflater}): it keeps the block state (in a
 * stored block, in a Huffman block with its tables, or between blocks) and
 * the bit buffer between calls, and starts a step only while the input holds
 * that step's worst case ({@link INFLATE_HEADER_MARGIN} before a block
 * header, {@link INFLATE_SYMBOL_MARGIN} before a literal/length symbol and its
 * distance) or the input has ended. The one-shot {@link inflateRaw} is one
 * call of it over the whole input; the streaming gzip decoder feeds it chunk
 * by chunk through a {@link ChunkFeeder}, which carries the few bytes a step
 * could not yet use over to the next chunk.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { OutputBuffer, OutputFull, outputGuess } from "./output.js";
import type { DecompressOptions } from "./types.js";
import type { WindowOutput } from "./window.js";

/** What {@link inflateRaw} returns. */
export interface InflateResult {
  /** The decompressed bytes (a view). */
  bytes: Uint8Array;
  /** Input bytes up to and including the byte holding the final block's last bit. */
  consumed: number;
  /** False when `partial` stopped decoding at `maxOutput`. */
  complete: boolean;
}

// RFC 1951 3.2.5: "Length codes 257..285 with their extra bits and base
// lengths" and "distance codes 0..29 with extra bits and base distances".
const LBASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
const LEXT = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
const DBASE = Uint16Array.of(1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577);
const DEXT = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
// RFC 1951 3.2.7: "the code length code lengths, in the order 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15"
const CL_ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);

const LIT_BITS = 10;
const DIST_BITS = 8;
const CL_BITS = 7;
/** Table entry flags: bit 7 links to a sub-table, bit 6 marks an unused code. */
const LINK = 0x80;
const INVALID = 0x40;

/**
 * Input bytes that must be available before a block header is read, unless
 * the input has ended: the largest header is a dynamic one, 3 + 14 + 19 × 3
 * + 316 × (7 + 7) = 4498 bits (563 bytes), plus the bit reader's 4 bytes of
 * read-ahead; a stored block's LEN/NLEN is 4 bytes.
 */
export const INFLATE_HEADER_MARGIN = 1024;
/**
 * Input bytes that must be available before a literal/length symbol is
 * decoded, unless the input has ended: a length/distance pair is at most
 * 15 + 5 + 15 + 13 = 48 bits, plus 4 bytes of read-ahead.
 */
export const INFLATE_SYMBOL_MARGIN = 16;
/** The DEFLATE window: RFC 1951 2: the format "limits distances to 32K bytes and lengths to 258 bytes". */
export const DEFLATE_WINDOW = 32768;

/**
 * Builds a two-level decoding table from code lengths. Entries are
 * `(symbol << 8) | bits` or, for codes longer than `pbits`, a link
 * `(subtableStart << 8) | LINK | subBits`. Returns false when the lengths
 * over-subscribe the code space (RFC 1951 3.2.2's canonical assignment
 * cannot give them codes). Incomplete codes are allowed (unused entries are
 * INVALID and fail when hit), as zlib allows for a lone distance code.
 */
function buildTable(lens: Uint8Array, n: number, table: Int32Array, pbits: number): boolean {
  const count = new Uint16Array(16);
  let maxLen = 0;
  for (let i = 0; i < n; i++) {
    const l = lens[i] as number;
    count[l] = (count[l] as number) + 1;
    if (l > maxLen) maxLen = l;
  }
  count[0] = 0;
  let left = 1;
  for (let l = 1; l <= 15; l++) {
    left = (left << 1) - (count[l] as number);
    if (left < 0) return false;
  }
  // "next_code[bits] = (code + bl_count[bits-1]) << 1", the smallest code of each length
  const next = new Uint16Array(16);
  let code = 0;
  for (let l = 1; l <= 15; l++) {
    code = (code + (count[l - 1] as number)) << 1;
    next[l] = code;
  }
  const psize = 1 << pbits;
  table.fill(INVALID, 0, psize);
  const subBits = maxLen > pbits ? maxLen - pbits : 0;
  const subSize = 1 << subBits;
  let used = psize;
  for (let sym = 0; sym < n; sym++) {
    const len = lens[sym] as number;
    if (len === 0) continue;
    const c = next[len] as number;
    next[len] = c + 1;
    // Huffman codes are sent most significant bit first, the table is
    // indexed by the bits as they arrive (least significant first): reverse.
    let rev = 0;
    for (let k = 0, v = c; k < len; k++, v >>>= 1) rev = (rev << 1) | (v & 1);
    if (len <= pbits) {
      const e = (sym << 8) | len;
      for (let i = rev; i < psize; i += 1 << len) table[i] = e;
    } else {
      const p = rev & (psize - 1);
      let link = table[p] as number;
      if (!(link & LINK)) {
        link = (used << 8) | LINK | subBits;
        table[p] = link;
        table.fill(INVALID, used, used + subSize);
        used += subSize;
      }
      const base = link >>> 8;
      const r = rev >>> pbits;
      const sl = len - pbits;
      const e = (sym << 8) | sl;
      for (let i = r; i < subSize; i += 1 << sl) table[base + i] = e;
    }
  }
  return true;
}

let fixedLit: Int32Array | null = null;
let fixedDist: Int32Array | null = null;

function fixedTables(): [Int32Array, Int32Array] {
  if (!fixedLit || !fixedDist) {
    // RFC 1951 3.2.6: "Lit Value 0-143: 8 bits, 144-255: 9 bits, 256-279: 7 bits, 280-287: 8 bits";
    // distance codes 0-31 "are represented by (fixed-length) 5-bit codes"
    const l = new Uint8Array(288);
    l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    const lt = new Int32Array((1 << LIT_BITS) + 288 * 32);
    buildTable(l, 288, lt, LIT_BITS);
    const d = new Uint8Array(32).fill(5);
    const dt = new Int32Array((1 << DIST_BITS) + 32 * 128);
    buildTable(d, 32, dt, DIST_BITS);
    fixedLit = lt;
    fixedDist = dt;
  }
  return [fixedLit, fixedDist];
}


// The decoder's state between calls.
const S_HEADER = 0; // before a block header
const S_STORED = 1; // inside a stored block (storedLeft bytes to copy)
const S_CODES = 2; // inside a Huffman block (tables lt/dt)
const S_DONE = 3; // after the final block

/** Where an {@link Inflater} writes: a growable {@link OutputBuffer} (one-shot) or a sliding {@link WindowOutput} (streaming). */
export type InflateOutput = OutputBuffer | WindowOutput;

/** Bytes the output has dropped from the front of its buffer (a {@link WindowOutput}'s `flushed`; 0 for an {@link OutputBuffer}). */
function flushedOf(out: InflateOutput): number {
  return out instanceof OutputBuffer ? 0 : out.flushed;
}

/**
 * A resumable raw DEFLATE decoder (RFC 1951). {@link Inflater.run} decodes
 * from `input[ip, n)` and returns how far it got; between calls it keeps the
 * block state, the Huffman tables of the current block and fewer than 8 bits
 * of the bit buffer (whole bytes it read ahead are given back), so the
 * caller passes the unused rest again, followed by the next bytes.
 *
 * State: about 60 KiB of tables; the history lives in the output (a
 * {@link WindowOutput} of {@link DEFLATE_WINDOW} bytes when streaming).
 */
export class Inflater {
  private state = S_HEADER;
  private final = 0;
  private storedLeft = 0;
  private bitbuf = 0;
  private bitcnt = 0;
  private lt: Int32Array;
  private dt: Int32Array;
  private readonly litTable = new Int32Array((1 << LIT_BITS) + 288 * 32);
  private readonly distTable = new Int32Array((1 << DIST_BITS) + 32 * 128);
  private readonly clTable = new Int32Array(1 << CL_BITS);
  private readonly lens = new Uint8Array(288 + 32);
  /** Output position (in total bytes) where this deflate stream starts: no distance reaches before it. */
  private histStart: number;
  /** False when a `partial` output filled up before the end of the stream (one-shot only). */
  complete = true;

  /**
   * @param out - where decoded bytes go; a deflate stream starts at its current end
   * @param layer - the error layer (e.g. "gzip")
   */
  constructor(
    private readonly out: InflateOutput,
    private readonly layer = "deflate",
  ) {
    this.lt = this.litTable;
    this.dt = this.distTable;
    this.histStart = flushedOf(out) + out.length;
  }

  /** True once the final block was decoded (or partial output stopped it). */
  get done(): boolean {
    return this.state === S_DONE;
  }

  /** Starts a new deflate stream at the current end of the output (the next gzip member). */
  reset(): void {
    this.state = S_HEADER;
    this.final = 0;
    this.storedLeft = 0;
    this.bitbuf = 0;
    this.bitcnt = 0;
    this.complete = true;
    this.histStart = flushedOf(this.out) + this.out.length;
  }

  private truncated(abs0: number, n: number): KimageError {
    return new KimageError("truncated", "deflate: the stream runs past the end of the input", { layer: this.layer, offset: abs0 + n });
  }

  // The bit reader pads with zeros past the input; bad data found once it
  // has done so is the input's end, not corruption.
  private corrupt(msg: string, ip: number, bitcnt: number, n: number, abs0: number): KimageError {
    if (ip - (bitcnt >>> 3) > n) return this.truncated(abs0, n);
    return new KimageError("codec-corrupt", `deflate: ${msg}`, { layer: this.layer, offset: abs0 + Math.min(ip, n) });
  }

  /** Makes room for `need` bytes after `op`; returns the new `op` (a window output shifts), or -1 when partial output is full. */
  private room(op: number, need: number): number {
    const out = this.out;
    out.length = op;
    try {
      out.ensure(need);
    } catch (e) {
      if (e instanceof OutputFull) return -1;
      throw e;
    }
    return out.length;
  }

  /**
   * Decodes from `input[ip, n)`; returns the position of the first byte not
   * used. Unless `ended`, it stops early (state kept) where fewer bytes
   * remain than the next step may need: the caller passes `input[return, n)`
   * again, followed by more input. Once {@link done}, the return value is
   * the end of the deflate stream ("the byte holding the final block's last
   * bit", plus one).
   *
   * @param ended - no input follows `input[n)`: decode to the end or throw `truncated`
   * @param abs0 - absolute offset of `input[0]` in the outermost file, for errors
   * @throws KimageError `codec-corrupt`, `truncated`, `limit`
   */
  run(input: Uint8Array, ip: number, n: number, ended: boolean, abs0: number): number {
    if (this.state === S_DONE) return ip;
    const out = this.out;
    const lens = this.lens;
    const clTable = this.clTable;
    let state = this.state;
    let final = this.final;
    let storedLeft = this.storedLeft;
    let bitbuf = this.bitbuf;
    let bitcnt = this.bitcnt;
    let lt = this.lt;
    let dt = this.dt;
    let buf = out.buf;
    let op = out.length;
    let flushed = flushedOf(out);
    // Positions in buf: cap is where the output must grow (or hit maxOutput),
    // lo where this stream's history starts (negative once it slid out).
    let cap = Math.min(buf.length, out.max - flushed);
    let lo = this.histStart - flushed;
    // A step starts only while the input holds its worst case, or has ended.
    const hdrSafe = ended ? Number.MAX_SAFE_INTEGER : n - INFLATE_HEADER_MARGIN;
    const symSafe = ended ? Number.MAX_SAFE_INTEGER : n - INFLATE_SYMBOL_MARGIN;

    // Near the end of the input (unless it has ended), a step is decoded
    // from a snapshot as if the input ended there (zero bits past it) and
    // kept only if it used real bits; otherwise (or on an error that read
    // past the input) it is rolled back to wait for more input. So the end
    // of a stream is found as soon as its last bit has arrived.
    let edge = false;
    let rollback = false;
    let sIp = 0;
    let sBitbuf = 0;
    let sBitcnt = 0;
    let sState = 0;
    let sFinal = 0;
    try {
      outer: for (;;) {
        if (state === S_CODES) {
          // 3.2.5: decode literal/length and distance codes until end-of-block (256)
          for (;;) {
            if (ip > symSafe) {
              edge = true;
              sIp = ip;
              sBitbuf = bitbuf;
              sBitcnt = bitcnt;
              sState = state;
              sFinal = final;
            }
            if (bitcnt <= 24) {
              do {
                if (ip < n) bitbuf |= (input[ip] as number) << bitcnt;
                else if (ip >= n + 4) throw this.truncated(abs0, n);
                ip++;
                bitcnt += 8;
              } while (bitcnt <= 24);
            }
            let e = lt[bitbuf & 1023] as number;
            if (e & 0xc0) {
              if (e & INVALID) throw this.corrupt("invalid literal/length code", ip, bitcnt, n, abs0);
              bitbuf >>>= LIT_BITS;
              bitcnt -= LIT_BITS;
              e = lt[(e >>> 8) + (bitbuf & ((1 << (e & 15)) - 1))] as number;
              if (e & INVALID) throw this.corrupt("invalid literal/length code", ip, bitcnt, n, abs0);
            }
            let nb = e & 15;
            bitbuf >>>= nb;
            bitcnt -= nb;
            let sym = e >>> 8;
            if (sym < 256) {
              if (edge && 8 * (ip - n) > bitcnt) {
                rollback = true;
                break outer;
              }
              if (op >= cap) {
                const r = this.room(op, 1);
                if (r < 0) {
                  this.complete = false;
                  state = S_DONE;
                  break outer;
                }
                op = r;
                buf = out.buf;
                flushed = flushedOf(out);
                cap = Math.min(buf.length, out.max - flushed);
                lo = this.histStart - flushed;
              }
              buf[op++] = sym;
              continue;
            }
            if (sym === 256) {
              if (edge && 8 * (ip - n) > bitcnt) {
                rollback = true;
                break outer;
              }
              state = final ? S_DONE : S_HEADER;
              break;
            }
            sym -= 257;
            if (sym >= 29) throw this.corrupt("invalid length code", ip, bitcnt, n, abs0);
            nb = LEXT[sym] as number;
            const len = (LBASE[sym] as number) + (bitbuf & ((1 << nb) - 1));
            bitbuf >>>= nb;
            bitcnt -= nb;
            if (bitcnt < 15) {
              do {
                if (ip < n) bitbuf |= (input[ip] as number) << bitcnt;
                else if (ip >= n + 4) throw this.truncated(abs0, n);
                ip++;
                bitcnt += 8;
              } while (bitcnt <= 24);
            }
            e = dt[bitbuf & 255] as number;
            if (e & 0xc0) {
              if (e & INVALID) throw this.corrupt("invalid distance code", ip, bitcnt, n, abs0);
              bitbuf >>>= DIST_BITS;
              bitcnt -= DIST_BITS;
              e = dt[(e >>> 8) + (bitbuf & ((1 << (e & 15)) - 1))] as number;
              if (e & INVALID) throw this.corrupt("invalid distance code", ip, bitcnt, n, abs0);
            }
            nb = e & 15;
            bitbuf >>>= nb;
            bitcnt -= nb;
            const dsym = e >>> 8;
            if (dsym >= 30) throw this.corrupt("invalid distance code", ip, bitcnt, n, abs0);
            nb = DEXT[dsym] as number;
            if (bitcnt < nb) {
              do {
                if (ip < n) bitbuf |= (input[ip] as number) << bitcnt;
                else if (ip >= n + 4) throw this.truncated(abs0, n);
                ip++;
                bitcnt += 8;
              } while (bitcnt <= 24);
            }
            const dist = (DBASE[dsym] as number) + (bitbuf & ((1 << nb) - 1));
            bitbuf >>>= nb;
            bitcnt -= nb;
            if (edge && 8 * (ip - n) > bitcnt) {
              rollback = true;
              break outer;
            }
            // 3.2.3: "However a distance cannot refer past the beginning of the output stream."
            if (dist > op - lo) throw this.corrupt("distance too far back", ip, bitcnt, n, abs0);
            if (op + len > cap) {
              const r = this.room(op, len);
              if (r < 0) {
                const room = out.max - op;
                for (let k = 0; k < room; k++) buf[op + k] = buf[op - dist + k] as number;
                op += room;
                this.complete = false;
                state = S_DONE;
                break outer;
              }
              op = r;
              buf = out.buf;
              flushed = flushedOf(out);
              cap = Math.min(buf.length, out.max - flushed);
              lo = this.histStart - flushed;
            }
            let from = op - dist;
            const end = op + len;
            while (op < end) buf[op++] = buf[from++] as number;
          }
          if (state === S_DONE) break;
          continue;
        }

        if (state === S_STORED) {
          // "copy LEN bytes of data to output"
          let k = storedLeft;
          if (n - ip < k) {
            if (ended) throw this.truncated(abs0, n);
            k = n - ip;
          }
          if (k > 0) {
            if (op + k > cap) {
              const r = this.room(op, k);
              if (r < 0) {
                const room = out.max - op;
                buf.set(input.subarray(ip, ip + room), op);
                op += room;
                this.complete = false;
                state = S_DONE;
                break;
              }
              op = r;
              buf = out.buf;
              flushed = flushedOf(out);
              cap = Math.min(buf.length, out.max - flushed);
              lo = this.histStart - flushed;
            }
            buf.set(input.subarray(ip, ip + k), op);
            op += k;
            ip += k;
            storedLeft -= k;
          }
          if (storedLeft > 0) break; // wait for more input
          state = final ? S_DONE : S_HEADER;
          if (state === S_DONE) break;
          continue;
        }

        if (state !== S_HEADER) break;
        if (ip > hdrSafe) {
          edge = true;
          sIp = ip;
          sBitbuf = bitbuf;
          sBitcnt = bitcnt;
          sState = state;
          sFinal = final;
        }
        // refill to at least 3 bits
        while (bitcnt < 3) {
          if (ip >= n) throw this.truncated(abs0, n);
          bitbuf |= (input[ip++] as number) << bitcnt;
          bitcnt += 8;
        }
        // RFC 1951 3.2.3: "BFINAL is set if and only if this is the last block;
        // BTYPE: 00 no compression, 01 fixed Huffman codes, 10 dynamic Huffman
        // codes, 11 reserved (error)"
        final = bitbuf & 1;
        const type = (bitbuf >>> 1) & 3;
        bitbuf >>>= 3;
        bitcnt -= 3;
        if (type === 0) {
          // 3.2.4: "skip any remaining bits in the current partially processed
          // byte; read LEN and NLEN; copy LEN bytes"
          ip -= bitcnt >>> 3;
          bitbuf = 0;
          bitcnt = 0;
          if (n - ip < 4) throw this.truncated(abs0, n);
          const len = (input[ip] as number) | ((input[ip + 1] as number) << 8);
          const nlen = (input[ip + 2] as number) | ((input[ip + 3] as number) << 8);
          // "NLEN is the one's complement of LEN"
          if ((len ^ 0xffff) !== nlen) throw this.corrupt("stored block LEN does not match NLEN", ip, bitcnt, n, abs0);
          ip += 4;
          storedLeft = len;
          state = S_STORED;
        } else if (type === 1) {
          [lt, dt] = fixedTables();
          state = S_CODES;
        } else if (type === 2) {
          // 3.2.7: "HLIT (5 bits) + 257 literal/length codes, HDIST (5 bits) + 1
          // distance codes, HCLEN (4 bits) + 4 code length codes"
          while (bitcnt < 14) {
            if (ip >= n) throw this.truncated(abs0, n);
            bitbuf |= (input[ip++] as number) << bitcnt;
            bitcnt += 8;
          }
          const hlit = (bitbuf & 31) + 257;
          const hdist = ((bitbuf >>> 5) & 31) + 1;
          const hclen = ((bitbuf >>> 10) & 15) + 4;
          bitbuf >>>= 14;
          bitcnt -= 14;
          if (hlit > 286 || hdist > 30) throw this.corrupt("too many literal/length or distance codes", ip, bitcnt, n, abs0);
          const cl = new Uint8Array(19);
          for (let i = 0; i < hclen; i++) {
            if (bitcnt < 3) {
              if (ip >= n) throw this.truncated(abs0, n);
              bitbuf |= (input[ip++] as number) << bitcnt;
              bitcnt += 8;
            }
            cl[CL_ORDER[i] as number] = bitbuf & 7;
            bitbuf >>>= 3;
            bitcnt -= 3;
          }
          if (!buildTable(cl, 19, clTable, CL_BITS)) throw this.corrupt("over-subscribed code length code", ip, bitcnt, n, abs0);
          const total = hlit + hdist;
          let i = 0;
          while (i < total) {
            while (bitcnt < 14) {
              if (ip >= n) {
                if (ip >= n + 4) throw this.truncated(abs0, n);
                ip++;
              } else bitbuf |= (input[ip++] as number) << bitcnt;
              bitcnt += 8;
            }
            const e = clTable[bitbuf & 127] as number;
            if (e & INVALID) throw this.corrupt("invalid code length code", ip, bitcnt, n, abs0);
            const eb = e & 15;
            bitbuf >>>= eb;
            bitcnt -= eb;
            const sym = e >>> 8;
            if (sym < 16) {
              lens[i++] = sym;
              continue;
            }
            // "16: copy the previous code length 3-6 times (2 extra bits); 17:
            // repeat a zero length 3-10 times (3 bits); 18: 11-138 times (7 bits)"
            let rep: number;
            let val = 0;
            if (sym === 16) {
              if (i === 0) throw this.corrupt("length repeat with no previous length", ip, bitcnt, n, abs0);
              val = lens[i - 1] as number;
              rep = 3 + (bitbuf & 3);
              bitbuf >>>= 2;
              bitcnt -= 2;
            } else if (sym === 17) {
              rep = 3 + (bitbuf & 7);
              bitbuf >>>= 3;
              bitcnt -= 3;
            } else {
              rep = 11 + (bitbuf & 127);
              bitbuf >>>= 7;
              bitcnt -= 7;
            }
            if (i + rep > total) throw this.corrupt("code length repeat runs past the end", ip, bitcnt, n, abs0);
            lens.fill(val, i, i + rep);
            i += rep;
          }
          if (ip - (bitcnt >>> 3) > n) throw this.truncated(abs0, n);
          if (lens[256] === 0) throw this.corrupt("no end-of-block code", ip, bitcnt, n, abs0);
          if (!buildTable(lens, hlit, this.litTable, LIT_BITS)) throw this.corrupt("over-subscribed literal/length code", ip, bitcnt, n, abs0);
          if (!buildTable(lens.subarray(hlit, total), hdist, this.distTable, DIST_BITS)) throw this.corrupt("over-subscribed distance code", ip, bitcnt, n, abs0);
          lt = this.litTable;
          dt = this.distTable;
          state = S_CODES;
        } else {
          throw this.corrupt("reserved block type 3", ip, bitcnt, n, abs0);
        }
        if (edge && 8 * (ip - n) > bitcnt) {
          rollback = true;
          break;
        }
      }
    } catch (e) {
      if (!edge || !(e instanceof KimageError) || !(e.code === "truncated" || (e.code === "codec-corrupt" && ip > n))) throw e;
      rollback = true;
    }
    if (rollback) {
      ip = sIp;
      bitbuf = sBitbuf;
      bitcnt = sBitcnt;
      state = sState;
      final = sFinal;
    }

    if (state === S_DONE) {
      // whole unused bytes in the bit buffer were read ahead, not consumed
      const end = ip - (bitcnt >>> 3);
      if (this.complete && end > n) throw this.truncated(abs0, n);
      ip = Math.min(end, n);
      bitbuf = 0;
      bitcnt = 0;
    } else {
      // Paused: give back the whole bytes read ahead, so that the caller
      // passes them again; fewer than 8 bits stay in the bit buffer.
      ip -= bitcnt >>> 3;
      bitcnt &= 7;
      bitbuf &= (1 << bitcnt) - 1;
    }
    out.length = op;
    this.state = state;
    this.final = final;
    this.storedLeft = storedLeft;
    this.bitbuf = bitbuf;
    this.bitcnt = bitcnt;
    this.lt = lt;
    this.dt = dt;
    return ip;
  }
}

/**
 * Inflates a raw DEFLATE stream (RFC 1951) at the start of `input`, stopping
 * after the block with BFINAL set; bytes after it are not read. Output is
 * bounded by `maxOutput` (`limit`, or a partial result with `partial`).
 *
 * Errors (KimageError, layer `options.layer` or "deflate", offsets
 * `options.base` + input offset): `codec-corrupt` (reserved block type,
 * bad code lengths, invalid code, distance too far back, stored-length
 * mismatch), `truncated`, `limit`.
 */
export function inflateRaw(input: Uint8Array, options: DecompressOptions & { layer?: string } = {}): InflateResult {
  const layer = options.layer ?? "deflate";
  const out = new OutputBuffer(layer, options, outputGuess(input.length));
  const inf = new Inflater(out, layer);
  const consumed = inf.run(input, 0, input.length, true, options.base ?? 0);
  return { bytes: out.result(), consumed, complete: inf.complete };
}

/**
 * One step of a resumable decoder: consumes from `input[ip, n)` and returns
 * the position of the first byte it did not use. Unless `ended`, it may
 * leave bytes it cannot use yet (fewer than the {@link ChunkFeeder}'s
 * capacity / 4); with `ended`, it must finish or throw. `abs0` is the
 * absolute offset of `input[0]`, for errors.
 */
export type FeedStep = (input: Uint8Array, ip: number, n: number, ended: boolean, abs0: number) => number;

/**
 * Feeds chunks of input to a {@link FeedStep}, carrying the bytes a step
 * left over to the next chunk. A step runs on the chunk itself whenever
 * nothing is carried; otherwise on a small buffer holding the carried
 * bytes followed by the head of the next chunk, and back on the chunk as
 * soon as the step has used up the carried bytes. Memory: the carry buffer
 * (its `capacity`), never a copy of a whole chunk.
 */
export class ChunkFeeder {
  private tail: Uint8Array;
  private start = 0;
  private len = 0;
  /** Input bytes the steps have consumed in total. */
  consumed = 0;

  /**
   * @param capacity - carry buffer size: at least 4 × the most a step leaves over
   * @param base - absolute offset of the first input byte
   */
  constructor(
    capacity: number,
    private readonly base: number,
  ) {
    this.tail = new Uint8Array(capacity);
  }

  /** Bytes carried over, waiting for more input. */
  get held(): number {
    return this.len - this.start;
  }

  /**
   * Runs `step` over the carried bytes and `chunk` until it stops; with
   * `ended`, the chunk is the last input. Stops early once `stopped()`.
   */
  feed(chunk: Uint8Array, ended: boolean, step: FeedStep, stopped: () => boolean): void {
    let pos = 0;
    while (!stopped()) {
      if (this.len > this.start) {
        // Join the carried bytes and the head of the chunk.
        const cap = this.tail.length;
        if (this.start > 0 && cap - this.len < cap >>> 1) {
          this.tail.copyWithin(0, this.start, this.len);
          this.len -= this.start;
          this.start = 0;
        }
        if (this.len === cap && pos < chunk.length) {
          // A step left more than it should: grow rather than stall.
          const next = new Uint8Array(cap * 2);
          next.set(this.tail.subarray(0, this.len));
          this.tail = next;
        }
        const take = Math.min(chunk.length - pos, this.tail.length - this.len);
        this.tail.set(chunk.subarray(pos, pos + take), this.len);
        this.len += take;
        pos += take;
        const at = this.start;
        const p = step(this.tail, at, this.len, ended && pos === chunk.length, this.base + this.consumed - at);
        this.consumed += p - at;
        this.start = p;
        const left = this.len - p;
        if (left === 0) {
          this.start = this.len = 0;
        } else if (left <= take && pos < chunk.length) {
          // Only bytes of the chunk are left: continue on the chunk itself.
          pos -= left;
          this.start = this.len = 0;
          continue;
        }
        if (pos === chunk.length) return;
        continue;
      }
      const p = step(chunk, pos, chunk.length, ended, this.base + this.consumed - pos);
      this.consumed += p - pos;
      pos = p;
      const left = chunk.length - pos;
      if (left > 0 && !stopped()) {
        if (left > this.tail.length) this.tail = new Uint8Array(left * 2);
        this.tail.set(chunk.subarray(pos), 0);
        this.start = 0;
        this.len = left;
      }
      return;
    }
  }
}
