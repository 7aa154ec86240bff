/**
 * The `.xz` decoder against the native xz (5.4.1): round trips over every
 * check, multiple blocks, multi-threaded headers with sizes, concatenated
 * streams, padding and trailing bytes; the real bookworm x86 kernel payload
 * (sha256 equal to `xz -dc`, speed compared with `xz -dc`); hand-built
 * streams for the rarely used header features; truncation and byte-flip
 * mutations (every byte of a small file), a 1 GiB bomb, and a fast-check
 * property that no mutation throws anything but a KimageError.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { crc32 } from "../../src/codecs/crc32.js";
import { crc64 } from "../../src/codecs/crc64.js";
import { lzma2DictSize } from "../../src/codecs/lzma2.js";
import type { Decoder } from "../../src/codecs/types.js";
import { decompressXz } from "../../src/codecs/xz.js";
import { type ErrorCode, KimageError } from "../../src/core/errors.js";
import { concat, expectKimageError, rng, sha } from "../support/codec.js";
import { readBytes, requireReal } from "../support/real.js";

const TMP = mkdtempSync(join(tmpdir(), "kimage-codec-xz-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Runs xz; throws (never skips) when it is missing or fails. */
function xz(args: string[], input?: Uint8Array): Uint8Array {
  const r = spawnSync("xz", args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`xz ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}




const expectCode = (f: () => unknown, codes: ErrorCode | ErrorCode[]): KimageError => expectKimageError(f, codes, "xz");

/** Compressible, varied data: words, numbers, binary runs, repeats at many distances. */
function genMixed(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const words = ["kernel", "vmlinuz", "struct", "return", "0x", "static", " ", "\n", "{", "}", "int", "unsigned long", "__init", "printk"];
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const x = r() % 10;
    if (x < 5) {
      const w = words[r() % words.length] as string;
      for (let k = 0; k < w.length && i < n; k++) out[i++] = w.charCodeAt(k);
    } else if (x < 7 && i > 300) {
      // Copy from a random earlier distance (long and short matches, rep matches).
      const dist = 1 + (r() % Math.min(i, r() & 1 ? 64 : 200_000));
      const len = 2 + (r() % 40);
      for (let k = 0; k < len && i < n; k++, i++) out[i] = out[i - dist] as number;
    } else if (x < 8) {
      const len = r() % 64;
      const b = r() & 0xff;
      for (let k = 0; k < len && i < n; k++) out[i++] = b;
    } else {
      out[i++] = r() & 0xff;
    }
  }
  return out;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return new Uint8Array(n).map(() => r() & 0xff);
}


const MIXED = genMixed(700_000, 1);
const RANDOM = randomBytes(150_000, 2);

// ---------------------------------------------------------------------------
describe("xz: round trips against xz 5.4.1", () => {
  const cases: [string, string[]][] = [
    ["crc32, 32 MiB dictionary (xzkern style)", ["--check=crc32", "--lzma2=dict=32MiB"]],
    ["crc64 (default), preset 6", ["--check=crc64"]],
    ["no check, preset 0", ["--check=none", "-0"]],
    ["sha256 check", ["--check=sha256", "-1"]],
    ["extreme preset 9e", ["-9e", "--lzma2=dict=1MiB"]],
    ["lc=0,lp=4,pb=4", ["--lzma2=preset=2,lc=0,lp=4,pb=4"]],
    ["lc=4,lp=0,pb=0", ["--lzma2=preset=2,lc=4,lp=0,pb=0"]],
    ["small blocks", ["--block-size=64KiB", "-1"]],
    ["multi-threaded (sizes in block headers)", ["-T2", "--block-size=100KiB", "-1"]],
  ];
  for (const [name, args] of cases) {
    it(name, () => {
      const comp = xz(["-c", ...(args.includes("-T2") ? [] : ["-T1"]), ...args], MIXED);
      const r = decompressXz(comp);
      expect(sha(r.bytes)).toBe(sha(MIXED));
      expect(r.consumed).toBe(comp.length);
      expect(r.complete).toBe(true);
      const check = args.find((a) => a.startsWith("--check="))?.slice(8) ?? "crc64";
      expect(r.checked).toEqual(check === "none" ? [] : [check]);
    });
  }

  it("incompressible data (LZMA2 uncompressed chunks) and x86 BCJ", () => {
    for (const args of [["-6"], ["--x86", "--lzma2=preset=6"]]) {
      const comp = xz(["-c", "-T1", ...args], RANDOM);
      expect(sha(decompressXz(comp).bytes)).toBe(sha(RANDOM));
    }
  });

  it("real-ish input: the bytes of a fixture vmlinuz (mostly compressed data) and its mix with text", () => {
    const real = requireReal("vmlinuz bytes as input data", (f) => f.kind === "kernel")[0];
    const input = real ? readBytes(real.abs).subarray(0, 1_500_000) : genMixed(300_000, 9);
    const data = concat(input, MIXED.subarray(0, 200_000), input.subarray(0, 100_000));
    const comp = xz(["-c", "-T1", "--check=crc32", "--x86", "--lzma2=preset=1"], data);
    expect(sha(decompressXz(comp).bytes)).toBe(sha(data));
  });

  it("empty input: a stream with no blocks", () => {
    const comp = xz(["-c", "-T1"], new Uint8Array(0));
    const r = decompressXz(comp);
    expect(r.bytes.length).toBe(0);
    expect(r.consumed).toBe(comp.length);
    expect(r.checked).toEqual([]);
  });

  it("concatenated streams, stream padding, and trailing bytes", () => {
    const a = xz(["-c", "-T1", "--check=crc32", "-0"], MIXED.subarray(0, 50_000));
    const b = xz(["-c", "-T1", "--check=crc64", "-0"], MIXED.subarray(50_000, 90_000));
    const e = xz(["-c", "-T1", "--check=none"], new Uint8Array(0));
    const want = sha(MIXED.subarray(0, 90_000));
    const z4 = new Uint8Array(4);
    const file = concat(a, z4, z4, e, b);
    let r = decompressXz(file);
    expect(sha(r.bytes)).toBe(want);
    expect(r.consumed).toBe(file.length);
    expect(r.checked.sort()).toEqual(["crc32", "crc64"]);
    // Trailing padding is consumed; a kernel-style le32 size after it is not.
    const size = new Uint8Array([0x60, 0x5f, 0x01, 0x00]);
    r = decompressXz(concat(file, z4, size));
    expect(r.consumed).toBe(file.length + 4);
    // A trailer whose first byte is 0 (not a whole padding group) ends the input too.
    r = decompressXz(concat(file, new Uint8Array([0, 1, 2, 3])));
    expect(r.consumed).toBe(file.length);
    r = decompressXz(concat(file, new TextEncoder().encode("trailing junk")));
    expect(r.consumed).toBe(file.length);
    expect(sha(r.bytes)).toBe(want);
    // Agrees with xz about what a valid concatenation is.
    writeFileSync(join(TMP, "cat.xz"), file);
    expect(sha(xz(["-dc", join(TMP, "cat.xz")]))).toBe(want);
    // Misaligned padding before another stream is an error (xz agrees).
    expectCode(() => decompressXz(concat(a, new Uint8Array(3), b)), "codec-corrupt");
    // The start of a next stream header cut short is truncation, not junk.
    expectCode(() => decompressXz(concat(a, b.subarray(0, 3))), "truncated");
    expectCode(() => decompressXz(concat(a, b.subarray(0, 30))), "truncated");
  });

  it("expectedSize, maxOutput, partial", () => {
    const comp = xz(["-c", "-T1", "--x86", "--lzma2=preset=1", "--block-size=100KiB"], MIXED);
    expect(decompressXz(comp, { expectedSize: MIXED.length }).bytes.length).toBe(MIXED.length);
    expectCode(() => decompressXz(comp, { expectedSize: MIXED.length - 1 }), "codec-size-mismatch");
    expectCode(() => decompressXz(comp, { maxOutput: MIXED.length - 1 }), "limit");
    expect(decompressXz(comp, { maxOutput: MIXED.length }).complete).toBe(true);
    // Partial output is exactly the prefix, even when the cut falls inside a
    // BCJ-converted instruction or a block boundary.
    for (const cut of [0, 1, 5, 4095, 65_536, 100 * 1024 - 2, 100 * 1024 + 3, 333_333, MIXED.length - 1]) {
      const r = decompressXz(comp, { maxOutput: cut, partial: true });
      expect(r.complete).toBe(false);
      expect(r.bytes.length).toBe(cut);
      expect(sha(r.bytes)).toBe(sha(MIXED.subarray(0, cut)));
    }
    const all = decompressXz(comp, { maxOutput: MIXED.length, partial: true });
    expect(all.complete).toBe(true);
    expect(all.consumed).toBe(comp.length);
    // Offsets in errors are absolute (base + input offset).
    const e = expectCode(() => decompressXz(comp.subarray(0, 40), { base: 1000 }), "truncated");
    expect(e.offset).toBeGreaterThanOrEqual(1000);
  });

  it("decompressXz is a Decoder", () => {
    const d: Decoder = decompressXz;
    expect(d(xz(["-c", "-T1"], new Uint8Array([1, 2, 3]))).codec).toBe("xz");
  });

  it("crc64 and the LZMA2 dictionary size table", () => {
    expect(crc64(new TextEncoder().encode("123456789"))).toBe(0x995dc9bbdf1939fan);
    const d = randomBytes(1000, 5);
    expect(crc64(d.subarray(300), crc64(d.subarray(0, 300)))).toBe(crc64(d));
    // Against a bit-at-a-time BigInt reference, at every alignment and many lengths.
    const ref = (b: Uint8Array): bigint => {
      let c = 0xffffffffffffffffn;
      for (const x of b) {
        c ^= BigInt(x);
        for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0xc96c5795d7870f42n : c >> 1n;
      }
      return c ^ 0xffffffffffffffffn;
    };
    for (let off = 0; off < 5; off++) for (const len of [0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 99]) expect(crc64(d.subarray(off, off + len))).toBe(ref(d.subarray(off, off + len)));
    expect(lzma2DictSize(0)).toBe(4096);
    expect(lzma2DictSize(1)).toBe(6144);
    expect(lzma2DictSize(18)).toBe(2 * 1024 * 1024);
    expect(lzma2DictSize(39)).toBe(3 * 1024 ** 3);
    expect(lzma2DictSize(40)).toBe(0xffffffff);
    expect(lzma2DictSize(41)).toBeNull();
    expect(lzma2DictSize(0x40)).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// Hand-built streams: a minimal .xz writer around raw LZMA2 data from xz.

function vli(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

interface BuildOpts {
  filters?: { id: number; props: number[] }[];
  flags?: number; // stream flags byte 2
  footerFlags?: number;
  blockFlagsExtra?: number;
  compressedSize?: number;
  uncompressedSize?: number;
  headerPadding?: number[];
  check?: number[]; // overrides the computed check
  blockPadding?: number;
}

/** One stream with one block holding `lzma2` (raw LZMA2 data of `data`). */
function buildXz(lzma2: Uint8Array, data: Uint8Array, o: BuildOpts = {}): Uint8Array {
  const flags = o.flags ?? 0x01;
  const sf = [0x00, flags];
  const header = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...sf, ...le32(crc32(new Uint8Array(sf)))];
  const filters = o.filters ?? [{ id: 0x21, props: [0x10] }];
  const body: number[] = [((filters.length - 1) & 3) | (o.blockFlagsExtra ?? 0)];
  if (o.compressedSize !== undefined) body[0] = (body[0] as number) | 0x40;
  if (o.uncompressedSize !== undefined) body[0] = (body[0] as number) | 0x80;
  if (o.compressedSize !== undefined) body.push(...vli(o.compressedSize));
  if (o.uncompressedSize !== undefined) body.push(...vli(o.uncompressedSize));
  for (const f of filters) body.push(...vli(f.id), ...vli(f.props.length), ...f.props);
  let bh = [0, ...body, ...(o.headerPadding ?? [])];
  while ((bh.length + 4) % 4 !== 0) bh.push(0);
  bh[0] = (bh.length + 4) / 4 - 1;
  bh = [...bh, ...le32(crc32(new Uint8Array(bh)))];
  const checkType = flags & 0x0f;
  const checkSize = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64][checkType] as number;
  let check: number[] = o.check ?? [];
  if (!o.check) {
    if (checkType === 1 || checkType === 2) check = le32(crc32(data));
    else if (checkType === 4) {
      const c = crc64(data);
      check = [...le32(Number(c & 0xffffffffn)), ...le32(Number(c >> 32n))];
    } else check = new Array<number>(checkSize).fill(0);
  }
  const pad = new Array<number>((4 - (lzma2.length % 4)) % 4).fill(o.blockPadding ?? 0);
  const unpadded = bh.length + lzma2.length + check.length;
  let index = [0x00, ...vli(1), ...vli(unpadded), ...vli(data.length)];
  while (index.length % 4 !== 0) index.push(0);
  index = [...index, ...le32(crc32(new Uint8Array(index)))];
  const ff = [0x00, o.footerFlags ?? flags];
  const back = [...le32(index.length / 4 - 1), ...ff];
  const footer = [...le32(crc32(new Uint8Array(back))), ...back, 0x59, 0x5a];
  return concat(new Uint8Array(header), new Uint8Array(bh), lzma2, new Uint8Array(pad), new Uint8Array(check), new Uint8Array(index), new Uint8Array(footer));
}

describe("xz: hand-built header features", () => {
  const data = genMixed(30_000, 3);
  const raw = xz(["-c", "-T1", "--format=raw", "--lzma2=preset=0"], data);
  const rawArm = xz(["-c", "-T1", "--format=raw", "--arm=start=16", "--lzma2=preset=0"], data);

  it("the builder's output is valid for xz and for us", () => {
    const f = buildXz(raw, data);
    writeFileSync(join(TMP, "built.xz"), f);
    expect(sha(xz(["-dc", join(TMP, "built.xz")]))).toBe(sha(data));
    expect(sha(decompressXz(f).bytes)).toBe(sha(data));
    // Declared sizes that match are accepted.
    const g = buildXz(raw, data, { compressedSize: raw.length, uncompressedSize: data.length });
    expect(sha(decompressXz(g).bytes)).toBe(sha(data));
    // ARM BCJ with a start offset (props = le32 16).
    const h = buildXz(rawArm, data, { filters: [{ id: 0x07, props: le32(16) }, { id: 0x21, props: [0x10] }] });
    expect(sha(decompressXz(h).bytes)).toBe(sha(data));
  });

  it("header errors map to stable codes", () => {
    const lz = { id: 0x21, props: [0x10] };
    expectCode(() => decompressXz(buildXz(raw, data, { compressedSize: raw.length + 4 })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { uncompressedSize: data.length - 1 })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { compressedSize: 0 })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { blockFlagsExtra: 0x04 })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { headerPadding: [0, 1] })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { flags: 0x11 })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { footerFlags: 0x04 })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x30, props: [] }, lz] })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x4000, props: [] }] })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x21, props: [41] }] })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x21, props: [0x50] }] })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x21, props: [0x10, 0] }] })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [lz, lz] })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x04, props: [] }] })), "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { filters: [{ id: 0x04, props: [1, 2] }, lz] })), "codec-corrupt");
    // Start offset not a multiple of the ARM filter's alignment (4): xz refuses it too.
    expectCode(() => decompressXz(buildXz(rawArm, data, { filters: [{ id: 0x07, props: le32(2) }, lz] })), "unsupported");
    expectCode(() => decompressXz(buildXz(raw, data, { blockPadding: 1 })), raw.length % 4 === 0 ? "codec-checksum" : "codec-corrupt");
    expectCode(() => decompressXz(buildXz(raw, data, { check: [1, 2, 3, 4] })), "codec-checksum");
  });

  it("a reserved check ID is skipped, not claimed as checked", () => {
    const r = decompressXz(buildXz(raw, data, { flags: 0x02 }));
    expect(sha(r.bytes)).toBe(sha(data));
    expect(r.checked).toEqual([]);
    const s = decompressXz(buildXz(raw, data, { flags: 0x0d }));
    expect(s.bytes.length).toBe(data.length);
  });
});

// ---------------------------------------------------------------------------
describe("xz: hostile input", () => {
  // Several blocks, x86 BCJ, crc64: every region of the format.
  const DATA = genMixed(16_000, 7);
  const FILE = xz(["-c", "-T1", "--check=crc64", "--x86", "--lzma2=preset=1", "--block-size=4KiB"], DATA);

  /** Regions of FILE: [start, end, allowed codes]. */
  function regions(): [number, number, ErrorCode[], string][] {
    const n = FILE.length;
    const u32 = (at: number): number => ((FILE[at] as number) | ((FILE[at + 1] as number) << 8) | ((FILE[at + 2] as number) << 16) | ((FILE[at + 3] as number) << 24)) >>> 0;
    const indexSize = (u32(n - 8) + 1) * 4;
    const indexStart = n - 12 - indexSize;
    const out: [number, number, ErrorCode[], string][] = [
      [0, 6, ["codec-corrupt"], "header magic"],
      [6, 12, ["codec-checksum"], "stream flags + CRC32"],
    ];
    let q = 12;
    while (q < indexStart) {
      const hs = ((FILE[q] as number) + 1) * 4;
      out.push([q, q + 1, ["codec-checksum", "truncated", "codec-corrupt"], "block header size"]);
      out.push([q + 1, q + hs, ["codec-checksum"], "block header"]);
      // Find the block's end from its index record would need a VLI parse; instead
      // walk the LZMA2 chunks to the end byte.
      let p = q + hs;
      for (;;) {
        const c = FILE[p] as number;
        if (c === 0) break;
        if (c < 0x80) p += 3 + (((FILE[p + 1] as number) << 8) | (FILE[p + 2] as number)) + 1;
        else p += (c >= 0xc0 ? 6 : 5) + (((FILE[p + 3] as number) << 8) | (FILE[p + 4] as number)) + 1;
      }
      const dataEnd = p + 1;
      out.push([q + hs, dataEnd, ["codec-corrupt", "codec-checksum", "truncated"], "LZMA2 data"]);
      let c = dataEnd;
      while ((c - q) % 4 !== 0) c++;
      if (c > dataEnd) out.push([dataEnd, c, ["codec-corrupt"], "block padding"]);
      out.push([c, c + 8, ["codec-checksum"], "block check"]);
      q = c + 8;
    }
    out.push([indexStart, n - 12, ["codec-corrupt", "codec-checksum", "truncated", "unsupported"], "index"]);
    out.push([n - 12, n - 2, ["codec-checksum"], "footer CRC32 / backward size / flags"]);
    out.push([n - 2, n, ["codec-corrupt"], "footer magic"]);
    return out;
  }

  it("the test file is what we think it is", () => {
    expect(sha(decompressXz(FILE).bytes)).toBe(sha(DATA));
    const rs = regions();
    expect(rs.filter((r) => r[3] === "block check").length).toBeGreaterThanOrEqual(3);
    expect(rs.at(-1)?.[1]).toBe(FILE.length);
  });

  it("every truncation throws `truncated`, quickly", () => {
    const t0 = performance.now();
    for (let len = 0; len < FILE.length; len++) expectCode(() => decompressXz(FILE.subarray(0, len)), "truncated");
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it("every byte flip (x ^ 0x01, x ^ 0x80) throws the code of its region, quickly", () => {
    const t0 = performance.now();
    const seen = new Map<string, Set<string>>();
    for (const [start, end, codes, name] of regions()) {
      for (let i = start; i < end; i++) {
        for (const m of [0x01, 0x80]) {
          const bad = FILE.slice();
          bad[i] = (bad[i] as number) ^ m;
          const e = expectCode(() => decompressXz(bad), codes);
          (seen.get(name) ?? seen.set(name, new Set()).get(name))?.add(e.code);
        }
      }
    }
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect([...(seen.get("block check") ?? [])]).toEqual(["codec-checksum"]);
  });

  it("a 1 GiB bomb (8 concatenated 128 MiB zero streams) hits `limit` quickly at maxOutput 64 MiB", () => {
    const one = xz(["-c", "-0", "-T1"], new Uint8Array(128 * 1024 * 1024));
    const bomb = concat(one, one, one, one, one, one, one, one);
    expect(bomb.length).toBeLessThan(200_000);
    let t0 = performance.now();
    expectCode(() => decompressXz(bomb, { maxOutput: 64 * 1024 * 1024 }), "limit");
    expect(performance.now() - t0).toBeLessThan(5_000);
    t0 = performance.now();
    const r = decompressXz(bomb, { maxOutput: 64 * 1024 * 1024, partial: true });
    expect(r.complete).toBe(false);
    expect(r.bytes.length).toBe(64 * 1024 * 1024);
    const words = new Uint32Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.length / 4);
    let nonZero = 0;
    for (let i = 0; i < words.length; i++) nonZero |= words[i] as number;
    expect(nonZero).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("a block header declaring more than maxOutput is refused before decoding", () => {
    // (xz -T2 writes sizes into block headers; the builder does the same.)
    const data = new Uint8Array(1000);
    const raw = xz(["-c", "-T1", "--format=raw", "--lzma2=preset=0"], data);
    expectCode(() => decompressXz(buildXz(raw, data, { uncompressedSize: 100 * 1024 * 1024 }), { maxOutput: 1 << 20 }), "limit");
    // Without the cap, the lie is a size mismatch.
    expectCode(() => decompressXz(buildXz(raw, data, { uncompressedSize: 100 * 1024 * 1024 })), "codec-corrupt");
  });

  it("property: random mutations only ever throw KimageError", () => {
    const small = xz(["-c", "-T1", "--check=crc32", "--x86", "--lzma2=preset=0", "--block-size=2KiB"], DATA.subarray(0, 6000));
    const t0 = performance.now();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: small.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat({ max: small.length }), { nil: undefined }),
        fc.boolean(),
        (edits, cut, withTrailer) => {
          let bad: Uint8Array = small.slice();
          for (const [at, v] of edits) bad[at] = v;
          if (cut !== undefined) bad = bad.subarray(0, cut);
          if (withTrailer) bad = concat(bad, new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]));
          try {
            const r = decompressXz(bad, { maxOutput: 1 << 20 });
            expect(r.bytes.length).toBeLessThanOrEqual(1 << 20);
          } catch (e) {
            if (!(e instanceof KimageError)) throw e;
          }
        },
      ),
      { numRuns: 600, seed: 42 },
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});

// ---------------------------------------------------------------------------
// The real kernel payloads: x86 bzImage, payload at (setup_sects + 1) * 512 + payload_offset.

interface Payload {
  name: string;
  bytes: Uint8Array;
  size: number;
}

function bzImagePayload(file: Uint8Array): Payload {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const setup = file[0x1f1] || 4;
  const off = (setup + 1) * 512 + dv.getUint32(0x248, true);
  const len = dv.getUint32(0x24c, true);
  const bytes = file.subarray(off, off + len);
  return { name: "", bytes, size: dv.getUint32(off + len - 4, true) };
}

const REAL = requireReal("bookworm x86 kernels with xz payloads", (f) => f.kind === "kernel" && f.suite === "bookworm" && (f.arch === "amd64" || f.arch === "i386"));
const AMD64 = REAL.find((f) => f.arch === "amd64" && f.signedPackage) ?? REAL.find((f) => f.arch === "amd64");

describe("xz: real bookworm kernel payloads", () => {
  it.skipIf(!AMD64)("amd64 payload: sha256 equals `xz -dc`, length equals the le32 trailer; speed vs xz -dc", () => {
    const p = bzImagePayload(readBytes((AMD64 as NonNullable<typeof AMD64>).abs));
    const path = join(TMP, "payload.xz");
    writeFileSync(path, p.bytes);
    const t0 = performance.now();
    const r = decompressXz(p.bytes, { expectedSize: p.size });
    const first = performance.now() - t0;
    expect(r.bytes.length).toBe(p.size);
    expect(r.consumed).toBe(p.bytes.length - 4);
    expect(r.checked).toEqual(["crc32"]);
    // `--single-stream` ignores the 4-byte size trailer like the kernel does.
    expect(sha(r.bytes)).toBe(sha(xz(["-dc", "--single-stream", path])));

    // Speed: our in-process decode (warm) vs the whole `xz -dc payload > /dev/null` process.
    let t = performance.now();
    decompressXz(p.bytes, { expectedSize: p.size });
    const ours = performance.now() - t;
    t = performance.now();
    const x = spawnSync("xz", ["-dc", "--single-stream", path], { stdio: ["ignore", "ignore", "pipe"] });
    if (x.error || x.status !== 0) throw x.error ?? new Error("xz -dc failed");
    const native = performance.now() - t;
    const mb = p.size / 1e6;
    console.log(
      `xz payload ${mb.toFixed(1)} MB: kimage first call ${first.toFixed(0)} ms (${(mb / (first / 1000)).toFixed(1)} MB/s), ` +
        `warm ${ours.toFixed(0)} ms (${(mb / (ours / 1000)).toFixed(1)} MB/s); xz -dc ${native.toFixed(0)} ms; ratio ${(ours / native).toFixed(2)}x`,
    );
    // The target is <= 2.5x; the assertion leaves room for a loaded machine.
    expect(ours / native).toBeLessThan(4);
  });

  it.skipIf(!AMD64)("amd64 payload: partial peek, truncations and flips", () => {
    const p = bzImagePayload(readBytes((AMD64 as NonNullable<typeof AMD64>).abs));
    const b = p.bytes;
    // Peek at the first 1 MiB cheaply (what `inspect` does).
    let t0 = performance.now();
    const peek = decompressXz(b, { maxOutput: 1 << 20, partial: true });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(peek.complete).toBe(false);
    expect(peek.bytes.length).toBe(1 << 20);
    const path = join(TMP, "payload2.xz");
    writeFileSync(path, b);
    const head = xz(["-dc", "--single-stream", path]).subarray(0, 1 << 20);
    expect(sha(peek.bytes)).toBe(sha(head));
    // ELF magic: the payload is vmlinux.
    expect([...peek.bytes.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);

    t0 = performance.now();
    const end = b.length - 4; // the stream without the size trailer
    for (const cut of [3, 20, 100, end - 6]) expectCode(() => decompressXz(b.subarray(0, cut)), "truncated");
    // The block's CRC32 sits just before the index (index of one record: 12 bytes here or so).
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const indexSize = (dv.getUint32(end - 8, true) + 1) * 4;
    const checkAt = end - 12 - indexSize - 4;
    const flipped = (at: number): Uint8Array => {
      const c = b.slice();
      c[at] = (c[at] as number) ^ 0x20;
      return c;
    };
    // (Index and footer flips are covered byte by byte on the small file above.)
    expectCode(() => decompressXz(flipped(checkAt)), "codec-checksum");
    expectCode(() => decompressXz(flipped(14)), "codec-checksum"); // block header
    expectCode(() => decompressXz(flipped(Math.floor(end / 2))), ["codec-corrupt", "codec-checksum", "truncated"]);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  const I386 = REAL.find((f) => f.arch === "i386");
  if (AMD64 && !I386) console.warn("SKIP: no bookworm i386 kernel fixture (optional second xz payload)");
  it.skipIf(!I386)("i386 payload: sha256 equals `xz -dc`", () => {
    const p = bzImagePayload(readBytes((I386 as NonNullable<typeof I386>).abs));
    const path = join(TMP, "payload-i386.xz");
    writeFileSync(path, p.bytes);
    const r = decompressXz(p.bytes, { expectedSize: p.size });
    expect(r.consumed).toBe(p.bytes.length - 4);
    expect(sha(r.bytes)).toBe(sha(xz(["-dc", "--single-stream", path])));
  });
});
