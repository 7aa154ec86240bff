/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as gzip, xz and
 * zboot use it. Slicing-by-8 tables, built on first use.
 *
 * @module
 */

// The tables and the running value are int32 bit patterns (Int32Array and `^`): a uint32
// above 2^31 would be a double in the optimized loop ("lost precision" deopts).
let tables: Int32Array[] | null = null;

function build(): Int32Array[] {
  const t: Int32Array[] = [];
  const t0 = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c;
  }
  t.push(t0);
  for (let i = 1; i < 8; i++) {
    const prev = t[i - 1] as Int32Array;
    const ti = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      ti[n] = (p >>> 8) ^ (t0[p & 0xff] as number);
    }
    t.push(ti);
  }
  return t;
}

/**
 * Updates a running CRC-32 with `data` (start with `crc = 0`); returns the
 * new CRC as an unsigned 32-bit number.
 */
export function crc32(data: Uint8Array, crc = 0): number {
  const t = (tables ??= build());
  const [t0, t1, t2, t3, t4, t5, t6, t7] = t as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let c = ~crc;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
    c =
      (t7[a & 0xff] as number) ^
      (t6[(a >>> 8) & 0xff] as number) ^
      (t5[(a >>> 16) & 0xff] as number) ^
      (t4[a >>> 24] as number) ^
      (t3[data[i + 4] as number] as number) ^
      (t2[data[i + 5] as number] as number) ^
      (t1[data[i + 6] as number] as number) ^
      (t0[data[i + 7] as number] as number);
    i += 8;
  }
  while (i < n) c = (t0[(c ^ (data[i++] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
