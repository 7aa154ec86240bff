/**
 * The `.lzma` (LZMA alone) decoder against the native `lzma` / `xz
 * --format=lzma` (xz-utils 5.4.1): round trips over presets and lc/lp/pb,
 * the unknown-size + end-marker form the kernel uses (`lzma -9`, followed by
 * a le32 size), the known-size forms (with and without an end marker), caps
 * and partial output, truncations, byte flips, a bomb, and a fast-check
 * property that no mutation throws anything but a KimageError.
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLzmaProps } from "../../src/codecs/lzma.js";
import { decompressLzma } from "../../src/codecs/lzma-alone.js";
import type { Decoder } from "../../src/codecs/types.js";
import { decompressXz } from "../../src/codecs/xz.js";
import { type ErrorCode, KimageError } from "../../src/core/errors.js";
import { concat, expectKimageError, rng, sha } from "../support/codec.js";
import { readBytes, requireReal } from "../support/real.js";

/** Runs a native tool; throws (never skips) when it is missing or fails. */
function tool(cmd: string, args: string[], input?: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}




const expectCode = (f: () => unknown, codes: ErrorCode | ErrorCode[]): KimageError => expectKimageError(f, codes, "lzma");

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

const DATA = genMixed(400_000, 1);

describe("lzma: round trips against lzma / xz --format=lzma", () => {
  const cases: [string, string, string[]][] = [
    ["lzma -c (preset 6)", "lzma", ["-c", "-T1"]],
    ["lzma -0", "lzma", ["-c", "-T1", "-0"]],
    ["lzma -9e", "lzma", ["-c", "-T1", "-9e"]],
    ["xz --format=lzma", "xz", ["-c", "-T1", "--format=lzma"]],
    ["lc=0,lp=4,pb=4", "xz", ["-c", "-T1", "--format=lzma", "--lzma1=preset=1,lc=0,lp=4,pb=4"]],
    ["lc=4,lp=0,pb=0", "xz", ["-c", "-T1", "--format=lzma", "--lzma1=preset=1,lc=4,lp=0,pb=0"]],
    ["lc=1,lp=1,pb=1, 4 KiB dictionary", "xz", ["-c", "-T1", "--format=lzma", "--lzma1=preset=1,lc=1,lp=1,pb=1,dict=4KiB"]],
  ];
  for (const [name, cmd, args] of cases) {
    it(name, () => {
      const comp = tool(cmd, args, DATA);
      // The alone encoder always writes "unknown size" and an end marker.
      expect([...comp.subarray(5, 13)]).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
      const r = decompressLzma(comp);
      expect(sha(r.bytes)).toBe(sha(DATA));
      expect(r.consumed).toBe(comp.length);
      expect(r.complete).toBe(true);
      expect(r.checked).toEqual([]);
      expect(r.codec).toBe("lzma");
    });
  }

  it("decompressLzma is a Decoder", () => {
    const d: Decoder = decompressLzma;
    expect(d(tool("lzma", ["-c"], new Uint8Array([1, 2, 3]))).bytes.length).toBe(3);
  });

  it("properties byte", () => {
    expect(decodeLzmaProps(0x5d)).toEqual({ lc: 3, lp: 0, pb: 2 });
    expect(decodeLzmaProps(0)).toEqual({ lc: 0, lp: 0, pb: 0 });
    expect(decodeLzmaProps(224)).toEqual({ lc: 8, lp: 4, pb: 4 });
    expect(decodeLzmaProps(225)).toBeNull();
  });

  it("empty input and incompressible input", () => {
    const e = tool("lzma", ["-c"], new Uint8Array(0));
    expect(decompressLzma(e).bytes.length).toBe(0);
    expect(decompressLzma(e).consumed).toBe(e.length);
    const r = rng(5);
    const rnd = new Uint8Array(100_000).map(() => r() & 0xff);
    expect(sha(decompressLzma(tool("lzma", ["-c", "-T1"], rnd)).bytes)).toBe(sha(rnd));
  });

  it("kernel style: `lzma -9` of vmlinux bytes followed by a le32 size", () => {
    // Real x86 code when the fixtures are there (decoded from the bookworm
    // payload with our xz decoder, partial), else generated data.
    const real = requireReal("a bookworm amd64 kernel for vmlinux bytes", (f) => f.kind === "kernel" && f.suite === "bookworm" && f.arch === "amd64")[0];
    let vmlinux = genMixed(1_500_000, 3);
    if (real) {
      const file = readBytes(real.abs);
      const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
      const off = ((file[0x1f1] || 4) + 1) * 512 + dv.getUint32(0x248, true);
      vmlinux = decompressXz(file.subarray(off, off + dv.getUint32(0x24c, true)), { maxOutput: 1_500_000, partial: true }).bytes;
    }
    const comp = tool("lzma", ["-9", "-c", "-T1"], vmlinux);
    const trailer = new Uint8Array(4);
    new DataView(trailer.buffer).setUint32(0, vmlinux.length, true);
    const payload = concat(comp, trailer);
    const r = decompressLzma(payload, { expectedSize: vmlinux.length });
    expect(r.consumed).toBe(comp.length);
    expect(sha(r.bytes)).toBe(sha(vmlinux));
  });

  it("known size with an end marker (xz 5.4 accepts it) and without one", () => {
    const comp = tool("lzma", ["-c", "-T1", "-1"], DATA);
    const known = concat(comp.subarray(0, 5), le64(DATA.length), comp.subarray(13));
    expect(sha(tool("xz", ["-dc", "--format=lzma"], known))).toBe(sha(DATA));
    expect(sha(decompressLzma(known).bytes)).toBe(sha(DATA));
    expect(decompressLzma(known).consumed).toBe(known.length);

    // Without an end marker: a single-chunk LZMA2 stream's chunk is exactly
    // LZMA1 data of a known size with no marker.
    const small = DATA.subarray(0, 60_000);
    const raw = tool("xz", ["-c", "-T1", "--format=raw", "--lzma2=preset=6,dict=1MiB"], small);
    const ctrl = raw[0] as number;
    expect(ctrl).toBeGreaterThanOrEqual(0xe0);
    const usize = ((ctrl & 0x1f) << 16) + ((raw[1] as number) << 8) + (raw[2] as number) + 1;
    const csize = ((raw[3] as number) << 8) + (raw[4] as number) + 1;
    expect(usize).toBe(small.length);
    expect(raw[6 + csize]).toBe(0); // the LZMA2 end byte: one chunk only
    const props = raw[5] as number;
    const body = raw.subarray(6, 6 + csize);
    const mk = (size: number): Uint8Array => concat(new Uint8Array([props, 0, 0, 0x10, 0]), le64(size), body);
    const noMarker = mk(small.length);
    expect(sha(tool("xz", ["-dc", "--format=lzma"], noMarker))).toBe(sha(small));
    const r = decompressLzma(noMarker);
    expect(sha(r.bytes)).toBe(sha(small));
    expect(r.consumed).toBe(noMarker.length);
    // Declared sizes that are wrong.
    expectCode(() => decompressLzma(mk(small.length - 1)), "codec-corrupt");
    expectCode(() => decompressLzma(mk(small.length + 1)), ["truncated", "codec-corrupt"]);
    // An end marker before the declared size.
    expectCode(() => decompressLzma(concat(comp.subarray(0, 5), le64(DATA.length + 10), comp.subarray(13))), "codec-corrupt");
  });

  it("maxOutput, partial, expectedSize, header checks", () => {
    const comp = tool("lzma", ["-c", "-T1", "-2"], DATA);
    expectCode(() => decompressLzma(comp, { maxOutput: DATA.length - 1 }), "limit");
    // Exactly at the cap: the end marker right there makes it complete.
    const exact = decompressLzma(comp, { maxOutput: DATA.length });
    expect(exact.complete).toBe(true);
    expect(decompressLzma(comp, { maxOutput: DATA.length, partial: true }).complete).toBe(true);
    for (const cut of [0, 1, 2, 1000, 65_535, 65_536, 65_537, 200_001, DATA.length - 1]) {
      const r = decompressLzma(comp, { maxOutput: cut, partial: true });
      expect(r.complete).toBe(false);
      expect(sha(r.bytes)).toBe(sha(DATA.subarray(0, cut)));
    }
    expectCode(() => decompressLzma(comp, { expectedSize: 5 }), "codec-size-mismatch");
    expectCode(() => decompressLzma(comp.subarray(0, 12)), "truncated");
    const badProps = comp.slice();
    badProps[0] = 225;
    expectCode(() => decompressLzma(badProps), "codec-corrupt");
    const firstByte = comp.slice();
    firstByte[13] = 1; // the range coder's first byte must be 0
    expectCode(() => decompressLzma(firstByte), "codec-corrupt");
    // A header claiming 1 TiB: refused at once, nothing allocated for it.
    const t0 = performance.now();
    const huge = concat(comp.subarray(0, 5), le64(2 ** 40), comp.subarray(13));
    expectCode(() => decompressLzma(huge), "limit");
    expect(decompressLzma(huge, { maxOutput: 1000, partial: true }).bytes.length).toBe(1000);
    expect(performance.now() - t0).toBeLessThan(1000);
    // Errors carry absolute offsets.
    expect(expectCode(() => decompressLzma(comp.subarray(0, 100), { base: 5000 }), "truncated").offset).toBe(5100);
  });
});

describe("lzma: hostile input", () => {
  const SMALL = genMixed(20_000, 9);
  const FILE = tool("lzma", ["-c", "-T1", "-1"], SMALL);

  it("every truncation throws `truncated`, quickly", () => {
    const t0 = performance.now();
    for (let len = 0; len < FILE.length; len++) expectCode(() => decompressLzma(FILE.subarray(0, len)), "truncated");
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it("every byte flip either throws a KimageError or decodes (no checksum in .lzma), quickly", () => {
    const t0 = performance.now();
    let thrown = 0;
    let total = 0;
    for (let i = 0; i < FILE.length; i++) {
      for (const m of [0x01, 0x80]) {
        const bad = FILE.slice();
        bad[i] = (bad[i] as number) ^ m;
        total++;
        try {
          decompressLzma(bad, { maxOutput: 1 << 20 });
        } catch (e) {
          if (!(e instanceof KimageError)) throw e;
          expect(["truncated", "codec-corrupt", "limit"]).toContain(e.code);
          thrown++;
        }
      }
    }
    // Without a checksum some flips decode to other bytes, but most are caught.
    expect(thrown / total).toBeGreaterThan(0.5);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it("a bomb (96 MiB of zeros) hits `limit` quickly at maxOutput 64 MiB", () => {
    const bomb = tool("lzma", ["-c", "-0", "-T1"], new Uint8Array(96 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100_000);
    let t0 = performance.now();
    expectCode(() => decompressLzma(bomb, { maxOutput: 64 * 1024 * 1024 }), "limit");
    expect(performance.now() - t0).toBeLessThan(5_000);
    t0 = performance.now();
    const r = decompressLzma(bomb, { maxOutput: 64 * 1024 * 1024, partial: true });
    expect(r.complete).toBe(false);
    expect(r.bytes.length).toBe(64 * 1024 * 1024);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("property: random mutations only ever throw KimageError", () => {
    const small = tool("lzma", ["-c", "-T1", "-0"], SMALL.subarray(0, 5000));
    const t0 = performance.now();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: small.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat({ max: small.length }), { nil: undefined }),
        (edits, cut) => {
          let bad: Uint8Array = small.slice();
          for (const [at, v] of edits) bad[at] = v;
          if (cut !== undefined) bad = bad.subarray(0, cut);
          try {
            const r = decompressLzma(bad, { maxOutput: 1 << 20 });
            expect(r.bytes.length).toBeLessThanOrEqual(1 << 20);
          } catch (e) {
            if (!(e instanceof KimageError)) throw e;
          }
        },
      ),
      { numRuns: 600, seed: 7 },
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
