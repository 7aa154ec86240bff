/**
 * The streaming gzip decoder against gzip(1) and against the one-shot
 * decoder: byte-exact output at seeded random and 1-byte chunk sizes, the
 * same error codes (and offsets) on truncated and corrupt input, `limit`,
 * and bounded memory on a 1 GB bomb.
 */
import fc from "fast-check";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/codecs/crc32.js";
import { createGzipStreamDecoder, decompressGzip } from "../../src/codecs/gzip.js";
import { createStreamDecoder, decodeStream, decodeTransformStream, streamingCodecs } from "../../src/codecs/stream.js";
import { KimageError } from "../../src/core/errors.js";
import { chunked, codeOf, concat, generated, le32, realVmlinux, rng, sha, streamDecodeChunks, tool } from "../support/codec.js";

const data = generated(3 << 20, 7);
const noise = (n: number, seed: number): Uint8Array => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => r() & 0xff);
};
/** BTYPE of the first block of a gzip -n member (the deflate data starts at byte 10). */
const firstBlockType = (z: Uint8Array): number => ((z[10] as number) >>> 1) & 3;

/** The error a call throws, as `code@offset` (or "ok"). */
function errorOf(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof KimageError) return `${e.code}@${e.offset}`;
    throw e;
  }
}

/** Streams `input` in `sizes` chunks, then end(); returns `code@offset` or "ok". */
function streamErrorOf(input: Uint8Array, sizes: number | { max: number; seed: number }, options = {}): string {
  return errorOf(() => {
    const dec = createGzipStreamDecoder(() => undefined, options);
    for (const c of chunked(input, sizes)) dec.write(c);
    dec.end();
  });
}

describe("gzip streaming: byte-exact against gzip(1)", () => {
  it("is registered", () => {
    expect(streamingCodecs()).toContain("gzip");
  });

  it("stored, fixed and dynamic blocks, gzip -1 and -9, random chunk sizes and 1-byte chunks", async () => {
    const inputs: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["one byte", Uint8Array.of(65)],
      ["short text (fixed Huffman)", new TextEncoder().encode("Linux version 6.1.0 (debian-kernel@lists.debian.org) Linux version 6.1.0")],
      ["noise (stored blocks)", noise(200_000, 3)],
      ["mixed 200 kB", data.subarray(0, 200_000)],
      ["mixed 3 MiB", data],
    ];
    const seen = new Set<number>();
    for (const [name, input] of inputs) {
      for (const level of ["-1", "-9"]) {
        const z = tool("gzip", ["-n", level, "-c"], input);
        if (input.length > 0) seen.add(firstBlockType(z));
        const sizes: (number | { max: number; seed: number })[] = [{ max: 4096, seed: 1 }, { max: 100, seed: 2 }, { max: 1 << 20, seed: 3 }];
        if (z.length < 300_000) sizes.push(1);
        for (const s of sizes) {
          const r = await streamDecodeChunks("gzip", z, s);
          expect(sha(r.bytes), `${name} ${level} ${JSON.stringify(s)}`).toBe(sha(input));
          expect(r.consumed).toBe(z.length);
          expect(r.produced).toBe(input.length);
          expect(r.complete).toBe(true);
          expect(r.checked).toEqual(["crc32", "isize"]);
        }
      }
    }
    // RFC 1951 3.2.3: "00 - no compression, 01 - compressed with fixed Huffman codes, 10 - compressed with dynamic Huffman codes"
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it("emits chunks of at most chunkSize bytes", async () => {
    const z = tool("gzip", ["-n", "-9", "-c"], data);
    const r = await streamDecodeChunks("gzip", z, { max: 65536, seed: 9 }, { chunkSize: 1 << 16 });
    expect(sha(r.bytes)).toBe(sha(data));
    expect(r.chunks).toBeGreaterThanOrEqual(Math.ceil(data.length / (1 << 16)));
    const sizes: number[] = [];
    const dec = createGzipStreamDecoder((c) => sizes.push(c.length), { chunkSize: 1 << 16 });
    dec.write(z);
    dec.end();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1 << 16);
  });

  it("header fields FTEXT/FHCRC/FEXTRA/FNAME/FCOMMENT, also long ones, at 1-byte chunks", async () => {
    const body = tool("gzip", ["-n", "-6", "-c"], data.subarray(0, 5000));
    const deflate = body.subarray(10);
    const enc = new TextEncoder();
    for (const [extra, name, comment] of [
      [Uint8Array.of(2, 0, 0x41, 0x42), enc.encode("name\0"), enc.encode("comment\0")],
      [concat(le32(60_000).subarray(0, 2), noise(60_000, 5)), enc.encode(`${"n".repeat(100_000)}\0`), enc.encode(`${"c".repeat(50_000)}\0`)],
    ] as const) {
      const hdr = concat(Uint8Array.of(0x1f, 0x8b, 8, 1 | 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3), extra, name, comment);
      const c16 = crc32(hdr) & 0xffff;
      const full = concat(hdr, Uint8Array.of(c16 & 0xff, c16 >>> 8), deflate);
      for (const s of [1, { max: 3000, seed: 4 }]) {
        const r = await streamDecodeChunks("gzip", full, s);
        expect(sha(r.bytes)).toBe(sha(data.subarray(0, 5000)));
        expect(r.checked).toEqual(["header-crc16", "crc32", "isize"]);
        expect(r.consumed).toBe(full.length);
      }
      const bad = full.slice();
      bad[hdr.length] = (bad[hdr.length] as number) ^ 1;
      expect(streamErrorOf(bad, 7)).toBe(errorOf(() => decompressGzip(bad)));
      expect(streamErrorOf(bad, 7)).toMatch(/^codec-checksum@/);
    }
  });

  it("concatenated members are decoded; other trailing bytes (the kernel's le32 size) are not consumed", async () => {
    const a = tool("gzip", ["-n", "-1", "-c"], data.subarray(0, 1000));
    const b = tool("gzip", ["-n", "-9", "-c"], data.subarray(1000, 300_000));
    const c = tool("gzip", ["-n", "-c"], new Uint8Array(0));
    for (const tail of [new Uint8Array(0), le32(300_000), Uint8Array.of(0x1f), Uint8Array.of(0x1f, 0x8b), Uint8Array.of(0x1f, 0x8b, 9, 0)]) {
      const input = concat(a, b, c, tail);
      for (const s of [1, { max: 5000, seed: 5 }]) {
        const r = await streamDecodeChunks("gzip", input, s);
        expect(sha(r.bytes)).toBe(sha(data.subarray(0, 300_000)));
        expect(r.consumed).toBe(a.length + b.length + c.length);
        expect(r.consumed).toBe(decompressGzip(input).consumed);
      }
    }
  });

  it("knows the stream is complete as soon as the bytes after the trailer are not a member", () => {
    for (const input of [data.subarray(0, 100_000), Uint8Array.of(1), noise(70_000, 4)]) {
      const z = tool("gzip", ["-n", "-9", "-c"], input);
      for (const s of [1, 1000, z.length]) {
        const dec = createGzipStreamDecoder(() => undefined);
        for (const c of chunked(z, s)) dec.write(c);
        expect(dec.complete).toBe(false); // another member could follow
        dec.write(le32(input.length));
        expect(dec.complete).toBe(true);
        expect(dec.consumed).toBe(z.length);
        expect(dec.produced).toBe(input.length);
        dec.write(Uint8Array.of(1, 2, 3)); // ignored
        dec.end();
      }
    }
  });

  it("the real vmlinux (66 MB) recompressed by gzip -9, with the le32 size trailer, at random chunk sizes", async () => {
    const vmlinux = await realVmlinux();
    if (!vmlinux) return;
    const z = concat(tool("gzip", ["-n", "-9", "-c"], vmlinux), le32(vmlinux.length));
    const one = decompressGzip(z, { expectedSize: vmlinux.length });
    const want = sha(one.bytes);
    expect(want).toBe(sha(vmlinux));
    for (const [seed, max] of [
      [1, 1 << 16],
      [2, 1 << 20],
      [3, 777],
    ] as const) {
      const h = createHash("sha256");
      const dec = createStreamDecoder("gzip", (c) => h.update(c), { expectedSize: vmlinux.length });
      for (const c of chunked(z, { max, seed })) dec.write(c);
      dec.end();
      expect(h.digest("hex")).toBe(want);
      expect(dec.consumed).toBe(one.consumed);
      expect(dec.produced).toBe(vmlinux.length);
    }
  }, 300_000);

  it("works as an AsyncIterable and as a TransformStream", async () => {
    const z = concat(tool("gzip", ["-n", "-9", "-c"], data), le32(data.length));
    const parts: Uint8Array[] = [];
    const it = decodeStream("gzip", chunked(z, { max: 50_000, seed: 6 }));
    let r = await it.next();
    while (!r.done) {
      parts.push(r.value);
      r = await it.next();
    }
    expect(sha(concat(...parts))).toBe(sha(data));
    expect(r.value).toEqual({ codec: "gzip", consumed: z.length - 4, produced: data.length, checked: ["crc32", "isize"] });

    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunked(z, { max: 70_000, seed: 7 })) controller.enqueue(c);
        controller.close();
      },
    });
    const out: Uint8Array[] = [];
    const reader = source.pipeThrough(decodeTransformStream("gzip")).getReader();
    for (let x = await reader.read(); !x.done; x = await reader.read()) out.push(x.value);
    expect(sha(concat(...out))).toBe(sha(data));
  });
});

describe("gzip streaming: errors as the one-shot decoder gives them", () => {
  const small = tool("gzip", ["-n", "-9", "-c"], data.subarray(0, 200_000));

  it("truncation anywhere: writes succeed, end() throws `truncated` (same offset as one-shot)", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 80))) {
      const part = small.subarray(0, cut);
      const dec = createGzipStreamDecoder(() => undefined);
      for (const c of chunked(part, { max: 2000, seed: cut })) dec.write(c);
      expect(dec.complete).toBe(false);
      const e = errorOf(() => dec.end());
      expect(e).toMatch(/^truncated@/);
      expect(e).toBe(errorOf(() => decompressGzip(part)));
    }
    for (const cut of [1, 9, 10, 11, small.length - 8, small.length - 1]) {
      expect(streamErrorOf(small.subarray(0, cut), 1)).toBe(errorOf(() => decompressGzip(small.subarray(0, cut))));
    }
  });

  it("header and trailer flips give the specific codes", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    const cases: [Uint8Array, string][] = [
      [f(0, 1), "codec-corrupt"],
      [f(2, 15), "unsupported"],
      [f(3, 0x20), "codec-corrupt"],
      [f(small.length - 8, 1), "codec-checksum"],
      [f(small.length - 1, 1), "codec-size-mismatch"],
    ];
    for (const [b, code] of cases) {
      for (const s of [1, { max: 4000, seed: 8 }]) {
        const e = streamErrorOf(b, s);
        expect(e.split("@")[0]).toBe(code);
        expect(e).toBe(errorOf(() => decompressGzip(b)));
      }
    }
    expect(streamErrorOf(small, 999, { expectedSize: 5 })).toBe(errorOf(() => decompressGzip(small, { expectedSize: 5 })));
    expect(streamErrorOf(small, 999, { base: 4096, expectedSize: 5 })).toBe("codec-size-mismatch@4096");
  });

  it("flips in the deflate data give the one-shot's code and offset", () => {
    for (let i = 10; i < small.length - 8; i += 331) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x10;
      expect(streamErrorOf(b, { max: 3000, seed: i }), `flip at ${i}`).toBe(errorOf(() => decompressGzip(b)));
    }
  });

  it("random mutations and cuts: the one-shot's code and offset, never another exception (fast-check)", () => {
    const sample = tool("gzip", ["-n", "-9", "-c"], data.subarray(0, 20_000));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(sample.length),
        fc.integer({ min: 1, max: 600 }),
        (flips, cut, max) => {
          const b = sample.slice(0, Math.max(1, cut));
          for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
          const opts = { maxOutput: 1 << 20 };
          expect(streamErrorOf(b, { max, seed: cut }, opts)).toBe(errorOf(() => decompressGzip(b, opts)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("an error sticks: later writes and end() rethrow it", () => {
    const b = small.slice();
    b[0] = 0;
    const dec = createGzipStreamDecoder(() => undefined);
    expect(codeOf(() => dec.write(b))).toBe("codec-corrupt");
    expect(codeOf(() => dec.write(b))).toBe("codec-corrupt");
    expect(codeOf(() => dec.end())).toBe("codec-corrupt");
  });

  it("maxOutput is `limit`; no byte past it reaches the sink", () => {
    for (const max of [0, 1, 1000, 65_536, 199_999]) {
      let got = 0;
      const dec = createGzipStreamDecoder((c) => (got += c.length), { maxOutput: max });
      const c = codeOf(() => {
        for (const part of chunked(small, { max: 10_000, seed: max })) dec.write(part);
        dec.end();
      });
      expect(c).toBe("limit");
      expect(got).toBeLessThanOrEqual(max);
    }
    expect(streamErrorOf(small, 5000, { maxOutput: 200_000 })).toBe("ok");
  });
});

/** A gzip member of `size` zero bytes: one fixed-Huffman block of a literal 0 and (length 258, distance 1) pairs. */
function zerosMember(size: number): Uint8Array {
  const bytes: number[] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
  let acc = 0;
  let n = 0;
  const put = (v: number, k: number): void => {
    acc |= v << n;
    n += k;
    while (n >= 8) {
      bytes.push(acc & 0xff);
      acc >>>= 8;
      n -= 8;
    }
  };
  // Huffman codes go most significant bit first: reverse them.
  const code = (c: number, k: number): void => {
    let r = 0;
    for (let i = 0; i < k; i++) r |= ((c >>> i) & 1) << (k - 1 - i);
    put(r, k);
  };
  put(1, 1); // BFINAL
  put(1, 2); // BTYPE 01: fixed
  code(0x30, 8); // literal 0
  let left = size - 1;
  while (left >= 258) {
    code(0xc0 + 285 - 280, 8); // length 258
    code(0, 5); // distance 1
    left -= 258;
  }
  for (; left > 0; left--) code(0x30, 8);
  code(0, 7); // end of block
  if (n > 0) put(0, 8 - n);
  let crc = 0;
  const mib = new Uint8Array(1 << 20);
  for (let i = 0; i < Math.floor(size / mib.length); i++) crc = crc32(mib, crc);
  crc = crc32(mib.subarray(0, size % mib.length), crc);
  return concat(Uint8Array.from(bytes), le32(crc), le32(size));
}

describe("gzip streaming: a bomb", () => {
  const GB = 1 << 30;
  const bomb = zerosMember(GB);

  it("1 GB of zeros in one member (6.8 MB) streams through with bounded memory", () => {
    expect(bomb.length).toBeLessThan(7 << 20);
    const rss0 = process.memoryUsage().rss;
    let got = 0;
    let peak = 0;
    let nonzero = false;
    const dec = createGzipStreamDecoder(
      (c) => {
        got += c.length;
        if (c[0] !== 0 || c[c.length - 1] !== 0) nonzero = true;
        if ((got & ((64 << 20) - 1)) < c.length) peak = Math.max(peak, process.memoryUsage().rss - rss0);
      },
      { maxOutput: 2 ** 32 },
    );
    for (const c of chunked(bomb, 1 << 16)) dec.write(c);
    dec.end();
    expect(got).toBe(GB);
    expect(nonzero).toBe(false);
    expect(dec.checked).toEqual(["crc32", "isize"]);
    // The decoder's buffers: a 32 KiB window plus one 1 MiB chunk.
    const out = (dec as unknown as { out: { buf: Uint8Array } }).out;
    expect(out.buf.length).toBeLessThanOrEqual((1 << 20) + (1 << 16));
    // The process never held anything near 1 GB (garbage chunks wait for the GC).
    expect(peak).toBeLessThan(400 << 20);
  }, 120_000);

  it("with maxOutput 16 MiB it stops at `limit` quickly", () => {
    const t = performance.now();
    let got = 0;
    const dec = createGzipStreamDecoder((c) => (got += c.length), { maxOutput: 16 << 20 });
    expect(codeOf(() => dec.write(bomb))).toBe("limit");
    expect(got).toBeLessThanOrEqual(16 << 20);
    expect(performance.now() - t).toBeLessThan(5000);
  });
});
