/**
 * The streaming lz4 decoder: byte-exact against lz4(1) and the one-shot
 * decoder at random chunk sizes and 1-byte chunks (legacy and frame formats,
 * block checksums, dependent and stored blocks, skippable and concatenated
 * frames); the same errors as the one-shot decoder; bounded memory on a bomb.
 */
import { describe, expect, it } from "vitest";
import { createLz4StreamDecoder, decompressLz4 } from "../../src/codecs/lz4.js";
import type { StreamDecodeOptions } from "../../src/codecs/stream.js";
import { assertStreamMatchesOneShot, chunkLabel, chunkings, concat, errorAt, generated, le32, realKernelBytes, sha, streamRun, time, tool } from "../support/codec.js";

const data = generated(1 << 20, 51);
const kernel = realKernelBytes(4 << 20, "lz4 streaming");
/** What the kernel's cmd_lz4 runs. */
const LEGACY = ["-l", "-12", "--favor-decSpeed"];
const run = (input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}) =>
  streamRun((sink) => createLz4StreamDecoder(sink, options), input, sizes);
const streamError = (input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}): string =>
  errorAt(() => run(input, sizes, options), "lz4");

describe("lz4 streaming: byte-exact against lz4(1)", () => {
  const variants: string[][] = [LEGACY, ["-12"], ["-12", "--content-size"], ["-9", "-BD", "-B4"], ["-12", "--no-frame-crc"], ["-1", "-BX", "-B4"], ["-1", "-B7", "-BD", "-BX"]];
  for (const args of variants) {
    it(`lz4 ${args.join(" ")}: every chunking`, () => {
      const z = tool("lz4", ["-q", "-c", ...args], data);
      const small = data.subarray(0, 150_000);
      const zs = tool("lz4", ["-q", "-c", ...args], small);
      for (const [input, want] of [[z, data], [zs, small]] as const) {
        for (const sizes of chunkings(input, 100_000)) {
          const r = run(input, sizes);
          expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(want));
          expect(r.consumed).toBe(input.length);
          expect(r.complete).toBe(true);
          expect(r.checked).toEqual(decompressLz4(input).checked);
        }
      }
      if (!args.includes("-l") && !args.includes("--no-frame-crc")) expect(run(z, 4096).checked).toContain("content-xxh32");
      if (args.includes("-BX")) expect(run(z, 4096).checked).toContain("block-xxh32");
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, lz4 -l -12 --favor-decSpeed and lz4 -12 -BD, with the le32 size trailer", () => {
    const k = kernel as Uint8Array;
    for (const args of [LEGACY, ["-12", "-BD"]]) {
      const z = tool("lz4", ["-q", "-c", ...args], k);
      const input = concat(z, le32(k.length));
      for (const sizes of [{ max: 1 << 16, seed: 1 }, { max: 1 << 20, seed: 2 }]) {
        const r = run(input, sizes, { expectedSize: k.length });
        expect(sha(r.bytes)).toBe(sha(k));
        expect(r.consumed).toBe(z.length);
      }
    }
  });

  it("legacy: the size trailer ends the stream even when it looks like a block size; multi-block streams", () => {
    for (const size of [1, 1000, 70_000, 1 << 20]) {
      const d = data.subarray(0, size);
      const z = tool("lz4", ["-q", "-c", ...LEGACY], d);
      const input = concat(z, le32(size), Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6));
      for (const sizes of size <= 70_000 ? [1, { max: 100, seed: size }] : [{ max: 5000, seed: size }]) {
        const r = run(input, sizes);
        expect(sha(r.bytes)).toBe(sha(d));
        expect(r.consumed).toBe(z.length);
      }
    }
    // 9 MiB: two legacy blocks of up to 8 MiB
    const big = new Uint8Array(9 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (Math.imul(i, 2654435761) >>> 29) & (i >>> 12);
    const z = tool("lz4", ["-q", "-c", "-l", "-1"], big);
    const input = concat(z, le32(big.length));
    for (const sizes of [{ max: 1 << 16, seed: 3 }, { max: 1 << 22, seed: 4 }]) {
      const r = run(input, sizes);
      expect(sha(r.bytes)).toBe(sha(big));
      expect(r.consumed).toBe(z.length);
      expect(Math.max(...r.chunks)).toBeLessThanOrEqual(1 << 20);
    }
  });

  it("skippable frames, concatenated frames, stored blocks, empty input", () => {
    const a = tool("lz4", ["-q", "-c", "-BD", "-BX"], data.subarray(0, 5000));
    const b = tool("lz4", ["-q", "-c", "-l"], data.subarray(5000, 9000));
    const noise = new Uint8Array(300_000);
    let x = 1;
    for (let i = 0; i < noise.length; i++) noise[i] = (x = Math.imul(x, 1103515245) + 12345) >>> 24;
    const c = tool("lz4", ["-q", "-c", "-BX", "-B4"], noise);
    const e = tool("lz4", ["-q", "-c"], new Uint8Array(0));
    const skip = concat(le32(0x184d2a51), le32(2), Uint8Array.of(1, 2));
    const input = concat(skip, a, e, c, skip, b, Uint8Array.of(7, 7, 7));
    const want = concat(data.subarray(0, 5000), noise, data.subarray(5000, 9000));
    const one = decompressLz4(input);
    expect(sha(one.bytes)).toBe(sha(want));
    for (const sizes of chunkings(input, 0)) {
      const r = run(input, sizes);
      expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(want));
      expect(r.consumed).toBe(one.consumed);
    }
    const small = concat(skip, a, e, b);
    const r = run(small, 1);
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 9000)));
    expect(r.consumed).toBe(small.length);
  });
});

describe("lz4 streaming: errors as the one-shot decoder reports them", () => {
  const frame = tool("lz4", ["-q", "-c", "-9", "-BX", "--content-size"], data.subarray(0, 300_000));
  const legacy = tool("lz4", ["-q", "-c", ...LEGACY], data.subarray(0, 300_000));

  it("truncation anywhere: the same code and offset, from end()", () => {
    for (const [z, options] of [[frame, {}], [legacy, { expectedSize: 300_000 }]] as const) {
      for (let cut = 0; cut < z.length; cut += Math.max(1, Math.floor(z.length / 60))) {
        const b = z.subarray(0, cut);
        const want = errorAt(() => decompressLz4(b, options));
        expect(want).not.toBe("ok");
        for (const sizes of [1, { max: 3000, seed: cut }]) expect(streamError(b, sizes, options), `cut ${cut}`).toBe(want);
      }
    }
  });

  it("header, checksum and size errors: same code and offset", () => {
    const f = (b0: Uint8Array, i: number, x: number): Uint8Array => {
      const b = b0.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    const cases: [Uint8Array, StreamDecodeOptions][] = [
      [f(frame, 0, 1), {}],
      [f(frame, 4, 0x80), {}],
      [f(frame, 4, 0x02), {}],
      [f(frame, 5, 0x70), {}],
      [f(frame, 5, 0x01), {}],
      [f(frame, 6, 1), {}],
      [f(frame, 14, 1), {}], // HC (after an 8-byte content size)
      [f(frame, 6, 1), {}], // content size
      [f(frame, frame.length - 1, 1), {}],
      [f(frame, 20, 1), {}],
      [frame, { expectedSize: 5 }],
      [legacy, { expectedSize: 5 }],
      [Uint8Array.of(1, 2), {}],
      [concat(le32(0x184d2a51), le32(10), Uint8Array.of(1)), {}],
    ];
    for (const [b, options] of cases) {
      const want = errorAt(() => decompressLz4(b, options));
      expect(want).not.toBe("ok");
      for (const sizes of [1, { max: 5000, seed: 3 }]) expect(streamError(b, sizes, options)).toBe(want);
    }
  });

  it("flips in the blocks: the same result as the one-shot decoder", () => {
    for (const z of [frame, legacy]) {
      for (let i = 8; i < z.length; i += Math.floor(z.length / 150)) {
        const b = z.slice();
        b[i] = (b[i] as number) ^ 0x88;
        const want = errorAt(() => decompressLz4(b, { expectedSize: 300_000 }));
        expect(streamError(b, { max: 4000, seed: i }, { expectedSize: 300_000 }), `flip at ${i}`).toBe(want);
      }
    }
  });

  it("maxOutput: `limit`, and no more than maxOutput bytes emitted", () => {
    for (const z of [frame, legacy]) {
      for (const m of [1000, 65536, 200_001]) {
        let emitted = 0;
        const dec = createLz4StreamDecoder((c) => (emitted += c.length), { maxOutput: m });
        expect(errorAt(() => {
          dec.write(z);
          dec.end();
        })).toBe(errorAt(() => decompressLz4(z, { maxOutput: m })));
        expect(emitted).toBeLessThanOrEqual(m);
      }
    }
  });

  it("random flips, cuts, chunks and maxOutput: the same output or the same error as the one-shot decoder (fast-check)", () => {
    const sample = concat(tool("lz4", ["-q", "-c", "-BD", "-BX", "-B4"], data.subarray(0, 100_000)), tool("lz4", ["-q", "-c", "-l"], data.subarray(0, 20_000)));
    assertStreamMatchesOneShot((b, maxOutput) => decompressLz4(b, { maxOutput }), (b, sizes, maxOutput) => run(b, sizes, { maxOutput }), sample);
  });

  it("a 1 GB-of-zeros bomb: `limit` quickly, and decoded whole with bounded memory", () => {
    const bomb = tool("sh", ["-c", "head -c 1073741824 /dev/zero | lz4 -q -l -c"]);
    const [c, s] = time(() => streamError(bomb, { max: 1 << 16, seed: 1 }, { maxOutput: 16 << 20 }));
    expect(c).toMatch(/^limit@/);
    expect(s).toBeLessThan(5);
    let n = 0;
    let peak = 0;
    const before = process.memoryUsage().arrayBuffers;
    const dec = createLz4StreamDecoder((chunk) => {
      n += chunk.length;
      if ((n & ((16 << 20) - 1)) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }, { maxOutput: 2 ** 32 });
    for (let at = 0; at < bomb.length; at += 65536) dec.write(bomb.subarray(at, at + 65536));
    dec.end();
    expect(n).toBe(2 ** 30);
    // one 8 MiB legacy block (in and out) and the 64 KiB window, and chunks not yet collected: far below the output
    expect(peak).toBeLessThan(128 << 20);
  });
});
