/**
 * The LZMA decoder core shared by the `.xz` (LZMA2) and `.lzma` ("alone")
 * decoders: the range decoder, the literal/match/rep state machine and the
 * adaptive bit probabilities.
 *
 * Design: the output buffer *is* the dictionary window (a match copies from
 * earlier output), so there is no second copy. One-shot decoders pass the
 * whole output as a linear buffer; streaming decoders pass a circular one
 * whose length is the window (see {@link LzmaDecoder.run}: a source position
 * before 0 wraps to the end of the buffer, and `dictStart` is negative once
 * the window has wrapped). The hot loop keeps the range coder, the state and
 * the four rep distances in local variables and decodes every bit inline (no
 * per-bit calls, closures or property access). Every match distance is
 * checked against the bytes decoded since the last dictionary reset and
 * against the buffer's length, and every copy against the caller's output
 * limit, so hostile input can neither read outside the window nor write past
 * the cap.
 *
 * Facts relied on (from Igor Pavlov's "LZMA specification" and the xz-embedded
 * sources' comments; the code is written from those descriptions):
 *
 * - "The range decoder ... Range and Code are 32-bit unsigned integers ...
 *   Init(): Range = 0xFFFFFFFF; b = first byte; Code = the next four bytes,
 *   big endian; if (b != 0 || Code == Range) the stream is corrupted."
 * - "kNumBitModelTotalBits = 11, kNumMoveBits = 5: probabilities are 11-bit
 *   numbers initialised to half (1024); bound = (Range >> 11) * prob; if
 *   Code < bound the bit is 0 (Range = bound, prob += (2048 - prob) >> 5),
 *   else the bit is 1 (Range -= bound, Code -= bound, prob -= prob >> 5).
 *   Normalize: while Range < 2^24, Range <<= 8 and Code = (Code << 8) | next
 *   input byte."
 * - "Direct bits: Range >>= 1; if Code >= Range { Code -= Range; bit = 1 }."
 * - "The end marker is a simple match whose distance is 0xFFFFFFFF ... after
 *   it the decoder checks that Code == 0 (IsFinishedOK)."
 *
 * @module
 */

import { KimageError } from "../core/errors.js";

// ---------------------------------------------------------------------------
// Probability array layout: one Uint16Array, fixed offsets.
//
// "kNumStates = 12, kNumPosBitsMax = 4": IsMatch and IsRep0Long are indexed
// by (state << 4) + posState; IsRep, IsRepG0..G2 by state.
// "kNumLenToPosStates = 4, kNumPosSlotBits = 6": 4 pos-slot bit trees of 64.
// "kEndPosModelIndex = 14, kNumFullDistances = 128": PosDecoders has
// 1 + 128 - 14 = 115 probabilities (reverse bit trees for slots 4..13).
// "kNumAlignBits = 4": one 4-bit reverse tree (16 entries).
// Length coder: Choice, Choice2, LowCoder[16] (3 bits = 8 entries each),
// MidCoder[16] (8 each), HighCoder (8 bits = 256) = 514 probabilities.
// Literals: "0x300 probabilities per literal coder, (1 << (lc + lp)) coders".
// ---------------------------------------------------------------------------
const IS_MATCH = 0;
const IS_REP = 192;
const IS_REP_G0 = 204;
const IS_REP_G1 = 216;
const IS_REP_G2 = 228;
const IS_REP0_LONG = 240;
const POS_SLOT = 432;
const SPEC_POS = 688;
const ALIGN = 803;
const LEN_CODER = 819;
const REP_LEN_CODER = 1333;
const LITERAL = 1847;
/** Offsets inside one length coder. */
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = 130;
const LEN_HIGH = 258;

/** "kTopValue = 1 << 24": normalise when Range drops below it. */
const TOP = 0x1000000;

/** The decoded `lc`/`lp`/`pb` properties of an LZMA stream. */
export interface LzmaProps {
  /** Literal context bits (0-8). */
  lc: number;
  /** Literal position bits (0-4). */
  lp: number;
  /** Position bits (0-4). */
  pb: number;
}

/**
 * Decodes the LZMA properties byte. "d = (pb * 5 + lp) * 9 + lc; lc = d % 9,
 * d /= 9, lp = d % 5, pb = d / 5; a value >= 9 * 5 * 5 = 225 is invalid."
 * Returns `null` for an invalid byte.
 */
export function decodeLzmaProps(byte: number): LzmaProps | null {
  if (byte >= 225) return null;
  const lc = byte % 9;
  const rest = (byte - lc) / 9;
  const lp = rest % 5;
  const pb = (rest - lp) / 5;
  return { lc, lp, pb };
}

/**
 * A resumable, one-shot LZMA decoder. The caller owns the input and the
 * output buffer; the decoder owns the model (probabilities, state, reps) and
 * the range coder, and remembers a match cut short by an output limit
 * ({@link pendingLen}) so decoding can continue after the buffer grows.
 *
 * Used by the LZMA2 chunk layer (`lzma2.ts`) and the `.lzma` decoder
 * (`lzma-alone.ts`).
 */
export class LzmaDecoder {
  /** Error layer id (`"xz"` or `"lzma"`). */
  readonly layer: string;
  /**
   * Absolute offset, in the outermost file, of `input[0]` for the input the
   * decoder is reading: one-shot decoders set it once; streaming decoders
   * move it to each buffer they decode from, so errors keep absolute offsets.
   */
  base: number;

  /** The adaptive probabilities (layout: see the module constants). */
  private probs: Uint16Array = new Uint16Array(LITERAL + 0x300);
  private lc = 0;
  private litPosMask = 0;
  private posMask = 0;

  /**
   * Range coder state between calls, as int32 bit patterns (so the fields
   * always hold small integers: a field that switched between integer and
   * double representations would deoptimise the hot loop on every call).
   */
  private range = -1;
  private code = 0;
  /** Next input byte to read. */
  inPos = 0;

  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** Bytes of the current match still to copy (output limit reached mid-match). */
  pendingLen = 0;
  /** Set when the end-of-payload marker was decoded. */
  finished = false;
  /**
   * Output position of the last dictionary reset: distances may not reach
   * before it. In a circular buffer that has wrapped since the reset, it is
   * minus the buffer's length (a multiple of 16, so `pos - dictStart` keeps
   * the low bits that `pb`/`lp` select), and the whole buffer is history.
   */
  dictStart = 0;

  /** Creates a decoder reporting errors as `layer` at `base` + input offset. */
  constructor(layer: string, base: number) {
    this.layer = layer;
    this.base = base;
  }

  /** Throws a `codec-corrupt` error at input offset `at`. */
  corrupt(message: string, at: number = this.inPos): never {
    throw new KimageError("codec-corrupt", message, { layer: this.layer, offset: this.base + at });
  }

  /**
   * Sets lc/lp/pb and resets the model ("state reset": all probabilities to
   * 1024, state 0, reps 0). Reallocates the probability array only when the
   * number of literal coders (`0x300 << (lc + lp)` probabilities) changes.
   */
  setProps(props: LzmaProps): void {
    this.lc = props.lc;
    this.litPosMask = (1 << props.lp) - 1;
    this.posMask = (1 << props.pb) - 1;
    const need = LITERAL + (0x300 << (props.lc + props.lp));
    if (this.probs.length !== need) this.probs = new Uint16Array(need);
    this.resetState();
  }

  /**
   * "State reset": every probability back to 1024 (one half), state 0,
   * rep0..rep3 = 0, no pending match, not finished.
   */
  resetState(): void {
    this.probs.fill(1024);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
    this.pendingLen = 0;
    this.finished = false;
  }

  /**
   * Initialises the range coder from the 5 bytes at `pos` (which the caller
   * has checked are present): "if (b != 0 || Code == Range) the stream is
   * corrupted", with b the first byte and Range = 0xFFFFFFFF.
   */
  initRange(input: Uint8Array, pos: number): void {
    if (input[pos] !== 0) this.corrupt("LZMA range coder: the first byte is not 0", pos);
    const code = (((input[pos + 1] as number) << 24) | ((input[pos + 2] as number) << 16) | ((input[pos + 3] as number) << 8) | (input[pos + 4] as number)) >>> 0;
    if (code === 0xffffffff) this.corrupt("LZMA range coder: invalid initial code", pos);
    this.range = -1;
    this.code = code | 0;
    this.inPos = pos + 5;
  }

  /** "IsFinishedOK": after the last symbol of a chunk/stream, Code must be 0. */
  rangeFinished(): boolean {
    return this.code === 0;
  }

  /**
   * Decodes symbols into `out[pos ...]` until `outLimit` is reached, the end
   * marker is decoded ({@link finished}), or the range coder has read past
   * `inLimit` (then `inPos > inLimit` on return; the caller reports it).
   * Returns the new output position. Throws `codec-corrupt` for a distance
   * reaching before {@link dictStart} or beyond `out.length` bytes back.
   *
   * `out` may be circular (a streaming window): a match source before
   * `out[0]` wraps to the end of `out`. `outLimit` never exceeds
   * `out.length`; the caller wraps `pos` to 0 when it gets there. In a
   * linear one-shot buffer, sources never wrap (every distance that passes
   * points at or after `dictStart` >= 0), so the wrap tests are never taken.
   *
   * A streaming caller that cannot see the whole input passes
   * `inLimit = available - 21` ("LZMA_IN_REQUIRED": the most input one
   * symbol can take, a match with every bit at the least likely
   * probability): a symbol only starts while `inPos <= inLimit`, so it never
   * reads beyond the available bytes; `inEnd` is then the end of those
   * bytes. An error found after the range coder read past `inEnd` is not
   * thrown: the stream was cut short, which the caller reports instead.
   *
   * Reads past `inLimit` (at most one symbol's worth) see the following
   * bytes or `undefined` (which `|` turns into 0); the caller treats any
   * overrun as an error, so those values never matter.
   *
   * Speed: inside the loop Range and Code are held as int32 bit patterns
   * (`Math.imul`, `| 0`, `<<`) and compared as unsigned with `>>> 0`, which
   * V8 compiles to plain 32-bit machine operations; every bit decode is
   * written out inline.
   */
  run(inp: Uint8Array, inLimit: number, out: Uint8Array, pos: number, outLimit: number, inEnd: number = inLimit): number {
    const probs = this.probs;
    const dictStart = this.dictStart;
    const size = out.length;
    const lc = this.lc;
    const lcShift = 8 - lc;
    const litPosMask = this.litPosMask;
    const posMask = this.posMask;
    let range = this.range;
    let code = this.code;
    let ip = this.inPos;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let len = this.pendingLen;
    let k: number;
    let p: number;
    let bound: number;
    let sym: number;

    // A match cut short by the previous call's output limit continues first.
    if (len > 0) {
      let src = pos - rep0 - 1;
      if (src < 0) src += size;
      const end = Math.min(pos + len, outLimit);
      len -= end - pos;
      while (pos < end) {
        out[pos++] = out[src++] as number;
        if (src === size) src = 0;
      }
    }

    while (pos < outLimit) {
      if (ip > inLimit) break;
      const posState = (pos - dictStart) & posMask;

      // IsMatch[state][posState]
      k = IS_MATCH + (state << 4) + posState;
      p = probs[k] as number;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[k] = p + ((2048 - p) >>> 5);
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | (inp[ip++] as number);
        }
        // ---- Literal. "The literal coder is selected by the low lp bits of
        // the position and the high lc bits of the previous byte."
        const prev = pos > dictStart ? (out[(pos || size) - 1] as number) : 0;
        const lbase = LITERAL + 0x300 * ((((pos - dictStart) & litPosMask) << lc) + (prev >>> lcShift));
        sym = 1;
        if (state >= 7) {
          // "After a match the literal is coded relative to the byte at
          // rep0 (matchByte): while the decoded bits equal matchByte's bits,
          // probabilities 0x100 + (matchBit << 8) + symbol are used; after
          // the first difference, the plain ones." `offs` is 0x100 while
          // the bits still match and 0 after, so one loop does both.
          let mi = pos - rep0 - 1;
          if (mi < 0) mi += size;
          let mb = out[mi] as number;
          let offs = 0x100;
          do {
            mb <<= 1;
            const mbit = mb & offs;
            k = lbase + offs + mbit + sym;
            p = probs[k] as number;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[k] = p + ((2048 - p) >>> 5);
              sym <<= 1;
              offs &= ~mbit;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[k] = p - (p >>> 5);
              sym = (sym << 1) | 1;
              offs &= mbit;
            }
            if ((range & 0xff000000) === 0) {
              range <<= 8;
              code = (code << 8) | (inp[ip++] as number);
            }
          } while (sym < 0x100);
        } else {
          do {
            k = lbase + sym;
            p = probs[k] as number;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[k] = p + ((2048 - p) >>> 5);
              sym <<= 1;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[k] = p - (p >>> 5);
              sym = (sym << 1) | 1;
            }
            if ((range & 0xff000000) === 0) {
              range <<= 8;
              code = (code << 8) | (inp[ip++] as number);
            }
          } while (sym < 0x100);
        }
        out[pos++] = sym & 0xff;
        // "UpdateState_Literal: s < 4 ? 0 : s < 10 ? s - 3 : s - 6"
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      range = (range - bound) | 0;
      code = (code - bound) | 0;
      probs[k] = p - (p >>> 5);
      if ((range & 0xff000000) === 0) {
        range <<= 8;
        code = (code << 8) | (inp[ip++] as number);
      }

      // IsRep[state]
      let lenBase: number;
      let isRep: boolean;
      k = IS_REP + state;
      p = probs[k] as number;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[k] = p + ((2048 - p) >>> 5);
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | (inp[ip++] as number);
        }
        // ---- Simple match: "rep3 = rep2; rep2 = rep1; rep1 = rep0; len =
        // LenDecoder; state = s < 7 ? 7 : 10; rep0 = DecodeDistance(len)".
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        state = state < 7 ? 7 : 10;
        lenBase = LEN_CODER;
        isRep = false;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[k] = p - (p >>> 5);
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | (inp[ip++] as number);
        }
        // ---- Rep match. "If the window is empty a rep match is an error."
        if (pos === dictStart) {
          if (ip > inEnd) break; // input overrun: the caller reports it
          this.inPos = ip;
          this.corrupt("LZMA: repeated match before any data");
        }
        // IsRepG0[state]
        k = IS_REP_G0 + state;
        p = probs[k] as number;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[k] = p + ((2048 - p) >>> 5);
          if ((range & 0xff000000) === 0) {
            range <<= 8;
            code = (code << 8) | (inp[ip++] as number);
          }
          // IsRep0Long[state][posState]
          k = IS_REP0_LONG + (state << 4) + posState;
          p = probs[k] as number;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[k] = p + ((2048 - p) >>> 5);
            if ((range & 0xff000000) === 0) {
              range <<= 8;
              code = (code << 8) | (inp[ip++] as number);
            }
            // "Short rep: one byte from distance rep0; state = s < 7 ? 9 : 11"
            if (rep0 >= pos - dictStart || rep0 >= size) {
              if (ip > inEnd) break; // input overrun: the caller reports it
              this.inPos = ip;
              this.corrupt("LZMA: match distance beyond the dictionary");
            }
            state = state < 7 ? 9 : 11;
            const si = pos - rep0 - 1;
            out[pos] = out[si < 0 ? si + size : si] as number;
            pos++;
            continue;
          }
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[k] = p - (p >>> 5);
          if ((range & 0xff000000) === 0) {
            range <<= 8;
            code = (code << 8) | (inp[ip++] as number);
          }
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[k] = p - (p >>> 5);
          if ((range & 0xff000000) === 0) {
            range <<= 8;
            code = (code << 8) | (inp[ip++] as number);
          }
          let dist: number;
          // IsRepG1[state]
          k = IS_REP_G1 + state;
          p = probs[k] as number;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[k] = p + ((2048 - p) >>> 5);
            if ((range & 0xff000000) === 0) {
              range <<= 8;
              code = (code << 8) | (inp[ip++] as number);
            }
            dist = rep1;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[k] = p - (p >>> 5);
            if ((range & 0xff000000) === 0) {
              range <<= 8;
              code = (code << 8) | (inp[ip++] as number);
            }
            // IsRepG2[state]
            k = IS_REP_G2 + state;
            p = probs[k] as number;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[k] = p + ((2048 - p) >>> 5);
              if ((range & 0xff000000) === 0) {
                range <<= 8;
                code = (code << 8) | (inp[ip++] as number);
              }
              dist = rep2;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[k] = p - (p >>> 5);
              if ((range & 0xff000000) === 0) {
                range <<= 8;
                code = (code << 8) | (inp[ip++] as number);
              }
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        // "UpdateState_Rep: s < 7 ? 8 : 11"
        state = state < 7 ? 8 : 11;
        lenBase = REP_LEN_CODER;
        isRep = true;
      }

      // ---- Length: "Choice 0 -> 3-bit LowCoder[posState] (0-7); Choice2 0 ->
      // 3-bit MidCoder[posState] (8-15); else 8-bit HighCoder (16-271)".
      k = lenBase;
      p = probs[k] as number;
      bound = Math.imul(range >>> 11, p);
      let treeBase: number;
      let treeBits: number;
      let lenOffset: number;
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[k] = p + ((2048 - p) >>> 5);
        treeBase = lenBase + LEN_LOW + (posState << 3);
        treeBits = 3;
        lenOffset = 0;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[k] = p - (p >>> 5);
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | (inp[ip++] as number);
        }
        k = lenBase + LEN_CHOICE2;
        p = probs[k] as number;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[k] = p + ((2048 - p) >>> 5);
          treeBase = lenBase + LEN_MID + (posState << 3);
          treeBits = 3;
          lenOffset = 8;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[k] = p - (p >>> 5);
          treeBase = lenBase + LEN_HIGH;
          treeBits = 8;
          lenOffset = 16;
        }
      }
      if ((range & 0xff000000) === 0) {
        range <<= 8;
        code = (code << 8) | (inp[ip++] as number);
      }
      sym = 1;
      const treeEnd = 1 << treeBits;
      do {
        k = treeBase + sym;
        p = probs[k] as number;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[k] = p + ((2048 - p) >>> 5);
          sym <<= 1;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[k] = p - (p >>> 5);
          sym = (sym << 1) | 1;
        }
        if ((range & 0xff000000) === 0) {
          range <<= 8;
          code = (code << 8) | (inp[ip++] as number);
        }
      } while (sym < treeEnd);
      len = sym - treeEnd + lenOffset;

      if (!isRep) {
        // ---- Distance. "lenState = min(len, 3); posSlot = 6-bit tree
        // PosSlot[lenState]; if posSlot < 4 dist = posSlot; else
        // numDirectBits = (posSlot >> 1) - 1, dist = (2 | (posSlot & 1)) <<
        // numDirectBits; if posSlot < 14 dist += reverse tree
        // PosDecoders[dist - posSlot], else dist += direct bits
        // (numDirectBits - 4) << 4 plus the 4-bit reverse AlignDecoder."
        const treeB = POS_SLOT + ((len < 3 ? len : 3) << 6);
        sym = 1;
        do {
          k = treeB + sym;
          p = probs[k] as number;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[k] = p + ((2048 - p) >>> 5);
            sym <<= 1;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[k] = p - (p >>> 5);
            sym = (sym << 1) | 1;
          }
          if ((range & 0xff000000) === 0) {
            range <<= 8;
            code = (code << 8) | (inp[ip++] as number);
          }
        } while (sym < 64);
        const slot = sym - 64;
        if (slot < 4) {
          rep0 = slot;
        } else {
          const nBits = (slot >>> 1) - 1;
          let dist = ((2 | (slot & 1)) << nBits) >>> 0;
          if (slot < 14) {
            const rb = SPEC_POS + dist - slot;
            let m = 1;
            for (let i = 0; i < nBits; i++) {
              k = rb + m;
              p = probs[k] as number;
              bound = Math.imul(range >>> 11, p);
              if (code >>> 0 < bound >>> 0) {
                range = bound;
                probs[k] = p + ((2048 - p) >>> 5);
                m <<= 1;
              } else {
                range = (range - bound) | 0;
                code = (code - bound) | 0;
                probs[k] = p - (p >>> 5);
                m = (m << 1) | 1;
                dist += 1 << i;
              }
              if ((range & 0xff000000) === 0) {
                range <<= 8;
                code = (code << 8) | (inp[ip++] as number);
              }
            }
          } else {
            let direct = 0;
            for (let i = nBits - 4; i > 0; i--) {
              range = range >>> 1;
              if (code >>> 0 >= range) {
                code = (code - range) | 0;
                direct = (direct << 1) | 1;
              } else {
                direct <<= 1;
              }
              if ((range & 0xff000000) === 0) {
                range <<= 8;
                code = (code << 8) | (inp[ip++] as number);
              }
            }
            dist += direct * 16;
            let m = 1;
            for (let i = 0; i < 4; i++) {
              k = ALIGN + m;
              p = probs[k] as number;
              bound = Math.imul(range >>> 11, p);
              if (code >>> 0 < bound >>> 0) {
                range = bound;
                probs[k] = p + ((2048 - p) >>> 5);
                m <<= 1;
              } else {
                range = (range - bound) | 0;
                code = (code - bound) | 0;
                probs[k] = p - (p >>> 5);
                m = (m << 1) | 1;
                dist += 1 << i;
              }
              if ((range & 0xff000000) === 0) {
                range <<= 8;
                code = (code << 8) | (inp[ip++] as number);
              }
            }
          }
          if (dist === 0xffffffff) {
            // End-of-payload marker: nothing is copied (and rep0 keeps a
            // small-integer value).
            this.finished = true;
            len = 0;
            break;
          }
          rep0 = dist;
        }
      }

      // ---- Copy len + 2 bytes ("kMatchMinLen = 2") from distance rep0 + 1.
      if (rep0 >= pos - dictStart || rep0 >= size) {
        if (ip > inEnd) break; // input overrun: the caller reports it
        this.inPos = ip;
        this.corrupt("LZMA: match distance beyond the dictionary");
      }
      len += 2;
      let src = pos - rep0 - 1;
      let end = pos + len;
      if (end > outLimit) end = outLimit;
      len -= end - pos;
      if (src < 0) {
        // Circular window: the source starts before out[0], i.e. near the
        // end of the buffer. Copy up to the buffer's end (the source lies
        // after pos, so nothing copied is read again), then go on from 0.
        src += size;
        const first = size - src;
        if (first < end - pos) {
          out.copyWithin(pos, src, size);
          pos += first;
          src = 0;
        }
      }
      const n = end - pos;
      if (n > 64 && (src + n <= pos || src >= pos)) {
        out.copyWithin(pos, src, src + n);
        pos = end;
      } else if (rep0 === 0 && n > 16) {
        // Distance 1: a run of one byte.
        out.fill(out[src] as number, pos, end);
        pos = end;
      } else {
        while (pos < end) out[pos++] = out[src++] as number;
      }
    }

    this.range = range;
    this.code = code;
    this.inPos = ip;
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    this.pendingLen = len;
    return pos;
  }

  // -------------------------------------------------------------------------
  // Slow path: decode one symbol that must be the end marker. Used when the
  // output is already complete (a .lzma file with a known size whose end
  // marker follows anyway, or a stream that reached the output cap and must
  // show whether it ends there).
  // -------------------------------------------------------------------------

  private bit(inp: Uint8Array, k: number): number {
    const probs = this.probs;
    const p = probs[k] as number;
    let range = this.range >>> 0;
    let code = this.code >>> 0;
    const bound = (range >>> 11) * p;
    let bit: number;
    if (code < bound) {
      range = bound;
      probs[k] = p + ((2048 - p) >>> 5);
      bit = 0;
    } else {
      range -= bound;
      code -= bound;
      probs[k] = p - (p >>> 5);
      bit = 1;
    }
    if (range < TOP) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | (inp[this.inPos++] as number)) >>> 0;
    }
    this.range = range | 0;
    this.code = code | 0;
    return bit;
  }

  private tree(inp: Uint8Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(inp, base + m);
    return m - (1 << bits);
  }

  private reverseTree(inp: Uint8Array, base: number, bits: number): number {
    let m = 1;
    let r = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(inp, base + m);
      m = (m << 1) | b;
      r |= b << i;
    }
    return r;
  }

  /**
   * Decodes the next symbol at output position `pos` without producing
   * output. Returns true if it is the end-of-payload marker, false if it is
   * a literal or a real match (i.e. the stream has more data). Call only at a
   * symbol boundary with no {@link pendingLen}.
   */
  decodeEndMarker(inp: Uint8Array, pos: number): boolean {
    const posState = (pos - this.dictStart) & this.posMask;
    if (this.bit(inp, IS_MATCH + (this.state << 4) + posState) === 0) return false;
    if (this.bit(inp, IS_REP + this.state) === 1) return false;
    let len: number;
    if (this.bit(inp, LEN_CODER) === 0) len = this.tree(inp, LEN_CODER + LEN_LOW + (posState << 3), 3);
    else if (this.bit(inp, LEN_CODER + LEN_CHOICE2) === 0) len = 8 + this.tree(inp, LEN_CODER + LEN_MID + (posState << 3), 3);
    else len = 16 + this.tree(inp, LEN_CODER + LEN_HIGH, 8);
    const slot = this.tree(inp, POS_SLOT + ((len < 3 ? len : 3) << 6), 6);
    // Only slot 63 can produce 0xFFFFFFFF.
    if (slot !== 63) return false;
    let direct = 0;
    let range = this.range >>> 0;
    let code = this.code >>> 0;
    for (let i = 26; i > 0; i--) {
      range = range >>> 1;
      let b = 0;
      if (code >= range) {
        code -= range;
        b = 1;
      }
      direct = direct * 2 + b;
      if (range < TOP) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | (inp[this.inPos++] as number)) >>> 0;
      }
    }
    this.range = range | 0;
    this.code = code | 0;
    const align = this.reverseTree(inp, ALIGN, 4);
    if (direct !== 0x3ffffff || align !== 15) return false;
    this.finished = true;
    return true;
  }
}

// ---------------------------------------------------------------------------
// Streaming: the circular dictionary window and the input pump shared by the
// `.xz` and `.lzma` streaming decoders.
// ---------------------------------------------------------------------------

/**
 * "LZMA_IN_REQUIRED" (xz-embedded): the most input one LZMA symbol can take,
 * 21 bytes. A streaming decoder that has not seen the end of its input only
 * starts a symbol while at least this many bytes are available, so the range
 * coder never reads bytes that have not arrived yet.
 */
export const LZMA_IN_REQUIRED = 21;

/**
 * The dictionary of a streaming LZMA/LZMA2 decoder: a circular buffer as long
 * as the window (the dictionary size, rounded up to a multiple of 16), which
 * {@link LzmaDecoder.run} decodes into directly. Decoded bytes are delivered
 * (as fresh copies the receiver owns, at most `emitMax` at a time) before the
 * circle wraps over them; nothing else is buffered.
 *
 * The buffer starts small and grows (four times at a step up to 4 MiB, or
 * at once to the expected output size when the caller knows it) up to the
 * window's length, so a small stream never allocates its whole dictionary.
 * Memory: one window, plus the chunk being delivered.
 */
export class LzmaWindow {
  /** The circular buffer; `buf.length` is the circle once it has grown to the window. */
  buf: Uint8Array = new Uint8Array(0);
  /** Next output position in {@link buf}. */
  pos = 0;
  /** Deliver at most this many bytes at once. */
  emitMax: number;
  /** Deliver views of the circle (valid until the next decode) instead of fresh copies. */
  views = false;
  /** Start of the decoded bytes not delivered yet. */
  private from = 0;
  /** The circle's length: the largest window asked for (rounded up to 16). */
  private cap = 16;
  /** The expected output size, if known: the first allocation's size (within the window). */
  private readonly hint: number;
  private readonly deliver: (bytes: Uint8Array) => void;

  /**
   * @param deliver - receives every decoded byte once, in order, as a fresh array (or a view, see {@link LzmaWindow.views})
   * @param emitMax - the most bytes per delivery (at least 16)
   * @param hint - the expected output size, if known (a wrong one costs only memory within the window, or time)
   */
  constructor(deliver: (bytes: Uint8Array) => void, emitMax: number, hint = 0) {
    this.deliver = deliver;
    this.emitMax = Math.max(16, emitMax);
    this.hint = Math.ceil(Math.max(0, Math.min(hint, 2 ** 32)) / 16) * 16;
  }

  /**
   * A dictionary reset: delivers what is pending and starts over at position
   * 0 with no history, for a window of `window` bytes (the circle grows to
   * the largest window asked for and never shrinks).
   */
  reset(window: number, dec: LzmaDecoder): void {
    this.flush();
    this.pos = 0;
    this.from = 0;
    dec.dictStart = 0;
    const want = Math.max(16, Math.ceil(window / 16) * 16);
    if (want > this.cap) this.cap = want;
  }

  /** Delivers the decoded bytes not delivered yet. */
  flush(): void {
    if (this.pos > this.from) {
      const bytes = this.views ? this.buf.subarray(this.from, this.pos) : this.buf.slice(this.from, this.pos);
      this.from = this.pos;
      this.deliver(bytes);
    }
  }

  /** Called when `pos` reached the end of the buffer: grow it, or deliver and wrap to 0. */
  private room(dec: LzmaDecoder): void {
    const buf = this.buf;
    if (buf.length < this.cap) {
      // Each step copies what was decoded and touches new pages: grow four
      // times at a step up to 4 MiB, then (a stream that big is likely to
      // fill its window) to the whole window; or at once to the size the
      // caller expects. Pages are resident only once written.
      let size: number;
      if (buf.length < this.hint) {
        size = Math.max(this.hint, 1 << 16);
      } else {
        size = Math.max(buf.length * 4, 1 << 16);
        if (size >= 1 << 22) size = this.cap;
      }
      const next = new Uint8Array(Math.min(this.cap, size));
      next.set(buf.subarray(0, this.pos));
      this.buf = next;
      return;
    }
    this.flush();
    this.pos = 0;
    this.from = 0;
    // The whole circle is history now (see LzmaDecoder.dictStart).
    dec.dictStart = -buf.length;
  }

  /** Room for the next bytes at `pos`: the number that may be written there now (at least 1). */
  private span(dec: LzmaDecoder, want: number): number {
    if (this.pos === this.buf.length) this.room(dec);
    if (this.pos - this.from >= this.emitMax) this.flush();
    return Math.min(want, this.buf.length - this.pos, this.from + this.emitMax - this.pos);
  }

  /**
   * Decodes up to `n` bytes with `dec` from `inp` (symbols start only while
   * `dec.inPos <= inLimit`; `inEnd` is the end of the bytes at hand, see
   * {@link LzmaDecoder.run}); returns how many were decoded. Fewer than `n`
   * when the input limit was passed or the end marker was decoded: the
   * caller looks at `dec.inPos` and `dec.finished`.
   */
  decode(dec: LzmaDecoder, inp: Uint8Array, inLimit: number, n: number, inEnd: number = inLimit): number {
    let left = n;
    while (left > 0) {
      const room = this.span(dec, left);
      const start = this.pos;
      const lim = start + room;
      const reached = dec.run(inp, inLimit, this.buf, start, lim, inEnd);
      this.pos = reached;
      left -= reached - start;
      if (reached < lim) break;
    }
    return n - left;
  }

  /** Appends bytes (an LZMA2 uncompressed chunk): they are dictionary content too. */
  write(src: Uint8Array, dec: LzmaDecoder): void {
    let at = 0;
    while (at < src.length) {
      const n = this.span(dec, src.length - at);
      this.buf.set(src.subarray(at, at + n), this.pos);
      this.pos += n;
      at += n;
    }
  }
}

/**
 * Input handling shared by the streaming `.xz` and `.lzma` decoders: input
 * arrives in chunks of any size; the decoder parses whole units (a header, an
 * LZMA2 chunk, an LZMA symbol with its 21-byte margin) straight from each
 * chunk and copies only an incomplete unit at the end of a chunk into a small
 * pending buffer, which is topped up from the next chunk just enough to
 * complete it. So at most one unit of input (an LZMA2 chunk: 64 KiB + 6) is
 * ever held.
 *
 * A subclass implements {@link pump}: parse `v[p, e)`, return where it
 * stopped, and set {@link want} to the bytes it needs from there to go on
 * (or, when `final`, throw `truncated`).
 */
export abstract class StreamInput {
  /** Bytes the parser needs from its current position to make progress. */
  protected want = 1;
  /** Absolute offset (from the first byte written) of the next byte to parse. */
  protected at = 0;
  /** Offset from the first byte written of `v[0]` during {@link pump}. */
  protected vBase = 0;
  /** Bytes written so far. */
  protected written = 0;
  /** Set once the end of the stream was decoded and verified. */
  protected done = false;
  /** Set by `end()`. */
  protected ended = false;
  private pend: Uint8Array = new Uint8Array(64);
  private pendLen = 0;

  /**
   * Parses `v[p, e)`; returns the position it stopped at. When it stops
   * because a unit is incomplete it sets {@link want}; when `final` (no
   * more input after `e`) it throws `truncated` instead.
   */
  protected abstract pump(v: Uint8Array, p: number, e: number, final: boolean): number;

  /** How many bytes to gather in the pending buffer before parsing it: at least {@link want}. */
  protected gather(): number {
    return this.want;
  }

  private pumpAt(v: Uint8Array, p: number, e: number, final: boolean): number {
    this.vBase = this.at - p;
    const q = this.pump(v, p, e, final);
    this.at = this.vBase + q;
    return q;
  }

  private append(bytes: Uint8Array): void {
    const need = this.pendLen + bytes.length;
    if (need > this.pend.length) {
      let size = this.pend.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.pend.subarray(0, this.pendLen));
      this.pend = next;
    }
    this.pend.set(bytes, this.pendLen);
    this.pendLen = need;
  }

  /** Feeds the next chunk of input (see {@link StreamDecoder.write}). */
  write(chunk: Uint8Array): void {
    if (this.done || this.ended) return;
    this.written += chunk.length;
    const n = chunk.length;
    let c = 0;
    while (c < n && !this.done) {
      if (this.pendLen === 0) {
        c = this.pumpAt(chunk, c, n, false);
        if (!this.done && c < n) this.append(chunk.subarray(c, n));
        return;
      }
      const old = this.pendLen;
      const take = Math.min(Math.max(this.want, this.gather()) - old, n - c);
      this.append(chunk.subarray(c, c + take));
      if (this.pendLen < this.want) {
        c += take;
        continue;
      }
      const used = this.pumpAt(this.pend, 0, this.pendLen, false);
      if (used >= old) {
        // Everything held before is consumed: the rest of what was copied
        // is still in `chunk`, where parsing goes on.
        c += used - old;
        this.pendLen = 0;
      } else {
        this.pend.copyWithin(0, used, this.pendLen);
        this.pendLen -= used;
        c += take;
      }
    }
  }

  /** No more input (see {@link StreamDecoder.end}). */
  end(): void {
    if (this.done) return;
    this.ended = true;
    const v = this.pend.subarray(0, this.pendLen);
    this.pendLen = 0;
    this.pumpAt(v, 0, v.length, true);
  }
}
