/**
 * The streaming `.lzma` decoder (createLzmaStreamDecoder) against the native
 * `lzma` / `xz --format=lzma` (xz-utils 5.4.1) and the one-shot decoder:
 * presets, dictionaries (4 KiB: the window wraps), lc/lp/pb, the kernel's
 * `lzma -9` + le32 size form, known sizes with and without an end marker,
 * fed in seeded random chunk sizes and 1 byte at a time (symbols only start
 * with 21 bytes at hand); truncations and byte flips (the same outcome as
 * the one-shot decoder), limits, and a bomb decoded with bounded memory.
 */
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLzmaStreamDecoder, decompressLzma } from "../../src/codecs/lzma-alone.js";
import { decodeStream } from "../../src/codecs/stream.js";
import { decompressXz } from "../../src/codecs/xz.js";
import { KimageError } from "../../src/core/errors.js";
import { concat, expectKimageError, outcome, rng, sha, streamDecode, tool } from "../support/codec.js";
import { readBytes, requireReal } from "../support/real.js";

/** Compressible mixed data with matches at many distances. */
function genMixed(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const x = r() % 10;
    if (x < 4 && i > 100) {
      const dist = 1 + (r() % Math.min(i, r() & 1 ? 32 : 100_000));
      const len = 2 + (r() % 60);
      for (let k = 0; k < len && i < n; k++, i++) out[i] = out[i - dist] as number;
    } else if (x < 7) {
      out[i++] = 0x61 + (r() % 6);
    } else {
      out[i++] = r() & 0xff;
    }
  }
  return out;
}

function le64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

const DATA = genMixed(300_000, 1);
const SMALL = genMixed(20_000, 2);
const SIZES = (max: number, seeds = [1, 2, 3]): { max: number; seed: number }[] => seeds.map((seed) => ({ max, seed }));

/** Streams `comp` at every chunking and checks output and `consumed` against the one-shot decoder. */
function expectStreams(comp: Uint8Array, want: Uint8Array, sizes: (number | { max: number; seed: number })[], chunkSize?: number): void {
  const one = decompressLzma(comp);
  expect(sha(one.bytes)).toBe(sha(want));
  for (const s of sizes) {
    const r = streamDecode("lzma", comp, s, chunkSize === undefined ? {} : { chunkSize });
    expect(sha(r.bytes), `chunking ${JSON.stringify(s)}`).toBe(sha(want));
    expect(r.decoder.complete).toBe(true);
    expect(r.decoder.consumed).toBe(one.consumed);
    expect(r.decoder.produced).toBe(want.length);
    expect(r.decoder.checked).toEqual([]);
    for (const c of r.chunks) expect(c).toBeLessThanOrEqual(Math.max(chunkSize ?? 1 << 20, 1 << 12));
  }
}

describe("lzma streaming: round trips against lzma / xz --format=lzma", () => {
  const cases: [string, string, string[]][] = [
    ["lzma -9 (64 MiB dictionary, as kbuild)", "lzma", ["-9"]],
    ["lzma -0", "lzma", ["-0"]],
    ["xz --format=lzma, 4 KiB dictionary: the window wraps", "xz", ["--format=lzma", "--lzma1=preset=1,dict=4KiB"]],
    ["lc=0,lp=4,pb=4", "xz", ["--format=lzma", "--lzma1=preset=2,lc=0,lp=4,pb=4"]],
    ["4 KiB dictionary, lc=1,lp=3,pb=4: positions modulo 16 across wraps", "xz", ["--format=lzma", "--lzma1=preset=1,dict=4KiB,lc=1,lp=3,pb=4"]],
    ["lc=4,lp=0,pb=0", "xz", ["--format=lzma", "--lzma1=preset=2,lc=4,lp=0,pb=0"]],
  ];
  for (const [name, cmd, args] of cases) {
    it(`${name}: random chunk sizes and 1-byte chunks`, () => {
      const comp = tool(cmd, ["-c", "-T1", ...args], DATA);
      expectStreams(comp, DATA, [comp.length, ...SIZES(60_000), ...SIZES(50, [4]), 21, 22, 42, 43]);
      expectStreams(comp, DATA, SIZES(8_000, [5]), 4096);
      expectStreams(tool(cmd, ["-c", "-T1", ...args], SMALL), SMALL, [1, 2, 3]);
    });
  }

  it("empty and incompressible input", () => {
    const e = tool("lzma", ["-c", "-T1"], new Uint8Array(0));
    expectStreams(e, new Uint8Array(0), [1, e.length]);
    const r = rng(5);
    const rnd = new Uint8Array(100_000).map(() => r() & 0xff);
    expectStreams(tool("lzma", ["-c", "-T1"], rnd), rnd, [1, ...SIZES(30_000)]);
  });

  it("kernel style: `lzma -9` of vmlinux bytes followed by a le32 size: the trailer is not consumed", () => {
    const real = requireReal("a bookworm amd64 kernel for vmlinux bytes", (f) => f.kind === "kernel" && f.suite === "bookworm" && f.arch === "amd64")[0];
    let vmlinux = genMixed(1_500_000, 3);
    if (real) {
      const file = readBytes(real.abs);
      const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
      const off = ((file[0x1f1] || 4) + 1) * 512 + dv.getUint32(0x248, true);
      vmlinux = decompressXz(file.subarray(off, off + dv.getUint32(0x24c, true)), { maxOutput: 3_000_000, partial: true }).bytes;
    }
    const comp = tool("lzma", ["-9", "-c", "-T1"], vmlinux);
    const trailer = new Uint8Array(4);
    new DataView(trailer.buffer).setUint32(0, vmlinux.length, true);
    const payload = concat(comp, trailer);
    for (const s of [payload.length, 65_536, ...SIZES(100_000)]) {
      const r = streamDecode("lzma", payload, s, { expectedSize: vmlinux.length });
      expect(sha(r.bytes)).toBe(sha(vmlinux));
      expect(r.decoder.consumed).toBe(comp.length);
    }
  });

  it("known size with an end marker and without one; wrong declared sizes as the one-shot decoder", () => {
    const comp = tool("lzma", ["-c", "-T1", "-1"], DATA);
    const known = concat(comp.subarray(0, 5), le64(DATA.length), comp.subarray(13));
    expectStreams(known, DATA, [1, known.length, ...SIZES(20_000)]);
    // Without an end marker: the single chunk of a raw LZMA2 stream is LZMA1 data of known size.
    const small = DATA.subarray(0, 60_000);
    const raw = tool("xz", ["-c", "-T1", "--format=raw", "--lzma2=preset=6,dict=1MiB"], small);
    const csize = ((raw[3] as number) << 8) + (raw[4] as number) + 1;
    expect(raw[6 + csize]).toBe(0);
    const body = raw.subarray(6, 6 + csize);
    const mk = (size: number): Uint8Array => concat(new Uint8Array([raw[5] as number, 0, 0, 0x10, 0]), le64(size), body);
    const noMarker = mk(small.length);
    expectStreams(noMarker, small, [1, noMarker.length, ...SIZES(5_000)]);
    // Followed by other bytes: they are not consumed.
    const r = streamDecode("lzma", concat(noMarker, new Uint8Array(100).fill(7)), 33);
    expect(r.decoder.consumed).toBe(noMarker.length);
    for (const bad of [mk(small.length - 1), mk(small.length + 1), concat(comp.subarray(0, 5), le64(DATA.length + 10), comp.subarray(13))]) {
      const one = outcome(() => decompressLzma(bad).bytes);
      expect("code" in one).toBe(true);
      for (const s of [1, bad.length, ...SIZES(7_000)]) expect(outcome(() => streamDecode("lzma", bad, s).bytes)).toEqual(one);
    }
  });

  it("maxOutput (exactly at the end marker: complete), expectedSize, header checks: the one-shot decoder's codes and offsets", () => {
    const comp = tool("lzma", ["-c", "-T1", "-2"], DATA);
    const same = (input: Uint8Array, opts: { maxOutput?: number; expectedSize?: number; base?: number }): void => {
      const one = outcome(() => decompressLzma(input, opts).bytes);
      for (const s of [1, input.length, ...SIZES(20_000)]) expect(outcome(() => streamDecode("lzma", input, s, opts).bytes)).toEqual(one);
    };
    same(comp, { maxOutput: DATA.length });
    same(comp, { maxOutput: DATA.length - 1 });
    same(comp, { maxOutput: 100_000, base: 9 });
    same(comp, { maxOutput: 0 });
    same(comp, { expectedSize: 5 });
    same(comp, { expectedSize: DATA.length });
    same(comp.subarray(0, 12), {});
    same(comp.subarray(0, 17), {});
    const badProps = comp.slice();
    badProps[0] = 225;
    same(badProps, {});
    same(badProps.subarray(0, 5), {});
    const firstByte = comp.slice();
    firstByte[13] = 1;
    same(firstByte, {});
    same(concat(comp.subarray(0, 5), le64(2 ** 40), comp.subarray(13)), {});
    expect(outcome(() => streamDecode("lzma", comp.subarray(0, 100), 7, { base: 5000 }).bytes)).toMatchObject({ code: "truncated", offset: 5100 });
  });

  it("decodeStream (AsyncIterable)", async () => {
    const comp = tool("lzma", ["-c", "-T1", "-2"], DATA);
    const parts: Uint8Array[] = [];
    const it = decodeStream("lzma", (function* () {
      for (let at = 0; at < comp.length; at += 1000) yield comp.subarray(at, at + 1000);
    })(), { chunkSize: 50_000 });
    let res = await it.next();
    while (!res.done) {
      expect(res.value.length).toBeLessThanOrEqual(50_000);
      parts.push(res.value);
      res = await it.next();
    }
    expect(sha(concat(...parts))).toBe(sha(DATA));
    expect(res.value).toEqual({ codec: "lzma", consumed: comp.length, produced: DATA.length, checked: [] });
  });
});

describe("lzma streaming: hostile input", () => {
  const FILE = tool("lzma", ["-c", "-T1", "-1"], genMixed(12_000, 9));

  it("every truncation: `truncated` at the one-shot decoder's offset", () => {
    for (let len = 0; len < FILE.length; len++) {
      const cut = FILE.subarray(0, len);
      const one = outcome(() => decompressLzma(cut).bytes);
      expect(one).toMatchObject({ code: "truncated", offset: len });
      expect(outcome(() => streamDecode("lzma", cut, { max: 200, seed: len }).bytes)).toEqual(one);
      if (len % 53 === 0) expect(outcome(() => streamDecode("lzma", cut, 1).bytes)).toEqual(one);
    }
  });

  it("every byte flip (x ^ 0x01, x ^ 0x80): the one-shot decoder's outcome (no checksum: some decode)", () => {
    // Within the declared dictionary (`lzma -1`: 1 MiB) both decoders check the same distances.
    for (let i = 0; i < FILE.length; i++) {
      for (const m of [0x01, 0x80]) {
        if (i >= 1 && i < 5) continue; // the dictionary size itself (the streaming window)
        const bad = FILE.slice();
        bad[i] = (bad[i] as number) ^ m;
        const one = outcome(() => decompressLzma(bad, { maxOutput: 1 << 20 }).bytes);
        expect(outcome(() => streamDecode("lzma", bad, { max: i % 2 === 0 ? 30 : 500, seed: i + m }, { maxOutput: 1 << 20 }).bytes), `flip ${m} at ${i}`).toEqual(one);
      }
    }
  });

  it("property: random mutations only ever throw KimageError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: FILE.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat({ max: FILE.length }), { nil: undefined }),
        fc.integer({ min: 1, max: 2000 }),
        (edits, cut, chunk) => {
          let bad: Uint8Array = FILE.slice();
          for (const [at, v] of edits) bad[at] = v;
          if (cut !== undefined) bad = bad.subarray(0, cut);
          try {
            const r = streamDecode("lzma", bad, { max: chunk, seed: chunk }, { maxOutput: 1 << 20 });
            expect(r.bytes.length).toBeLessThanOrEqual(1 << 20);
          } catch (e) {
            if (!(e instanceof KimageError)) throw e;
          }
        },
      ),
      { numRuns: 400, seed: 7 },
    );
  });

  it("a bomb (256 MiB of zeros, 8 MiB dictionary): live memory of one window + one chunk; `limit` at 64 MiB", () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const bomb = tool("xz", ["-c", "-T1", "--format=lzma", "--lzma1=preset=0,dict=8MiB"], new Uint8Array(256 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100_000);
    expectKimageError(() => streamDecode("lzma", bomb, 65_536, { maxOutput: 64 * 1024 * 1024 }), "limit", "lzma");

    gc();
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    let produced = 0;
    let peak = 0;
    let next = 32 << 20;
    let biggest = 0;
    const d = createLzmaStreamDecoder((c) => {
      produced += c.length;
      biggest = Math.max(biggest, c.length);
      if (produced >= next) {
        next += 32 << 20;
        gc();
        gc();
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
      }
    });
    for (let at = 0; at < bomb.length; at += 4096) d.write(bomb.subarray(at, at + 4096));
    d.end();
    console.log(`lzma stream bomb: 256 MiB; peak live ArrayBuffer memory ${(peak / 2 ** 20).toFixed(2)} MiB over the baseline`);
    expect(produced).toBe(256 * 1024 * 1024);
    expect(d.consumed).toBe(bomb.length);
    expect(biggest).toBeLessThanOrEqual(1 << 20);
    expect(peak).toBeGreaterThan(8 << 20);
    expect(peak).toBeLessThan((8 << 20) + (1 << 20) + (1 << 20));
  });
});
