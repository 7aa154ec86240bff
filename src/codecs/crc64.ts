/**
 * CRC-64 as `.xz` uses it (CRC-64/XZ, ECMA-182 polynomial, reflected:
 * "poly64 = 0xC96C5795D7870F42 ... crc = ~crc; crc = crc64_table[buf[i] ^
 * (crc & 0xFF)] ^ (crc >> 8); return ~crc" — xz file format spec, section
 * 6). The 64-bit value is kept as two 32-bit halves so the inner loop stays
 * in small integers; slicing-by-8 tables (one lo and one hi Int32Array per
 * slice) are built on first use, and aligned input is read 32 bits at a time
 * on little-endian hosts.
 *
 * @module
 */

interface Tables {
  lo: Int32Array[];
  hi: Int32Array[];
}

let tables: Tables | null = null;

/** True on little-endian hosts (all current JS engines' targets, but checked). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function build(): Tables {
  const lo: Int32Array[] = [];
  const hi: Int32Array[] = [];
  for (let k = 0; k < 8; k++) {
    lo.push(new Int32Array(256));
    hi.push(new Int32Array(256));
  }
  const lo0 = lo[0] as Int32Array;
  const hi0 = hi[0] as Int32Array;
  for (let n = 0; n < 256; n++) {
    let l = n;
    let h = 0;
    for (let k = 0; k < 8; k++) {
      const odd = l & 1;
      l = (l >>> 1) | ((h & 1) << 31);
      h = h >>> 1;
      if (odd) {
        l ^= 0xd7870f42;
        h ^= 0xc96c5795;
      }
    }
    lo0[n] = l;
    hi0[n] = h;
  }
  // Slice k: the CRC contribution of byte n followed by k zero bytes.
  for (let k = 1; k < 8; k++) {
    const pl = lo[k - 1] as Int32Array;
    const ph = hi[k - 1] as Int32Array;
    const tl = lo[k] as Int32Array;
    const th = hi[k] as Int32Array;
    for (let n = 0; n < 256; n++) {
      const l = pl[n] as number;
      const h = ph[n] as number;
      const idx = l & 0xff;
      tl[n] = ((l >>> 8) | (h << 24)) ^ (lo0[idx] as number);
      th[n] = (h >>> 8) ^ (hi0[idx] as number);
    }
  }
  return { lo, hi };
}

/**
 * Updates a running CRC-64 with `data` (start with `crc = 0n`) and returns
 * the new value as an unsigned 64-bit bigint. Check value:
 * `crc64("123456789") === 0x995dc9bbdf1939fan`.
 */
export function crc64(data: Uint8Array, crc = 0n): bigint {
  const t = (tables ??= build());
  const [l0, l1, l2, l3, l4, l5, l6, l7] = t.lo as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  const [h0, h1, h2, h3, h4, h5, h6, h7] = t.hi as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let lo = ~Number(crc & 0xffffffffn);
  let hi = ~Number((crc >> 32n) & 0xffffffffn);
  const n = data.length;
  let i = 0;
  // Bytes up to a 4-byte aligned address, then 8 bytes per step, then the rest.
  let head = LITTLE_ENDIAN && n >= 16 ? (4 - (data.byteOffset & 3)) & 3 : n;
  while (i < n && head-- > 0) {
    const idx = (lo ^ (data[i++] as number)) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ (l0[idx] as number);
    hi = (hi >>> 8) ^ (h0[idx] as number);
  }
  if (i < n) {
    const words = new Int32Array(data.buffer, data.byteOffset + i, (n - i) >>> 2);
    const wn = words.length & ~1;
    for (let w = 0; w < wn; w += 2) {
      const a = lo ^ (words[w] as number);
      const b = hi ^ (words[w + 1] as number);
      lo =
        (l7[a & 0xff] as number) ^
        (l6[(a >>> 8) & 0xff] as number) ^
        (l5[(a >>> 16) & 0xff] as number) ^
        (l4[a >>> 24] as number) ^
        (l3[b & 0xff] as number) ^
        (l2[(b >>> 8) & 0xff] as number) ^
        (l1[(b >>> 16) & 0xff] as number) ^
        (l0[b >>> 24] as number);
      hi =
        (h7[a & 0xff] as number) ^
        (h6[(a >>> 8) & 0xff] as number) ^
        (h5[(a >>> 16) & 0xff] as number) ^
        (h4[a >>> 24] as number) ^
        (h3[b & 0xff] as number) ^
        (h2[(b >>> 8) & 0xff] as number) ^
        (h1[(b >>> 16) & 0xff] as number) ^
        (h0[b >>> 24] as number);
    }
    i += wn * 4;
  }
  while (i < n) {
    const idx = (lo ^ (data[i++] as number)) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ (l0[idx] as number);
    hi = (hi >>> 8) ^ (h0[idx] as number);
  }
  return (BigInt(~hi >>> 0) << 32n) | BigInt(~lo >>> 0);
}
