/**
 * A pure-JS raw DEFLATE decoder (RFC 1951), bounded and browser-safe: the
 * default inflater behind gzip. It reports where the deflate stream ended,
 * which the gzip wrapper needs to find the trailer when more bytes follow.
 *
 * Huffman codes decode through two-level tables (10 primary bits for
 * literal/length codes, 8 for distances, one sub-table per long-code
 * prefix); every table entry, length, distance and copy is checked.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { OutputBuffer, OutputFull } from "./output.js";
import type { DecompressOptions } from "./types.js";

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
  const base = options.base ?? 0;
  const out = new OutputBuffer(layer, options, Math.min(64 << 20, Math.max(1024, input.length * 4)));
  const n = input.length;
  let ip = 0;
  let bitbuf = 0;
  let bitcnt = 0;
  let buf = out.buf;
  let op = 0;
  let cap = buf.length;
  let complete = true;

  const truncated = (): KimageError => new KimageError("truncated", "deflate: the stream runs past the end of the input", { layer, offset: base + n });
  // The bit reader pads with zeros past the input; bad data found once it
  // has done so is the input's end, not corruption.
  const corrupt = (msg: string): KimageError =>
    ip - (bitcnt >>> 3) > n ? truncated() : new KimageError("codec-corrupt", `deflate: ${msg}`, { layer, offset: base + Math.min(ip, n) });

  // Makes room for `need` more bytes at `op`; returns false when partial
  // output is full (after writing nothing).
  const grow = (need: number): boolean => {
    out.length = op;
    try {
      out.ensure(need);
    } catch (e) {
      if (e instanceof OutputFull) return false;
      throw e;
    }
    buf = out.buf;
    cap = buf.length;
    return true;
  };

  const litTable = new Int32Array((1 << LIT_BITS) + 288 * 32);
  const distTable = new Int32Array((1 << DIST_BITS) + 32 * 128);
  const clTable = new Int32Array(1 << CL_BITS);
  const lens = new Uint8Array(288 + 32);

  let final: number;
  outer: do {
    // refill to at least 3 bits
    while (bitcnt < 3) {
      if (ip >= n) throw truncated();
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
    let lt: Int32Array;
    let dt: Int32Array;
    if (type === 0) {
      // 3.2.4: "skip any remaining bits in the current partially processed
      // byte; read LEN and NLEN; copy LEN bytes"
      ip -= bitcnt >>> 3;
      bitbuf = 0;
      bitcnt = 0;
      if (n - ip < 4) throw truncated();
      const len = (input[ip] as number) | ((input[ip + 1] as number) << 8);
      const nlen = (input[ip + 2] as number) | ((input[ip + 3] as number) << 8);
      if ((len ^ 0xffff) !== nlen) throw corrupt("stored block LEN does not match NLEN");
      ip += 4;
      if (n - ip < len) throw truncated();
      if (op + len > cap && !grow(len)) {
        const room = out.max - op;
        buf.set(input.subarray(ip, ip + room), op);
        op += room;
        complete = false;
        break;
      }
      buf.set(input.subarray(ip, ip + len), op);
      op += len;
      ip += len;
      continue;
    } else if (type === 1) {
      [lt, dt] = fixedTables();
    } else if (type === 2) {
      // 3.2.7: "HLIT (5 bits) + 257 literal/length codes, HDIST (5 bits) + 1
      // distance codes, HCLEN (4 bits) + 4 code length codes"
      while (bitcnt < 14) {
        if (ip >= n) throw truncated();
        bitbuf |= (input[ip++] as number) << bitcnt;
        bitcnt += 8;
      }
      const hlit = (bitbuf & 31) + 257;
      const hdist = ((bitbuf >>> 5) & 31) + 1;
      const hclen = ((bitbuf >>> 10) & 15) + 4;
      bitbuf >>>= 14;
      bitcnt -= 14;
      if (hlit > 286 || hdist > 30) throw corrupt("too many literal/length or distance codes");
      const cl = new Uint8Array(19);
      for (let i = 0; i < hclen; i++) {
        if (bitcnt < 3) {
          if (ip >= n) throw truncated();
          bitbuf |= (input[ip++] as number) << bitcnt;
          bitcnt += 8;
        }
        cl[CL_ORDER[i] as number] = bitbuf & 7;
        bitbuf >>>= 3;
        bitcnt -= 3;
      }
      if (!buildTable(cl, 19, clTable, CL_BITS)) throw corrupt("over-subscribed code length code");
      const total = hlit + hdist;
      let i = 0;
      while (i < total) {
        while (bitcnt < 14) {
          if (ip >= n) {
            if (ip >= n + 4) throw truncated();
            ip++;
          } else bitbuf |= (input[ip++] as number) << bitcnt;
          bitcnt += 8;
        }
        const e = clTable[bitbuf & 127] as number;
        if (e & INVALID) throw corrupt("invalid code length code");
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
          if (i === 0) throw corrupt("length repeat with no previous length");
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
        if (i + rep > total) throw corrupt("code length repeat runs past the end");
        lens.fill(val, i, i + rep);
        i += rep;
      }
      if (ip - (bitcnt >>> 3) > n) throw truncated();
      if (lens[256] === 0) throw corrupt("no end-of-block code");
      if (!buildTable(lens, hlit, litTable, LIT_BITS)) throw corrupt("over-subscribed literal/length code");
      if (!buildTable(lens.subarray(hlit, total), hdist, distTable, DIST_BITS)) throw corrupt("over-subscribed distance code");
      lt = litTable;
      dt = distTable;
    } else {
      throw corrupt("reserved block type 3");
    }

    // 3.2.5: decode literal/length and distance codes until end-of-block (256)
    for (;;) {
      if (bitcnt <= 24) {
        do {
          if (ip < n) bitbuf |= (input[ip] as number) << bitcnt;
          else if (ip >= n + 4) throw truncated();
          ip++;
          bitcnt += 8;
        } while (bitcnt <= 24);
      }
      let e = lt[bitbuf & 1023] as number;
      if (e & 0xc0) {
        if (e & INVALID) throw corrupt("invalid literal/length code");
        bitbuf >>>= LIT_BITS;
        bitcnt -= LIT_BITS;
        e = lt[(e >>> 8) + (bitbuf & ((1 << (e & 15)) - 1))] as number;
        if (e & INVALID) throw corrupt("invalid literal/length code");
      }
      let nb = e & 15;
      bitbuf >>>= nb;
      bitcnt -= nb;
      let sym = e >>> 8;
      if (sym < 256) {
        if (op >= cap && !grow(1)) {
          complete = false;
          break outer;
        }
        buf[op++] = sym;
        continue;
      }
      if (sym === 256) break;
      sym -= 257;
      if (sym >= 29) throw corrupt("invalid length code");
      nb = LEXT[sym] as number;
      const len = (LBASE[sym] as number) + (bitbuf & ((1 << nb) - 1));
      bitbuf >>>= nb;
      bitcnt -= nb;
      if (bitcnt < 15) {
        do {
          if (ip < n) bitbuf |= (input[ip] as number) << bitcnt;
          else if (ip >= n + 4) throw truncated();
          ip++;
          bitcnt += 8;
        } while (bitcnt <= 24);
      }
      e = dt[bitbuf & 255] as number;
      if (e & 0xc0) {
        if (e & INVALID) throw corrupt("invalid distance code");
        bitbuf >>>= DIST_BITS;
        bitcnt -= DIST_BITS;
        e = dt[(e >>> 8) + (bitbuf & ((1 << (e & 15)) - 1))] as number;
        if (e & INVALID) throw corrupt("invalid distance code");
      }
      nb = e & 15;
      bitbuf >>>= nb;
      bitcnt -= nb;
      const dsym = e >>> 8;
      if (dsym >= 30) throw corrupt("invalid distance code");
      nb = DEXT[dsym] as number;
      if (bitcnt < nb) {
        do {
          if (ip < n) bitbuf |= (input[ip] as number) << bitcnt;
          else if (ip >= n + 4) throw truncated();
          ip++;
          bitcnt += 8;
        } while (bitcnt <= 24);
      }
      const dist = (DBASE[dsym] as number) + (bitbuf & ((1 << nb) - 1));
      bitbuf >>>= nb;
      bitcnt -= nb;
      if (dist > op) throw corrupt("distance too far back");
      if (op + len > cap && !grow(len)) {
        const room = out.max - op;
        for (let k = 0; k < room; k++) buf[op + k] = buf[op - dist + k] as number;
        op += room;
        complete = false;
        break outer;
      }
      let from = op - dist;
      const end = op + len;
      while (op < end) buf[op++] = buf[from++] as number;
    }
  } while (!final);

  // whole unused bytes in the bit buffer were read ahead, not consumed
  const consumed = ip - (bitcnt >>> 3);
  if (complete && consumed > n) throw truncated();
  out.length = op;
  return { bytes: out.result(), consumed: Math.min(consumed, n), complete };
}
