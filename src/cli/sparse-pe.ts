/**
 * `verify` of a large PE without holding its large sections in memory.
 *
 * Why: on this project's machine (a Firecracker VM) the first write to a
 * fresh page of memory costs ~4 µs per KiB; reading the 48.7 MB sid arm64
 * kernel into one buffer took 190–233 ms before anything was checked, and
 * hashing it from that cold buffer 85 ms more. Read in 1 MiB chunks into
 * one reused buffer and hashed on the way, the same bytes take 44 ms
 * (`npm run bench -- verify`; issue 12's goal: the time beyond `node -e 0`
 * at most sbverify's whole run).
 *
 * How: {@link readPeSparse} makes an array of the file's length (its pages
 * cost nothing until written) and reads into it everything verification
 * reads (the headers, the section table, every section of at most
 * {@link SPARSE_SECTION_MAX} bytes, the certificate table, the first and
 * last {@link SPARSE_EDGE} bytes). The raw data of the larger sections
 * (a kernel's `.text`, or the whole arm64 Image) is left unread; only the
 * Authenticode digest covers it, and the returned {@link HashProvider}
 * hashes those ranges from the file instead of from the array. The CLI uses
 * it only for a file of at least {@link SPARSE_MIN_SIZE} bytes that is
 * neither a UKI nor carries an appended signature, and
 * `test/interfaces/cli-verify-sparse.test.ts` checks that every real PE
 * verifies to the same JSON either way.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { HashAlgorithm, HashProvider } from "../hash/types.js";

/** Files smaller than this are read whole (default 16 MiB). */
export const SPARSE_MIN_SIZE = 16 << 20;
/** Sections with more raw data than this are left unread (1 MiB). */
export const SPARSE_SECTION_MAX = 1 << 20;
/** Bytes read at each end of the file (64 KiB): the headers, an appended signature's marker. */
export const SPARSE_EDGE = 64 << 10;
/** The chunk the unread ranges are hashed through (1 MiB). */
const CHUNK = 1 << 20;

/** A file read for `verify`: the array (unread ranges are zeros) and the hash provider that reads them. */
export interface SparsePe {
  /** The file's bytes, as long as the file; the ranges in `unread` hold zeros. */
  bytes: Uint8Array;
  /** Half-open ranges [start, end) of `bytes` that were not read, ascending. */
  unread: readonly (readonly [number, number])[];
  /** node:crypto hashing, which reads the unread ranges of `bytes` from the file. */
  hash: HashProvider;
  /** Closes the file. */
  close(): void;
}

function u16(b: Uint8Array, i: number): number {
  return (b[i] as number) | ((b[i + 1] as number) << 8);
}
function u32(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

/**
 * Reads `path` sparsely as described in the module comment, or returns null
 * when the file is smaller than {@link SPARSE_MIN_SIZE} or its headers are
 * not those of a PE whose section table lies in the first
 * {@link SPARSE_EDGE} bytes (the caller then reads it whole, and parsing
 * reports what is wrong). Every offset and size from the headers is checked
 * against the file before it is used; none allocates anything.
 */
export function readPeSparse(path: string): SparsePe | null {
  const fd = openSync(path, "r");
  let keep = false;
  try {
    const size = fstatSync(fd).size;
    if (size < SPARSE_MIN_SIZE || !Number.isSafeInteger(size)) return null;
    const bytes = new Uint8Array(size);
    const readRange = (start: number, end: number): void => {
      let at = start;
      while (at < end) {
        const n = readSync(fd, bytes, at, end - at, at);
        if (n <= 0) throw new Error(`${path}: the file ended at ${at} (its size was ${size})`);
        at += n;
      }
    };
    readRange(0, SPARSE_EDGE);
    readRange(size - SPARSE_EDGE, size);
    // The spec's fields: e_lfanew at 0x3c; "PE\0\0"; COFF NumberOfSections (+6), SizeOfOptionalHeader (+20);
    // the optional header's Magic (0x10b PE32, 0x20b PE32+); DataDirectory[4] = the certificate table
    // ("a file pointer", not an RVA) at optional-header offset 128 (PE32) or 144 (PE32+).
    const lfanew = u32(bytes, 0x3c);
    if (u16(bytes, 0) !== 0x5a4d || lfanew > SPARSE_EDGE - 24 || u32(bytes, lfanew) !== 0x00004550) return null;
    const nsec = u16(bytes, lfanew + 6);
    const optSize = u16(bytes, lfanew + 20);
    const opt = lfanew + 24;
    const magic = u16(bytes, opt);
    const ddBase = magic === 0x20b ? opt + 112 : magic === 0x10b ? opt + 96 : -1;
    const table = opt + optSize;
    if (ddBase < 0 || table + nsec * 40 > SPARSE_EDGE) return null;
    const ranges: [number, number][] = [];
    const numberOfRva = u32(bytes, ddBase - 4);
    if (numberOfRva > 4 && ddBase + 5 * 8 <= table) {
      const certAt = u32(bytes, ddBase + 32);
      const certSize = u32(bytes, ddBase + 36);
      if (certSize > 0 && certAt < size) ranges.push([certAt, Math.min(size, certAt + certSize)]);
    }
    const unread: [number, number][] = [];
    for (let i = 0; i < nsec; i++) {
      const s = table + i * 40;
      const rawSize = u32(bytes, s + 16);
      const rawAt = u32(bytes, s + 20);
      if (rawSize === 0 || rawAt >= size) continue;
      const end = Math.min(size, rawAt + rawSize);
      if (end - rawAt <= SPARSE_SECTION_MAX) ranges.push([rawAt, end]);
      else unread.push([rawAt, end]);
    }
    // What the large sections cover, less what is read anyway (the edges, the certificate table, small sections).
    const read: [number, number][] = [[0, SPARSE_EDGE], [size - SPARSE_EDGE, size], ...ranges];
    const holes = subtract(merge(unread), merge(read));
    for (const [a, b] of complement(holes, size)) readRange(Math.max(a, SPARSE_EDGE), Math.min(b, size - SPARSE_EDGE));
    keep = true;
    return { bytes, unread: holes, hash: sparseHash(fd, bytes, holes), close: () => closeSync(fd) };
  } finally {
    if (!keep) closeSync(fd);
  }
}

/** Sorted, merged copy of `r`. */
function merge(r: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of [...r].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else if (b > a) out.push([a, b]);
  }
  return out;
}

/** `a` less `b` (both merged). */
function subtract(a: readonly [number, number][], b: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const [s, e] of a) {
    let cur = s;
    for (const [bs, be] of b) {
      if (be <= cur || bs >= e) continue;
      if (bs > cur) out.push([cur, bs]);
      cur = Math.max(cur, be);
    }
    if (cur < e) out.push([cur, e]);
  }
  return out;
}

/** [0, size) less the merged `holes`. */
function complement(holes: readonly [number, number][], size: number): [number, number][] {
  return subtract([[0, size]], holes);
}

/**
 * node:crypto hashing of parts; a part that is a view of `bytes` is hashed
 * from memory where it was read and from the file (1 MiB at a time, through
 * one reused buffer) where it lies in `holes`.
 */
function sparseHash(fd: number, bytes: Uint8Array, holes: readonly [number, number][]): HashProvider {
  let scratch: Uint8Array | null = null;
  return {
    name: "node:crypto (sparse file)",
    digest(alg: HashAlgorithm, parts: readonly Uint8Array[]): Promise<Uint8Array> {
      const h = createHash(alg);
      for (const p of parts) {
        if (p.buffer !== bytes.buffer) {
          h.update(p);
          continue;
        }
        const start = p.byteOffset - bytes.byteOffset;
        const end = start + p.byteLength;
        let at = start;
        for (const [hs, he] of holes) {
          if (he <= at || hs >= end) continue;
          if (hs > at) h.update(bytes.subarray(at, hs));
          const stop = Math.min(he, end);
          scratch ??= new Uint8Array(CHUNK);
          for (let q = Math.max(at, hs); q < stop; ) {
            const want = Math.min(CHUNK, stop - q);
            const n = readSync(fd, scratch, 0, want, q);
            if (n <= 0) return Promise.reject(new Error(`the file ended at ${q} while hashing it`));
            h.update(scratch.subarray(0, n));
            q += n;
          }
          at = stop;
        }
        if (at < end) h.update(bytes.subarray(at, end));
      }
      const d = h.digest();
      return Promise.resolve(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    },
  };
}
