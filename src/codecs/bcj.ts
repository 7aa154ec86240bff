/**
 * Branch/Call/Jump (BCJ) filter decoders for `.xz`: they turn the absolute
 * branch targets the encoder wrote back into the relative ones of the
 * original machine code. Each decoder works in place over a buffer of
 * decoded bytes, with `buf[0]` at position `start` (the filter's start offset
 * plus the bytes already filtered), and returns how many bytes at the front
 * are final: the rest (fewer than the filter's lookahead, at most 15 bytes)
 * may still hold the start of an instruction and must be filtered again
 * together with the bytes that follow, as liblzma's simple coder does. Over a
 * whole block (one-shot) the return value is simply ignored: at the end of a
 * block those last bytes stay as they are. {@link BcjStream} does the
 * carrying for streaming decoders, so both produce exactly what xz does.
 *
 * From the xz file format spec (5.3.2): "These filters convert relative
 * branch, call, and jump instructions to their absolute counterparts in
 * executable files ... Size of Filter Properties: 0 or 4 bytes ... If the
 * size of Filter Properties is four bytes, the Filter Properties field
 * contains the start offset used for address conversions. It is stored as
 * an unsigned 32-bit little endian integer."
 *
 *     Filter ID   Alignment   Description
 *       0x04       1 byte     x86 filter (BCJ)
 *       0x05       4 bytes    PowerPC (big endian) filter
 *       0x06      16 bytes    IA64 filter
 *       0x07       4 bytes    ARM (little endian) filter
 *       0x08       2 bytes    ARM Thumb (little endian) filter
 *       0x09       4 bytes    SPARC filter
 *       0x0A       4 bytes    ARM64 filter          (spec 1.1.0 / xz 5.4)
 *       0x0B       2 bytes    RISC-V filter         (spec 1.2.0 / xz 5.6)
 *
 * All address arithmetic is modulo 2^32 (`>>> 0`), as in the C filters'
 * uint32_t. The algorithms are those of the xz filters (their comments are
 * quoted beside the code); the code is written independently.
 *
 * @module
 */

/** Filter IDs of the BCJ filters, by name. */
export const BCJ_FILTERS = {
  x86: 0x04,
  powerpc: 0x05,
  ia64: 0x06,
  arm: 0x07,
  armthumb: 0x08,
  sparc: 0x09,
  arm64: 0x0a,
  riscv: 0x0b,
} as const;

/**
 * Alignment of each BCJ filter (spec table above); liblzma refuses a start
 * offset that is not a multiple of it ("Unsupported options").
 */
export const BCJ_ALIGNMENT: ReadonlyMap<number, number> = new Map([
  [0x04, 1],
  [0x05, 4],
  [0x06, 16],
  [0x07, 4],
  [0x08, 2],
  [0x09, 4],
  [0x0a, 4],
  [0x0b, 2],
]);

/** Name of a BCJ filter. */
export type BcjFilter = keyof typeof BCJ_FILTERS;

/**
 * The state the x86 filter carries from one buffer to the next (the other
 * filters have none): liblzma's `prev_mask`, and `prev_pos` as the position
 * of the last E8/E9 relative to the next buffer's first byte (at most -5 ...
 * -1; further back it makes no difference).
 */
export interface BcjState {
  /** `prev_mask`. */
  mask: number;
  /** `prev_pos`, relative to the next buffer's first byte. */
  prev: number;
}

/**
 * An in-place BCJ decoder: `buf[0]` is at position `start` (mod 2^32).
 * Returns the number of bytes at the front that are final; `state` (x86
 * only) carries the filter's state into the next call.
 */
export type BcjDecoder = (buf: Uint8Array, start?: number, state?: BcjState) => number;

/** "Test86MSByte(b): b == 0 || b == 0xFF" — the top byte of a plausible rel32. */
function isMsByte(b: number): boolean {
  return b === 0 || b === 0xff;
}

/**
 * x86 (ID 0x04): converts the rel32 of E8 (CALL) and E9 (JMP) when its most
 * significant byte is 0x00 or 0xFF. State across positions: `prev_mask`, a
 * bit history of E8/E9 bytes seen in the last bytes, which blocks
 * conversions inside what is probably an earlier instruction's operand.
 *
 * Facts (liblzma x86.c): "MASK_TO_ALLOWED_STATUS = {1,1,1,0,1,0,0,0};
 * MASK_TO_BIT_NUMBER = {0,1,2,2,3,3,3,3}; prev_pos starts at -5; for each
 * E8/E9 at buffer_pos <= size - 5: offset = pos - prev_pos; prev_pos = pos;
 * if offset > 5 prev_mask = 0 else repeat offset times { prev_mask &= 0x77;
 * prev_mask <<= 1 }. If Test86MSByte(b4) and ALLOWED[(prev_mask >> 1) & 7]
 * and (prev_mask >> 1) < 0x10: loop { dest = src - (pos + 5); if prev_mask
 * == 0 break; i = BIT_NUMBER[prev_mask >> 1]; b = dest >> (24 - 8i); if
 * !Test86MSByte(b) break; src = dest ^ ((1 << (32 - 8i)) - 1) }; write
 * dest with byte 4 = ~(((dest >> 24) & 1) - 1); skip 5; prev_mask = 0.
 * Else: advance 1; prev_mask |= 1; if Test86MSByte(b4) prev_mask |= 0x10."
 */
export function x86Decode(buf: Uint8Array, start = 0, state?: BcjState): number {
  const size = buf.length;
  // "if (size < 5) return 0;" (the state is left as it is)
  if (size < 5) return 0;
  const limit = size - 5;
  let mask = state === undefined ? 0 : state.mask;
  let prev = state === undefined ? -5 : state.prev;
  let i = 0;
  // Fast skip: most bytes are not E8/E9, so whole aligned 32-bit words
  // without such a byte are skipped at once (x = (w & 0xFEFEFEFE) ^
  // 0xE8E8E8E8 has a zero byte exactly where w has E8/E9; the test is
  // independent of byte order). Skipping non-candidates changes no state.
  const head = (4 - (buf.byteOffset & 3)) & 3;
  const words = size > head + 64 ? new Uint32Array(buf.buffer, buf.byteOffset + head, (size - head) >>> 2) : null;
  const nWords = words === null ? 0 : words.length;
  while (i <= limit) {
    if (((buf[i] as number) & 0xfe) !== 0xe8) {
      i++;
      if (words !== null && i >= head && ((i - head) & 3) === 0) {
        let w = (i - head) >>> 2;
        while (w < nWords) {
          const x = ((words[w] as number) & 0xfefefefe) ^ 0xe8e8e8e8;
          if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
          w++;
        }
        i = head + (w << 2);
      }
      continue;
    }
    const offset = i - prev;
    prev = i;
    if (offset > 5) mask = 0;
    else for (let j = 0; j < offset; j++) mask = (mask & 0x77) << 1;

    const b4 = buf[i + 4] as number;
    const hist = mask >>> 1;
    if (isMsByte(b4) && (hist & 7) !== 3 && (hist & 7) < 5 && hist < 0x10) {
      // src and dest are held as int32 bit patterns (the same bits as uint32, and never a double,
      // so the optimized code needs no conversion: a uint32 above 2^31 deoptimized it, "lost precision").
      let src = (b4 << 24) | ((buf[i + 3] as number) << 16) | ((buf[i + 2] as number) << 8) | (buf[i + 1] as number);
      const here = start + i + 5;
      let dest: number;
      for (;;) {
        dest = (src - here) | 0;
        if (mask === 0) break;
        const h = mask >>> 1;
        const bitNo = h >= 4 ? 3 : h >= 2 ? 2 : h; // {0,1,2,2,3,3,3,3}[h]
        if (!isMsByte((dest >>> (24 - bitNo * 8)) & 0xff)) break;
        // dest ^ ((1 << (32 - 8 * bitNo)) - 1), as int32 operands (2 ** 32 - 1 would be a double).
        src = dest ^ (bitNo === 0 ? -1 : (1 << (32 - bitNo * 8)) - 1);
      }
      buf[i + 4] = dest & 0x01000000 ? 0xff : 0x00;
      buf[i + 3] = dest >>> 16;
      buf[i + 2] = dest >>> 8;
      buf[i + 1] = dest;
      i += 5;
      mask = 0;
    } else {
      i++;
      mask |= 1;
      if (isMsByte(b4)) mask |= 0x10;
    }
  }
  if (state !== undefined) {
    // "if (now_pos - prev_pos > 5) prev_pos = now_pos - 5": an E8/E9 more
    // than five bytes back clears the mask anyway.
    state.mask = mask;
    state.prev = Math.max(prev - i, -5);
  }
  return i;
}

/**
 * PowerPC big endian (ID 0x05): "for each aligned 4-byte word: if
 * (b0 >> 2) == 0x12 and (b3 & 3) == 1 (a `bl`), the 24-bit field
 * src = ((b0 & 3) << 24) | (b1 << 16) | (b2 << 8) | (b3 & ~3) becomes
 * dest = src - (now_pos + i), written back as 0x48 | ((dest >> 24) & 3),
 * dest >> 16, dest >> 8, (b3 & 3) | (uint8_t)dest".
 */
export function powerpcDecode(buf: Uint8Array, start = 0): number {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    const b0 = buf[i] as number;
    const b3 = buf[i + 3] as number;
    if (b0 >>> 2 !== 0x12 || (b3 & 3) !== 1) continue;
    const src = (((b0 & 3) << 24) | ((buf[i + 1] as number) << 16) | ((buf[i + 2] as number) << 8) | (b3 & 0xfc)) >>> 0;
    const dest = (src - (start + i)) >>> 0;
    buf[i] = 0x48 | ((dest >>> 24) & 0x03);
    buf[i + 1] = dest >>> 16;
    buf[i + 2] = dest >>> 8;
    buf[i + 3] = (b3 & 0x03) | (dest & 0xff);
  }
  return i;
}

/**
 * ARM little endian (ID 0x07): "for each aligned word whose byte 3 is 0xEB
 * (BL, condition AL): src = (b2 << 16 | b1 << 8 | b0) << 2; dest = src -
 * (now_pos + i + 8); the 24-bit field becomes dest >> 2".
 */
export function armDecode(buf: Uint8Array, start = 0): number {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    if (buf[i + 3] !== 0xeb) continue;
    const src = (((buf[i + 2] as number) << 16) | ((buf[i + 1] as number) << 8) | (buf[i] as number)) * 4;
    const dest = ((src - (start + i + 8)) >>> 0) >>> 2;
    buf[i] = dest;
    buf[i + 1] = dest >>> 8;
    buf[i + 2] = dest >>> 16;
  }
  return i;
}

/**
 * ARM-Thumb little endian (ID 0x08): "step 2 bytes; if (b1 & 0xF8) == 0xF0
 * and (b3 & 0xF8) == 0xF8 (a BL pair): src = (((b1 & 7) << 19) | (b0 << 11)
 * | ((b3 & 7) << 8) | b2) << 1; dest = (src - (now_pos + i + 4)) >> 1;
 * write b1 = 0xF0 | ((dest >> 19) & 7), b0 = dest >> 11, b3 = 0xF8 |
 * ((dest >> 8) & 7), b2 = dest; then skip the pair (i += 2 extra)".
 */
export function armThumbDecode(buf: Uint8Array, start = 0): number {
  let i = 0;
  for (; i + 4 <= buf.length; i += 2) {
    const b1 = buf[i + 1] as number;
    const b3 = buf[i + 3] as number;
    if ((b1 & 0xf8) !== 0xf0 || (b3 & 0xf8) !== 0xf8) continue;
    const src = (((b1 & 7) << 19) | ((buf[i] as number) << 11) | ((b3 & 7) << 8) | (buf[i + 2] as number)) * 2;
    const dest = ((src - (start + i + 4)) >>> 0) >>> 1;
    buf[i + 1] = 0xf0 | ((dest >>> 19) & 7);
    buf[i] = dest >>> 11;
    buf[i + 3] = 0xf8 | ((dest >>> 8) & 7);
    buf[i + 2] = dest;
    i += 2;
  }
  return i;
}

/**
 * SPARC (ID 0x09): "for each aligned word with b0 == 0x40 and (b1 & 0xC0)
 * == 0, or b0 == 0x7F and (b1 & 0xC0) == 0xC0 (a `call` with a small
 * displacement): src = word << 2; dest = (src - (now_pos + i)) >> 2;
 * dest = (((0 - ((dest >> 22) & 1)) << 22) & 0x3FFFFFFF) | (dest & 0x3FFFFF)
 * | 0x40000000; written big endian".
 */
export function sparcDecode(buf: Uint8Array, start = 0): number {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    const b0 = buf[i] as number;
    const b1 = buf[i + 1] as number;
    if (!((b0 === 0x40 && (b1 & 0xc0) === 0x00) || (b0 === 0x7f && (b1 & 0xc0) === 0xc0))) continue;
    const word = ((b0 << 24) | (b1 << 16) | ((buf[i + 2] as number) << 8) | (buf[i + 3] as number)) >>> 0;
    const src = (word << 2) >>> 0;
    let dest = ((src - (start + i)) >>> 0) >>> 2;
    dest = (((((0 - ((dest >>> 22) & 1)) << 22) & 0x3fffffff) | (dest & 0x3fffff) | 0x40000000) >>> 0);
    buf[i] = dest >>> 24;
    buf[i + 1] = dest >>> 16;
    buf[i + 2] = dest >>> 8;
    buf[i + 3] = dest;
  }
  return i;
}

/** IA-64: which of the three 41-bit slots of a bundle may hold a branch, by template (low 5 bits). */
const IA64_BRANCH_SLOTS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 6, 6, 0, 0, 7, 7, 4, 4, 0, 0, 4, 4, 0, 0];

/**
 * IA-64 / Itanium (ID 0x06): "for each 16-byte bundle, the template
 * (b0 & 0x1F) selects slots via BRANCH_TABLE; for each selected slot at bit
 * 5 + 41 * slot, read 6 bytes little endian, shift right by bit_pos & 7
 * (inst_norm); if ((inst_norm >> 37) & 0xF) == 0x5 and ((inst_norm >> 9) &
 * 7) == 0: src = ((inst_norm >> 13) & 0xFFFFF) | (((inst_norm >> 36) & 1)
 * << 20); dest = ((src << 4) - (now_pos + i)) >> 4; put dest's low 20 bits
 * back at bit 13 and bit 20 at bit 36".
 *
 * The 48-bit instruction is held in a double (exact below 2^53).
 */
export function ia64Decode(buf: Uint8Array, start = 0): number {
  let i = 0;
  for (; i + 16 <= buf.length; i += 16) {
    const slots = IA64_BRANCH_SLOTS[(buf[i] as number) & 0x1f] as number;
    if (slots === 0) continue;
    for (let slot = 0, bitPos = 5; slot < 3; slot++, bitPos += 41) {
      if (((slots >>> slot) & 1) === 0) continue;
      const bytePos = i + (bitPos >>> 3);
      const bitRes = bitPos & 7;
      let instruction = 0;
      for (let j = 5; j >= 0; j--) instruction = instruction * 256 + (buf[bytePos + j] as number);
      const lowPart = instruction % 2 ** bitRes;
      const norm = Math.floor(instruction / 2 ** bitRes);
      const field = (hiShift: number, mask: number): number => Math.floor(norm / 2 ** hiShift) % (mask + 1);
      if (field(37, 0xf) !== 0x5 || field(9, 0x7) !== 0) continue;
      const imm20 = field(13, 0xfffff);
      const sign = field(36, 1);
      const src = ((imm20 | (sign << 20)) << 4) >>> 0;
      const dest = ((src - (start + i)) >>> 0) >>> 4;
      const newNorm = norm - imm20 * 2 ** 13 - sign * 2 ** 36 + (dest & 0xfffff) * 2 ** 13 + ((dest >>> 20) & 1) * 2 ** 36;
      let out = newNorm * 2 ** bitRes + lowPart;
      for (let j = 0; j < 6; j++) {
        buf[bytePos + j] = out % 256;
        out = Math.floor(out / 256);
      }
    }
  }
  return i;
}

/**
 * ARM64 (ID 0x0A): "BL (instr >> 26 == 0x25): the full 26-bit immediate is
 * converted: instr = 0x94000000 | ((src - (pc >> 2)) & 0x03FFFFFF).
 * ADRP ((instr & 0x9F000000) == 0x90000000): src = ((instr >> 29) & 3) |
 * ((instr >> 3) & 0x001FFFFC); only values in the range +/-512 MiB are
 * converted (skip if (src + 0x00020000) & 0x001C0000); dest = src -
 * (pc >> 12); instr = (instr & 0x9000001F) | ((dest & 3) << 29) |
 * ((dest & 0x0003FFFC) << 3) | ((0 - (dest & 0x00020000)) & 0x00E00000)".
 */
export function arm64Decode(buf: Uint8Array, start = 0): number {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) {
    const pc = (start + i) >>> 0;
    let instr = ((buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24)) >>> 0;
    if (instr >>> 26 === 0x25) {
      instr = (0x94000000 | ((instr - (pc >>> 2)) & 0x03ffffff)) >>> 0;
    } else if ((instr & 0x9f000000) >>> 0 === 0x90000000) {
      const src = ((instr >>> 29) & 3) | ((instr >>> 3) & 0x001ffffc);
      if ((src + 0x00020000) & 0x001c0000) continue;
      const dest = (src - (pc >>> 12)) >>> 0;
      instr = ((instr & 0x9000001f) | ((dest & 3) << 29) | ((dest & 0x0003fffc) << 3) | ((0 - (dest & 0x00020000)) & 0x00e00000)) >>> 0;
    } else {
      continue;
    }
    buf[i] = instr;
    buf[i + 1] = instr >>> 8;
    buf[i + 2] = instr >>> 16;
    buf[i + 3] = instr >>> 24;
  }
  return i;
}

function read32le(buf: Uint8Array, i: number): number {
  return ((buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24)) >>> 0;
}

function write32le(buf: Uint8Array, i: number, v: number): void {
  buf[i] = v;
  buf[i + 1] = v >>> 8;
  buf[i + 2] = v >>> 16;
  buf[i + 3] = v >>> 24;
}

/**
 * RISC-V (ID 0x0B, xz 5.6). Facts from liblzma riscv.c's description:
 *
 * - "The loop is advanced by 2 bytes every iteration since the instruction
 *   stream may include 16-bit instructions (C extension)"; the last 8 bytes
 *   are never the start of a conversion ("if size < 8 return; size -= 8;
 *   for i <= size").
 * - JAL (byte 0 == 0xEF) with rd = x1 or x5 ("(b1 & 0x0D) == 0"): the
 *   encoder stores the absolute address, bits [20:1], big endian in
 *   b1[7:4] (bits 20:17), b2 (16:9), b3 (8:1); the decoder computes
 *   addr = (((b1 & 0xF0) << 13) | (b2 << 9) | (b3 << 1)) - pc and puts it
 *   back in J-type order: b1 = (b1 & 0x0F) | ((addr >> 8) & 0xF0),
 *   b2 = ((addr >> 16) & 0x0F) | ((addr >> 7) & 0x10) | ((addr << 4) & 0xE0),
 *   b3 = ((addr >> 4) & 0x7F) | ((addr >> 13) & 0x80); then skip 4 bytes.
 * - AUIPC ((inst & 0x7F) == 0x17) with rd not x0/x2 ("inst & 0xE80"): it is
 *   a "fake" pair unless NOT_AUIPC_PAIR = ((inst << 8) ^ (inst2 - 3)) &
 *   0xF8003 (skip 6 bytes if not a pair); a fake pair is re-encoded as
 *   inst = 0x17 | (2 << 7) | (inst2 << 12), inst2 = (inst & 0xFFFFF000) +
 *   (inst2 >> 20).
 * - AUIPC with rd x0/x2: the encoder's special format when not
 *   NOT_SPECIAL_AUIPC = ((inst - 0x3117) << 18) >= (inst2_rs1 & 0x1D) with
 *   inst2_rs1 = inst >> 27 (skip 4 bytes otherwise); then addr = big-endian
 *   word at i + 4, minus pc; inst2 = (inst >> 12) | (addr << 20);
 *   inst = 0x17 | (inst2_rs1 << 7) | ((addr + 0x800) & 0xFFFFF000).
 * - "Both decoder branches write in little endian order", then skip 8.
 *
 * The local xz (5.4.1) has no RISC-V filter; this is tested against
 * hand-computed examples and an encoder written from the same description.
 */
export function riscvDecode(buf: Uint8Array, start = 0): number {
  if (buf.length < 8) return 0;
  const last = buf.length - 8;
  let i = 0;
  for (; i <= last; i += 2) {
    let inst = buf[i] as number;
    if (inst === 0xef) {
      const b1 = buf[i + 1] as number;
      if ((b1 & 0x0d) !== 0) continue;
      const b2 = buf[i + 2] as number;
      const b3 = buf[i + 3] as number;
      const addr = ((((b1 & 0xf0) << 13) | (b2 << 9) | (b3 << 1)) - (start + i)) >>> 0;
      buf[i + 1] = (b1 & 0x0f) | ((addr >>> 8) & 0xf0);
      buf[i + 2] = ((addr >>> 16) & 0x0f) | ((addr >>> 7) & 0x10) | ((addr << 4) & 0xe0);
      buf[i + 3] = ((addr >>> 4) & 0x7f) | ((addr >>> 13) & 0x80);
      i += 2;
    } else if ((inst & 0x7f) === 0x17) {
      inst = read32le(buf, i);
      let inst2: number;
      if (inst & 0xe80) {
        inst2 = read32le(buf, i + 4);
        if (((inst << 8) ^ (inst2 - 3)) & 0xf8003) {
          i += 4;
          continue;
        }
        const addr = ((inst & 0xfffff000) + (inst2 >>> 20)) >>> 0;
        inst = (0x17 | (2 << 7) | (inst2 << 12)) >>> 0;
        inst2 = addr;
      } else {
        const rs1 = inst >>> 27;
        if (((inst - 0x3117) << 18) >>> 0 >= (rs1 & 0x1d)) {
          i += 2;
          continue;
        }
        const be = (((buf[i + 4] as number) << 24) | ((buf[i + 5] as number) << 16) | ((buf[i + 6] as number) << 8) | (buf[i + 7] as number)) >>> 0;
        const addr = (be - (start + i)) >>> 0;
        inst2 = ((inst >>> 12) | (addr << 20)) >>> 0;
        inst = (0x17 | (rs1 << 7) | ((addr + 0x800) & 0xfffff000)) >>> 0;
      }
      write32le(buf, i, inst);
      write32le(buf, i + 4, inst2);
      i += 6;
    }
  }
  return i;
}

/** The decoder of each BCJ filter ID. */
export const BCJ_DECODERS: ReadonlyMap<number, BcjDecoder> = new Map<number, BcjDecoder>([
  [BCJ_FILTERS.x86, x86Decode],
  [BCJ_FILTERS.powerpc, powerpcDecode],
  [BCJ_FILTERS.ia64, ia64Decode],
  [BCJ_FILTERS.arm, armDecode],
  [BCJ_FILTERS.armthumb, armThumbDecode],
  [BCJ_FILTERS.sparc, sparcDecode],
  [BCJ_FILTERS.arm64, arm64Decode],
  [BCJ_FILTERS.riscv, riscvDecode],
]);

/**
 * Delta filter decoder (ID 0x03), in place: "distance = props + 1 (1-256);
 * tmp = byte + delta[distance back]" — i.e. each byte adds the decoded byte
 * `distance` positions earlier (zero before the start).
 */
export function deltaDecode(buf: Uint8Array, distance: number): void {
  for (let i = distance; i < buf.length; i++) buf[i] = (buf[i] as number) + (buf[i - distance] as number);
}

/** The most bytes a BCJ decoder leaves unfinished at the end of a buffer, plus one (IA-64 bundles: 16). */
export const BCJ_LOOKAHEAD = 16;

/**
 * One non-last filter of an `.xz` block, applied to a stream of chunks (the
 * streaming decoder's output, in order). {@link ChunkFilter.push} never
 * modifies the chunk it is given (it may be a view of the LZMA dictionary):
 * it copies it into a buffer of its own, filters there, and returns a view
 * of that buffer, valid until the next `push` or `flush`. So a stream of
 * chunks allocates nothing once the buffer has grown to the largest chunk.
 */
export interface ChunkFilter {
  /** Filters the next chunk; returns the bytes that are final now (possibly none), as a view valid until the next call. */
  push(chunk: Uint8Array): Uint8Array;
  /** The end of the block: returns the bytes still held back, unchanged ("the last bytes stay as they are"), as a view valid until the next call. */
  flush(): Uint8Array;
}

/** A filter's own buffer: `buf[0, held)` are bytes held back from the last push, at `buf[from]` until moved to the front. */
class FilterBuffer {
  buf = new Uint8Array(0);
  /** Where the held-back bytes start (they move to the front on the next fill). */
  from = 0;
  /** How many bytes are held back. */
  held = 0;

  /** The held-back bytes, moved to the front, followed by `chunk`: a view of the buffer. */
  fill(chunk: Uint8Array): Uint8Array {
    const held = this.held;
    const n = held + chunk.length;
    if (this.buf.length < n) {
      const next = new Uint8Array(Math.max(n, this.buf.length * 2, 1 << 12));
      next.set(this.buf.subarray(this.from, this.from + held));
      this.buf = next;
    } else if (this.from !== 0 && held > 0) {
      this.buf.copyWithin(0, this.from, this.from + held);
    }
    this.from = 0;
    this.buf.set(chunk, held);
    this.held = 0;
    return this.buf.subarray(0, n);
  }

  /** Holds back `data[done, data.length)` (data is the view {@link fill} returned) for the next fill. */
  holdFrom(data: Uint8Array, done: number): void {
    this.from = done;
    this.held = data.length - done;
  }

  /** The held-back bytes as a view, and nothing held any more. */
  takeHeld(): Uint8Array {
    const out = this.buf.subarray(this.from, this.from + this.held);
    this.from = 0;
    this.held = 0;
    return out;
  }
}

/**
 * A BCJ decoder over a stream of chunks, as liblzma's simple coder runs it:
 * the bytes the filter could not finish (the start of an instruction cut by
 * the end of a chunk, fewer than {@link BCJ_LOOKAHEAD}) are kept and filtered
 * again in front of the next chunk; the position (`now_pos`, from the
 * filter's start offset, modulo 2^32) and the x86 filter's state carry over.
 * The result is byte for byte that of the decoder run once over the whole
 * block.
 */
export class BcjStream implements ChunkFilter {
  private readonly decode: BcjDecoder;
  private pos: number;
  private readonly state: BcjState = { mask: 0, prev: -5 };
  private readonly own = new FilterBuffer();

  /**
   * @param decode - the filter's decoder ({@link BCJ_DECODERS})
   * @param start - the start offset from the filter properties (0 if none)
   */
  constructor(decode: BcjDecoder, start: number) {
    this.decode = decode;
    this.pos = start >>> 0;
  }

  /** {@inheritDoc ChunkFilter.push} */
  push(chunk: Uint8Array): Uint8Array {
    const data = this.own.fill(chunk);
    const done = this.decode(data, this.pos, this.state);
    this.pos = (this.pos + done) >>> 0;
    this.own.holdFrom(data, done);
    return data.subarray(0, done);
  }

  /** {@inheritDoc ChunkFilter.flush} */
  flush(): Uint8Array {
    return this.own.takeHeld();
  }
}

/**
 * The Delta filter over a stream of chunks: each byte adds the decoded byte
 * `distance` positions earlier; the last 256 decoded bytes carry over
 * (liblzma: "buffer[i] += coder->history[(distance + coder->pos) & 0xFF]").
 */
export class DeltaStream implements ChunkFilter {
  private readonly distance: number;
  private readonly history = new Uint8Array(256);
  private at = 0;
  private readonly own = new FilterBuffer();

  /** @param distance - the delta distance, 1-256 (the property byte plus one) */
  constructor(distance: number) {
    this.distance = distance;
  }

  /** {@inheritDoc ChunkFilter.push} (Delta holds nothing back: every byte is final at once.) */
  push(chunk: Uint8Array): Uint8Array {
    const buf = this.own.fill(chunk);
    const d = this.distance;
    const h = this.history;
    const n = buf.length;
    const at = this.at;
    const head = Math.min(d, n);
    for (let i = 0; i < head; i++) buf[i] = (buf[i] as number) + (h[(at + i - d) & 0xff] as number);
    for (let i = d; i < n; i++) buf[i] = (buf[i] as number) + (buf[i - d] as number);
    for (let i = Math.max(0, n - 256); i < n; i++) h[(at + i) & 0xff] = buf[i] as number;
    this.at = (at + n) & 0xff;
    this.own.holdFrom(buf, n);
    return buf;
  }

  /** {@inheritDoc ChunkFilter.flush} */
  flush(): Uint8Array {
    return new Uint8Array(0);
  }
}
