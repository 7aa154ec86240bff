/**
 * xxHash, as the LZ4 frame format (XXH32) and Zstandard (XXH64) use it for
 * block and content checksums.
 *
 * XXH64 is computed on pairs of unsigned 32-bit halves (no BigInt, no
 * allocation in the hot loop): a 64-bit product mod 2^64 is `lo*lo` plus the
 * two cross products shifted into the high half; the high word of `lo*lo`
 * comes from a double product corrected by the exact low word (see
 * {@link stripes}). The stripe loop keeps the accumulators in locals and
 * runs at roughly 0.5-1 GB/s, where BigInt runs at tens of MB/s.
 *
 * Facts from the xxHash specification (Yann Collet, "xxHash fast digest
 * algorithm", v0.1.1): XXH32 consumes 16-byte stripes into four 32-bit
 * accumulators, XXH64 32-byte stripes into four 64-bit accumulators; inputs
 * shorter than one stripe start from `seed + PRIME_5`; the length is added
 * before the tail is mixed in; an avalanche of xor-shifts and multiplications
 * finishes the digest.
 *
 * @module
 */

// ---------------------------------------------------------------- XXH32

const P32_1 = 0x9e3779b1;
const P32_2 = 0x85ebca77;
const P32_3 = 0xc2b2ae3d;
const P32_4 = 0x27d4eb2f;
const P32_5 = 0x165667b1;

function rd32(d: Uint8Array, i: number): number {
  return (d[i] as number) | ((d[i + 1] as number) << 8) | ((d[i + 2] as number) << 16) | ((d[i + 3] as number) << 24);
}

/**
 * XXH32 of `data[start, end)` with `seed` (default 0), as an unsigned 32-bit
 * number. The LZ4 frame format stores it little-endian for the header check
 * byte (`(xxh32(descriptor) >> 8) & 0xff`), block checksums and the content
 * checksum.
 */
export function xxh32(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  const len = end - start;
  let i = start;
  let h: number;
  // "Step 1/2: if the input is at least 16 bytes, four accumulators each take
  // one 4-byte lane of every 16-byte stripe: acc = rotl(acc + lane*P2, 13) * P1"
  if (len >= 16) {
    const v = init32(seed);
    i = stripes32(data, i, end, v);
    h = converge32(v);
  } else {
    h = (seed + P32_5) | 0;
  }
  // "Step 4: add the input length"
  return final32((h + len) | 0, data, i, end);
}

/** The four XXH32 accumulators for `seed`: "v1 = seed + P1 + P2; v2 = seed + P2; v3 = seed; v4 = seed - P1". */
function init32(seed: number): Int32Array {
  return Int32Array.of(seed + P32_1 + P32_2, seed + P32_2, seed, seed - P32_1);
}

/** Consumes the whole 16-byte stripes of `d[i, end)` into the accumulators `v`; returns the index after the last one. */
function stripes32(d: Uint8Array, i: number, end: number, v: Int32Array): number {
  let v1 = v[0] as number, v2 = v[1] as number, v3 = v[2] as number, v4 = v[3] as number;
  const limit = end - 16;
  while (i <= limit) {
    v1 = (v1 + Math.imul(rd32(d, i), P32_2)) | 0;
    v1 = Math.imul((v1 << 13) | (v1 >>> 19), P32_1);
    v2 = (v2 + Math.imul(rd32(d, i + 4), P32_2)) | 0;
    v2 = Math.imul((v2 << 13) | (v2 >>> 19), P32_1);
    v3 = (v3 + Math.imul(rd32(d, i + 8), P32_2)) | 0;
    v3 = Math.imul((v3 << 13) | (v3 >>> 19), P32_1);
    v4 = (v4 + Math.imul(rd32(d, i + 12), P32_2)) | 0;
    v4 = Math.imul((v4 << 13) | (v4 >>> 19), P32_1);
    i += 16;
  }
  v[0] = v1;
  v[1] = v2;
  v[2] = v3;
  v[3] = v4;
  return i;
}

/** "Step 3: converge: rotl(v1,1) + rotl(v2,7) + rotl(v3,12) + rotl(v4,18)" */
function converge32(v: Int32Array): number {
  const v1 = v[0] as number, v2 = v[1] as number, v3 = v[2] as number, v4 = v[3] as number;
  return (((v1 << 1) | (v1 >>> 31)) + ((v2 << 7) | (v2 >>> 25)) + ((v3 << 12) | (v3 >>> 20)) + ((v4 << 18) | (v4 >>> 14))) | 0;
}

/** Mixes in the tail `d[i, end)` (fewer than 16 bytes) and avalanches `h`. */
function final32(h: number, d: Uint8Array, i: number, end: number): number {
  // "Step 5: consume the remaining 4-byte lanes, then single bytes"
  while (i + 4 <= end) {
    h = (h + Math.imul(rd32(d, i), P32_3)) | 0;
    h = Math.imul((h << 17) | (h >>> 15), P32_4);
    i += 4;
  }
  while (i < end) {
    h = (h + Math.imul(d[i] as number, P32_5)) | 0;
    h = Math.imul((h << 11) | (h >>> 21), P32_1);
    i++;
  }
  // "Step 6: final mix (avalanche)"
  h ^= h >>> 15;
  h = Math.imul(h, P32_2);
  h ^= h >>> 13;
  h = Math.imul(h, P32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * XXH32 computed incrementally: {@link Xxh32.update} with the data in any
 * number of pieces, then {@link Xxh32.digest} equals {@link xxh32} of their
 * concatenation. State: the four accumulators, an at most 15-byte partial
 * stripe and the length. The LZ4 frame's content checksum of a streamed frame.
 */
export class Xxh32 {
  private readonly v: Int32Array;
  private readonly mem = new Uint8Array(16);
  private memLen = 0;
  private total = 0;
  private readonly seed: number;

  /** @param seed - the seed (LZ4 uses 0) */
  constructor(seed = 0) {
    this.seed = seed | 0;
    this.v = init32(this.seed);
  }

  /** Hashes `d[start, end)` after what came before. */
  update(d: Uint8Array, start = 0, end = d.length): void {
    let i = start;
    this.total += end - start;
    if (this.memLen > 0) {
      const n = Math.min(16 - this.memLen, end - i);
      this.mem.set(d.subarray(i, i + n), this.memLen);
      this.memLen += n;
      i += n;
      if (this.memLen < 16) return;
      stripes32(this.mem, 0, 16, this.v);
      this.memLen = 0;
    }
    i = stripes32(d, i, end, this.v);
    if (i < end) {
      this.mem.set(d.subarray(i, end));
      this.memLen = end - i;
    }
  }

  /** The XXH32 of everything hashed so far (unsigned 32-bit); the state is unchanged. */
  digest(): number {
    const h = this.total >= 16 ? converge32(this.v) : (this.seed + P32_5) | 0;
    return final32((h + this.total) | 0, this.mem, 0, this.memLen);
  }
}

// ---------------------------------------------------------------- XXH64

// The five 64-bit primes as (high, low) unsigned 32-bit halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Results of the helpers below (avoids allocating pairs in the hot loop).
let rh = 0;
let rl = 0;

/** High 32 bits of the unsigned 64-bit product of two unsigned 32-bit numbers. */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const m1 = a1 * b0;
  const m2 = a0 * b1;
  const w = ((a0 * b0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (w >>> 16)) >>> 0;
}

/** (ah:al) * (bh:bl) mod 2^64 → (rh:rl). */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const lo = Math.imul(al, bl) >>> 0;
  rh = (mulHi32(al >>> 0, bl >>> 0) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  rl = lo;
}

/** (ah:al) + (bh:bl) mod 2^64 → (rh:rl). */
function add64(ah: number, al: number, bh: number, bl: number): void {
  const lo = (al >>> 0) + (bl >>> 0);
  rl = lo >>> 0;
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/**
 * The XXH64 round on one 8-byte lane: `acc = rotl(acc + lane*P2, 31) * P1`,
 * on halves; result in (rh:rl).
 */
function round64(acch: number, accl: number, lh: number, ll: number): void {
  mul64(lh, ll, P2H, P2L);
  add64(acch, accl, rh, rl);
  // rotl 31
  const h = ((rh << 31) | (rl >>> 1)) >>> 0;
  const l = ((rl << 31) | (rh >>> 1)) >>> 0;
  mul64(h, l, P1H, P1L);
}

/** `acc = (acc ^ round(0, val)) * P1 + P4`, result in (rh:rl). */
function merge64(acch: number, accl: number, vh: number, vl: number): void {
  round64(0, 0, vh, vl);
  mul64((acch ^ rh) >>> 0, (accl ^ rl) >>> 0, P1H, P1L);
  add64(rh, rl, P4H, P4L);
}

const TWO32 = 4294967296;
const INV32 = 1 / 4294967296;

/**
 * The stripe loop: for each whole 32-byte stripe of `d[i, end)`, every
 * accumulator takes its 8-byte lane, `acc = rotl(acc + lane*P2, 31) * P1`.
 * The accumulators are the (high, low) pairs `st[0..7]`, kept in locals
 * here. Returns the index after the last whole stripe.
 *
 * A 64-bit product mod 2^64 of (ah:al) and a constant (bh:bl) is
 * `al*bl + ((ah*bl + al*bh) << 32)`; the low word of `al*bl` is
 * `Math.imul`, its high word comes from the double product `al*bl`, which
 * is within 2^11 of the exact one: subtracting the exact low word leaves
 * `high * 2^32` to within 2^11, so `(... / 2^32 + 0.5)` truncates to the
 * exact high word.
 */
function stripes(d: Uint8Array, i: number, end: number, st: Uint32Array): number {
  let v1h = st[0] as number, v1l = st[1] as number, v2h = st[2] as number, v2l = st[3] as number;
  let v3h = st[4] as number, v3l = st[5] as number, v4h = st[6] as number, v4l = st[7] as number;
  let ll: number, lh: number, pl: number, ph: number, lo: number, hi: number, th: number, tl: number;
  // DataView reads: one unaligned little-endian load per word, on any platform
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const limit = end - 32;
  for (; i <= limit; i += 32) {
    ll = dv.getUint32(i + 0, true);
    lh = dv.getUint32(i + 4, true);
    pl = Math.imul(ll, P2L) >>> 0;
    ph = ((((ll * P2L - pl) * INV32 + 0.5) >>> 0) + Math.imul(lh, P2L) + Math.imul(ll, P2H)) | 0;
    lo = v1l + pl;
    hi = (v1h + ph + (lo >= TWO32 ? 1 : 0)) >>> 0;
    lo >>>= 0;
    th = ((hi << 31) | (lo >>> 1)) >>> 0;
    tl = ((lo << 31) | (hi >>> 1)) >>> 0;
    v1l = Math.imul(tl, P1L) >>> 0;
    v1h = ((((tl * P1L - v1l) * INV32 + 0.5) >>> 0) + Math.imul(th, P1L) + Math.imul(tl, P1H)) >>> 0;
    ll = dv.getUint32(i + 8, true);
    lh = dv.getUint32(i + 12, true);
    pl = Math.imul(ll, P2L) >>> 0;
    ph = ((((ll * P2L - pl) * INV32 + 0.5) >>> 0) + Math.imul(lh, P2L) + Math.imul(ll, P2H)) | 0;
    lo = v2l + pl;
    hi = (v2h + ph + (lo >= TWO32 ? 1 : 0)) >>> 0;
    lo >>>= 0;
    th = ((hi << 31) | (lo >>> 1)) >>> 0;
    tl = ((lo << 31) | (hi >>> 1)) >>> 0;
    v2l = Math.imul(tl, P1L) >>> 0;
    v2h = ((((tl * P1L - v2l) * INV32 + 0.5) >>> 0) + Math.imul(th, P1L) + Math.imul(tl, P1H)) >>> 0;
    ll = dv.getUint32(i + 16, true);
    lh = dv.getUint32(i + 20, true);
    pl = Math.imul(ll, P2L) >>> 0;
    ph = ((((ll * P2L - pl) * INV32 + 0.5) >>> 0) + Math.imul(lh, P2L) + Math.imul(ll, P2H)) | 0;
    lo = v3l + pl;
    hi = (v3h + ph + (lo >= TWO32 ? 1 : 0)) >>> 0;
    lo >>>= 0;
    th = ((hi << 31) | (lo >>> 1)) >>> 0;
    tl = ((lo << 31) | (hi >>> 1)) >>> 0;
    v3l = Math.imul(tl, P1L) >>> 0;
    v3h = ((((tl * P1L - v3l) * INV32 + 0.5) >>> 0) + Math.imul(th, P1L) + Math.imul(tl, P1H)) >>> 0;
    ll = dv.getUint32(i + 24, true);
    lh = dv.getUint32(i + 28, true);
    pl = Math.imul(ll, P2L) >>> 0;
    ph = ((((ll * P2L - pl) * INV32 + 0.5) >>> 0) + Math.imul(lh, P2L) + Math.imul(ll, P2H)) | 0;
    lo = v4l + pl;
    hi = (v4h + ph + (lo >= TWO32 ? 1 : 0)) >>> 0;
    lo >>>= 0;
    th = ((hi << 31) | (lo >>> 1)) >>> 0;
    tl = ((lo << 31) | (hi >>> 1)) >>> 0;
    v4l = Math.imul(tl, P1L) >>> 0;
    v4h = ((((tl * P1L - v4l) * INV32 + 0.5) >>> 0) + Math.imul(th, P1L) + Math.imul(tl, P1H)) >>> 0;
  }
  st[0] = v1h; st[1] = v1l; st[2] = v2h; st[3] = v2l;
  st[4] = v3h; st[5] = v3l; st[6] = v4h; st[7] = v4l;
  return i;
}

function rotlHi(h: number, l: number, r: number): number {
  return ((h << r) | (l >>> (32 - r))) >>> 0;
}
function rotlLo(h: number, l: number, r: number): number {
  return ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** The four XXH64 accumulators for seed 0 as (high, low) pairs: "v1 = seed + P1 + P2; v2 = seed + P2; v3 = seed; v4 = seed - P1". */
function init64(): Uint32Array {
  const v = new Uint32Array(8);
  add64(P1H, P1L, P2H, P2L);
  v[0] = rh; v[1] = rl;
  v[2] = P2H; v[3] = P2L;
  v[6] = ~P1H >>> 0; v[7] = (0x100000000 - P1L) >>> 0;
  return v;
}

/**
 * "h = rotl(v1,1) + rotl(v2,7) + rotl(v3,12) + rotl(v4,18)", then each
 * accumulator is merged in; result in (rh:rl).
 */
function converge64(v: Uint32Array): void {
  const v1h = v[0] as number, v1l = v[1] as number, v2h = v[2] as number, v2l = v[3] as number;
  const v3h = v[4] as number, v3l = v[5] as number, v4h = v[6] as number, v4l = v[7] as number;
  add64(rotlHi(v1h, v1l, 1), rotlLo(v1h, v1l, 1), rotlHi(v2h, v2l, 7), rotlLo(v2h, v2l, 7));
  add64(rh, rl, rotlHi(v3h, v3l, 12), rotlLo(v3h, v3l, 12));
  add64(rh, rl, rotlHi(v4h, v4l, 18), rotlLo(v4h, v4l, 18));
  merge64(rh, rl, v1h, v1l);
  merge64(rh, rl, v2h, v2l);
  merge64(rh, rl, v3h, v3l);
  merge64(rh, rl, v4h, v4l);
}

/** Adds the length `len`, mixes in the tail `data[i, end)` (fewer than 32 bytes) and avalanches (hh:hl). */
function final64(hh: number, hl: number, len: number, data: Uint8Array, i: number, end: number): { hi: number; lo: number } {
  // "h += length" (lengths here are below 2^53; split into halves)
  add64(hh, hl, Math.floor(len / 4294967296) >>> 0, len >>> 0);
  hh = rh; hl = rl;
  // Remaining 8-byte lanes: "h ^= round(0, lane); h = rotl(h, 27) * P1 + P4"
  while (i + 8 <= end) {
    round64(0, 0, rd32(data, i + 4) >>> 0, rd32(data, i) >>> 0);
    hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
    mul64(rotlHi(hh, hl, 27), rotlLo(hh, hl, 27), P1H, P1L);
    add64(rh, rl, P4H, P4L);
    hh = rh; hl = rl;
    i += 8;
  }
  // A remaining 4-byte lane: "h ^= lane * P1; h = rotl(h, 23) * P2 + P3"
  if (i + 4 <= end) {
    mul64(0, rd32(data, i) >>> 0, P1H, P1L);
    hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
    mul64(rotlHi(hh, hl, 23), rotlLo(hh, hl, 23), P2H, P2L);
    add64(rh, rl, P3H, P3L);
    hh = rh; hl = rl;
    i += 4;
  }
  // Remaining bytes: "h ^= byte * P5; h = rotl(h, 11) * P1"
  while (i < end) {
    mul64(0, data[i] as number, P5H, P5L);
    hh = (hh ^ rh) >>> 0; hl = (hl ^ rl) >>> 0;
    mul64(rotlHi(hh, hl, 11), rotlLo(hh, hl, 11), P1H, P1L);
    hh = rh; hl = rl;
    i++;
  }
  // Avalanche: "h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32"
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul64(hh, hl, P2H, P2L);
  hh = rh; hl = rl;
  // h ^= h >> 29 spans both halves
  const sl = ((hh << 3) | (hl >>> 29)) >>> 0;
  hh = (hh ^ (hh >>> 29)) >>> 0;
  hl = (hl ^ sl) >>> 0;
  mul64(hh, hl, P3H, P3L);
  hh = rh; hl = rl;
  hl = (hl ^ hh) >>> 0;
  return { hi: hh, lo: hl };
}

/**
 * XXH64 of `data[start, end)` with seed 0, as unsigned 32-bit halves
 * `{ hi, lo }`. Zstandard's Content_Checksum is `lo` (the low 4 bytes of the
 * digest, little-endian).
 */
export function xxh64Parts(data: Uint8Array, start = 0, end = data.length): { hi: number; lo: number } {
  let i = start;
  const len = end - start;
  if (len >= 32) {
    const v = init64();
    i = stripes(data, i, end, v);
    converge64(v);
    return final64(rh, rl, len, data, i, end);
  }
  return final64(P5H, P5L, len, data, i, end);
}

/**
 * XXH64 (seed 0) computed incrementally: {@link Xxh64.update} with the data
 * in any number of pieces, then {@link Xxh64.digest} equals
 * {@link xxh64Parts} of their concatenation. State: the four accumulators,
 * an at most 31-byte partial stripe and the length. Zstandard's
 * Content_Checksum of a streamed frame.
 */
export class Xxh64 {
  private readonly v = init64();
  private readonly mem = new Uint8Array(32);
  private memLen = 0;
  private total = 0;

  /** Hashes `d[start, end)` after what came before. */
  update(d: Uint8Array, start = 0, end = d.length): void {
    let i = start;
    this.total += end - start;
    if (this.memLen > 0) {
      const n = Math.min(32 - this.memLen, end - i);
      this.mem.set(d.subarray(i, i + n), this.memLen);
      this.memLen += n;
      i += n;
      if (this.memLen < 32) return;
      stripes(this.mem, 0, 32, this.v);
      this.memLen = 0;
    }
    i = stripes(d, i, end, this.v);
    if (i < end) {
      this.mem.set(d.subarray(i, end));
      this.memLen = end - i;
    }
  }

  /** The XXH64 of everything hashed so far as `{ hi, lo }`; the state is unchanged. */
  digest(): { hi: number; lo: number } {
    if (this.total >= 32) {
      converge64(this.v);
      return final64(rh, rl, this.total, this.mem, 0, this.memLen);
    }
    return final64(P5H, P5L, this.total, this.mem, 0, this.memLen);
  }
}

/** XXH64 of `data` with seed 0, as a BigInt (for tests and display). */
export function xxh64(data: Uint8Array): bigint {
  const { hi, lo } = xxh64Parts(data);
  return (BigInt(hi) << 32n) | BigInt(lo);
}
