/**
 * The streaming lzop decoder: byte-exact against lzop(1) and the one-shot
 * decoder at random chunk sizes and 1-byte chunks (the lzop methods and
 * checksum options, stored blocks, named files, extra fields, several
 * members); the same errors as the one-shot decoder; bounded memory on a
 * bomb.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { adler32, createLzoStreamDecoder, decompressLzo } from "../../src/codecs/lzo.js";
import type { StreamDecodeOptions } from "../../src/codecs/stream.js";
import { assertStreamMatchesOneShot, chunkLabel, chunkings, concat, errorAt, generated, le32, realKernelBytes, sha, streamRun, time, tool } from "../support/codec.js";

const data = generated(1 << 20, 61);
const kernel = realKernelBytes(4 << 20, "lzo streaming");
const run = (input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}) =>
  streamRun((sink) => createLzoStreamDecoder(sink, options), input, sizes);
const streamError = (input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}): string =>
  errorAt(() => run(input, sizes, options), "lzo");

/** End of an lzop 1.04 header without a filter: name length at 33, the name, the header checksum. */
function headerEnd(z: Uint8Array): number {
  return 34 + (z[33] as number) + 4;
}

describe("lzo streaming: byte-exact against lzop(1)", () => {
  for (const args of [["-9"], ["-1"], ["-3", "--crc32"], ["-7"], ["-2", "--no-checksum"]]) {
    it(`lzop ${args.join(" ")}: every chunking, trailing bytes left alone`, () => {
      const z = tool("lzop", ["-q", "-c", ...args], data);
      const small = data.subarray(0, 150_000);
      const zs = tool("lzop", ["-q", "-c", ...args], small);
      for (const [lz, want] of [[z, data], [zs, small]] as const) {
        const input = concat(lz, le32(want.length));
        for (const sizes of chunkings(input, 100_000)) {
          const r = run(input, sizes);
          expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(want));
          expect(r.consumed).toBe(lz.length);
          expect(r.complete).toBe(true);
          expect(r.checked).toEqual(decompressLzo(input).checked);
        }
      }
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, lzop -9, with the le32 size trailer", () => {
    const k = kernel as Uint8Array;
    const z = tool("lzop", ["-q", "-c", "-9"], k);
    const input = concat(z, le32(k.length));
    for (const sizes of [{ max: 1 << 16, seed: 1 }, { max: 1 << 20, seed: 2 }]) {
      const r = run(input, sizes, { expectedSize: k.length });
      expect(sha(r.bytes)).toBe(sha(k));
      expect(r.consumed).toBe(z.length);
    }
  });

  it("stored blocks, empty input, a named file, several members", () => {
    const noise = new Uint8Array(600_000);
    let x = 1;
    for (let i = 0; i < noise.length; i++) noise[i] = (x = Math.imul(x, 1103515245) + 12345) >>> 24;
    const dir = mkdtempSync(join(tmpdir(), "kimage-lzo-"));
    let named: Uint8Array;
    try {
      writeFileSync(join(dir, "a-file-with-a-name.bin"), data.subarray(0, 70_000));
      named = tool("lzop", ["-q", "-c", "-9", join(dir, "a-file-with-a-name.bin")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(named[33]).toBeGreaterThan(0);
    for (const [input, want] of [
      [tool("lzop", ["-q", "-c"], noise), noise],
      [tool("lzop", ["-q", "-c"], new Uint8Array(0)), new Uint8Array(0)],
      [named, data.subarray(0, 70_000)],
    ] as const) {
      for (const sizes of chunkings(input, 80_000)) {
        const r = run(input, sizes);
        expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(want));
        expect(r.consumed).toBe(input.length);
      }
    }
    // members: decoded while the bytes after an end mark start with the magic
    const a = tool("lzop", ["-q", "-c", "-1"], data.subarray(0, 40_000));
    const b = tool("lzop", ["-q", "-c", "-9", "--crc32"], data.subarray(40_000, 90_000));
    const input = concat(a, b, a, Uint8Array.of(0x89, 0x4c, 0x5a, 0x4f, 0)); // a cut magic ends the stream
    const want = concat(data.subarray(0, 90_000), data.subarray(0, 40_000));
    expect(decompressLzo(input).consumed).toBe(input.length - 5);
    for (const sizes of chunkings(input)) {
      const r = run(input, sizes);
      expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(want));
      expect(r.consumed).toBe(input.length - 5);
    }
  });

  it("an extra field in the header is skipped", () => {
    // lzop never writes one: set F_H_EXTRA_FIELD, fix the header checksum, insert the field
    const z = tool("lzop", ["-q", "-c", "-1"], data.subarray(0, 50_000));
    const h = headerEnd(z);
    const head = z.slice(0, h);
    head[20] = (head[20] as number) | 0x40; // flags (u32be at 17..20): F_H_EXTRA_FIELD
    const sum = adler32(head, 1, 9, h - 4);
    head.set([sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff], h - 4);
    const extra = Uint8Array.of(0, 0, 0, 3, 0xaa, 0xbb, 0xcc, 1, 2, 3, 4);
    const input = concat(head, extra, z.subarray(h));
    expect(sha(decompressLzo(input).bytes)).toBe(sha(data.subarray(0, 50_000)));
    for (const sizes of chunkings(input)) {
      const r = run(input, sizes);
      expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(data.subarray(0, 50_000)));
      expect(r.consumed).toBe(input.length);
    }
    // truncated inside the extra field
    for (const cut of [h + 2, h + 6, h + 10]) expect(streamError(input.subarray(0, cut), 1)).toBe(errorAt(() => decompressLzo(input.subarray(0, cut))));
  });
});

describe("lzo streaming: errors as the one-shot decoder reports them", () => {
  const small = tool("lzop", ["-q", "-c", "-9"], data.subarray(0, 600_000));

  it("truncation anywhere: `truncated` at the same offset, from end()", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 60))) {
      const b = small.subarray(0, cut);
      const want = errorAt(() => decompressLzo(b));
      expect(want).toMatch(/^truncated@/);
      for (const sizes of [1, { max: 3000, seed: cut }]) expect(streamError(b, sizes), `cut ${cut}`).toBe(want);
    }
    for (let cut = 0; cut < 60; cut++) expect(streamError(small.subarray(0, cut), 1), `cut ${cut}`).toBe(errorAt(() => decompressLzo(small.subarray(0, cut))));
  });

  it("header, checksum and size errors: same code and offset", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    const h = headerEnd(small);
    const cases: [Uint8Array, StreamDecodeOptions][] = [
      [f(0, 1), {}],
      [f(9, 0xff), {}], // version
      [f(13, 0x40), {}], // version needed to extract
      [f(15, 0x70), {}], // method
      [f(19, 0x40), {}], // reserved flag bit 14
      [f(20, 1), {}], // under the header checksum
      [f(h, 0x10), {}], // block size above lzop's maximum
      [f(h + 4, 0x7f), {}], // compressed size above the uncompressed size
      [f(h + 8, 1), {}], // uncompressed-data Adler-32
      [small, { expectedSize: 9 }],
      [small, { expectedSize: 600_001 }],
      [Uint8Array.of(0x89, 0x4c), {}],
    ];
    for (const [b, options] of cases) {
      const want = errorAt(() => decompressLzo(b, options));
      expect(want).not.toBe("ok");
      for (const sizes of [1, { max: 5000, seed: 3 }]) expect(streamError(b, sizes, options)).toBe(want);
    }
  });

  it("flips in the blocks: the same result as the one-shot decoder", () => {
    const h = headerEnd(small);
    for (let i = h + 12; i < small.length - 4; i += 311) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x44;
      expect(streamError(b, { max: 4000, seed: i }), `flip at ${i}`).toBe(errorAt(() => decompressLzo(b)));
    }
  });

  it("maxOutput: `limit`, and no more than maxOutput bytes emitted", () => {
    for (const m of [1000, 262144, 300_001]) {
      let emitted = 0;
      const dec = createLzoStreamDecoder((c) => (emitted += c.length), { maxOutput: m });
      expect(errorAt(() => {
        dec.write(small);
        dec.end();
      })).toBe(errorAt(() => decompressLzo(small, { maxOutput: m })));
      expect(emitted).toBeLessThanOrEqual(m);
    }
  });

  it("random flips, cuts, chunks and maxOutput: the same output or the same error as the one-shot decoder (fast-check)", () => {
    // two members: compressed blocks with CRC-32s, then a stored (noise) block
    const noise = Uint8Array.from({ length: 20_000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff);
    const sample = concat(tool("lzop", ["-q", "-c", "-1", "--crc32"], data.subarray(0, 30_000)), tool("lzop", ["-q", "-c"], noise));
    assertStreamMatchesOneShot((b, maxOutput) => decompressLzo(b, { maxOutput }), (b, sizes, maxOutput) => run(b, sizes, { maxOutput }), sample);
  });

  it("a 1 GB-of-zeros bomb: `limit` quickly, and decoded whole with bounded memory", () => {
    const bomb = tool("sh", ["-c", "head -c 1073741824 /dev/zero | lzop -q -1 -c"]);
    const [c, s] = time(() => streamError(bomb, { max: 1 << 16, seed: 1 }, { maxOutput: 16 << 20 }));
    expect(c).toMatch(/^limit@/);
    expect(s).toBeLessThan(5);
    let n = 0;
    let peak = 0;
    const before = process.memoryUsage().arrayBuffers;
    const dec = createLzoStreamDecoder((chunk) => {
      n += chunk.length;
      if ((n & ((16 << 20) - 1)) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }, { maxOutput: 2 ** 32 });
    for (let at = 0; at < bomb.length; at += 65536) dec.write(bomb.subarray(at, at + 65536));
    dec.end();
    expect(n).toBe(2 ** 30);
    expect(dec.checked).toContain("adler32");
    // one 256 KiB block and a chunk, and chunks not yet collected: far below the output
    expect(peak).toBeLessThan(128 << 20);
  });
});
