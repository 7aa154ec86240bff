/**
 * The streaming bzip2 decoder against bzip2(1) and against the one-shot
 * decoder: byte-exact output at seeded random and 1-byte chunk sizes, the
 * same error codes (and offsets) on truncated and corrupt input, `limit`,
 * and bounded memory on a 1 GB bomb.
 */
import fc from "fast-check";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createBzip2StreamDecoder, decompressBzip2 } from "../../src/codecs/bzip2.js";
import { createStreamDecoder, decodeStream, streamingCodecs } from "../../src/codecs/stream.js";
import { KimageError } from "../../src/core/errors.js";
import { chunked, codeOf, concat, generated, le32, realVmlinux, rng, sha, streamDecodeChunks, tool } from "../support/codec.js";

const data = generated(1 << 20, 41);
const noise = (n: number, seed: number): Uint8Array => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => r() & 0xff);
};

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
    const dec = createBzip2StreamDecoder(() => undefined, options);
    for (const c of chunked(input, sizes)) dec.write(c);
    dec.end();
  });
}

describe("bzip2 streaming: byte-exact against bzip2(1)", () => {
  it("is registered", () => {
    expect(streamingCodecs()).toContain("bzip2");
  });

  it("bzip2 -1 and -9 (one and several blocks), runs, noise, tiny inputs; random chunk sizes and 1-byte chunks", async () => {
    const runs = new Uint8Array(500_000);
    for (let i = 0; i < runs.length; i++) runs[i] = Math.floor(i / 1000) % 3 === 0 ? 7 : i % 251;
    const inputs: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["one byte", Uint8Array.of(1)],
      ["zeros", new Uint8Array(100_000)],
      ["runs", runs],
      ["noise", noise(150_000, 3)],
      ["mixed 1 MiB", data],
    ];
    for (const [name, input] of inputs) {
      for (const level of ["-1", "-9"]) {
        const z = tool("bzip2", ["-c", level], input);
        const sizes: (number | { max: number; seed: number })[] = [{ max: 4096, seed: 1 }, { max: 100, seed: 2 }, { max: 1 << 20, seed: 3 }];
        if (z.length < 200_000) sizes.push(1);
        for (const s of sizes) {
          const r = await streamDecodeChunks("bzip2", z, s);
          expect(sha(r.bytes), `${name} ${level} ${JSON.stringify(s)}`).toBe(sha(input));
          expect(r.consumed).toBe(z.length);
          expect(r.produced).toBe(input.length);
          expect(r.complete).toBe(true);
          expect(r.checked).toEqual(["crc32"]);
        }
      }
    }
  });

  it("concatenated streams; other trailing bytes (the kernel's le32 size, a partial 'BZh') are not consumed", async () => {
    const a = tool("bzip2", ["-c", "-1"], data.subarray(0, 5000));
    const b = tool("bzip2", ["-c", "-9"], data.subarray(5000, 400_000));
    const c = tool("bzip2", ["-c"], new Uint8Array(0));
    for (const tail of [new Uint8Array(0), le32(400_000), Uint8Array.of(0x42, 0x5a), Uint8Array.of(0x42, 0x5a, 0x68, 0x30, 1)]) {
      const input = concat(a, b, c, tail);
      for (const s of [1, { max: 5000, seed: 5 }]) {
        const r = await streamDecodeChunks("bzip2", input, s);
        expect(sha(r.bytes)).toBe(sha(data.subarray(0, 400_000)));
        expect(r.consumed).toBe(a.length + b.length + c.length);
        expect(r.consumed).toBe(decompressBzip2(input).consumed);
      }
    }
  });

  it("knows the stream is complete as soon as the bytes after it are not another stream", () => {
    for (const input of [data.subarray(0, 100_000), Uint8Array.of(1)]) {
      const z = tool("bzip2", ["-c", "-9"], input);
      for (const s of [1, 1000, z.length]) {
        const dec = createBzip2StreamDecoder(() => undefined);
        for (const c of chunked(z, s)) dec.write(c);
        expect(dec.complete).toBe(false); // another stream could follow
        dec.write(le32(input.length));
        expect(dec.complete).toBe(true);
        expect(dec.consumed).toBe(z.length);
        expect(dec.produced).toBe(input.length);
        dec.write(Uint8Array.of(1, 2, 3)); // ignored
        dec.end();
      }
    }
  });

  it("the real vmlinux (66 MB) recompressed by bzip2 -9, with the le32 size trailer, at random chunk sizes", async () => {
    const vmlinux = await realVmlinux();
    if (!vmlinux) return;
    const z = concat(tool("bzip2", ["-c", "-9"], vmlinux), le32(vmlinux.length));
    const one = decompressBzip2(z, { expectedSize: vmlinux.length });
    const want = sha(one.bytes);
    expect(want).toBe(sha(vmlinux));
    for (const [seed, max] of [
      [1, 1 << 16],
      [2, 1 << 20],
    ] as const) {
      const h = createHash("sha256");
      const dec = createStreamDecoder("bzip2", (c) => h.update(c), { expectedSize: vmlinux.length });
      for (const c of chunked(z, { max, seed })) dec.write(c);
      dec.end();
      expect(h.digest("hex")).toBe(want);
      expect(dec.consumed).toBe(one.consumed);
      expect(dec.produced).toBe(vmlinux.length);
    }
  }, 300_000);

  it("works as an AsyncIterable", async () => {
    const z = concat(tool("bzip2", ["-c", "-9"], data), le32(data.length));
    const parts: Uint8Array[] = [];
    const it = decodeStream("bzip2", chunked(z, { max: 50_000, seed: 6 }));
    let r = await it.next();
    while (!r.done) {
      parts.push(r.value);
      r = await it.next();
    }
    expect(sha(concat(...parts))).toBe(sha(data));
    expect(r.value).toEqual({ codec: "bzip2", consumed: z.length - 4, produced: data.length, checked: ["crc32"] });
  });
});

describe("bzip2 streaming: errors as the one-shot decoder gives them", () => {
  const small = tool("bzip2", ["-c", "-9"], data.subarray(0, 120_000));

  it("truncation anywhere: writes succeed, end() throws `truncated` (same offset as one-shot)", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 80))) {
      const part = small.subarray(0, cut);
      const dec = createBzip2StreamDecoder(() => undefined);
      for (const c of chunked(part, { max: 2000, seed: cut })) dec.write(c);
      expect(dec.complete).toBe(false);
      const e = errorOf(() => dec.end());
      expect(e).toMatch(/^truncated@/);
      expect(e).toBe(errorOf(() => decompressBzip2(part)));
    }
    for (const cut of [1, 3, 4, 5, 10, 14, small.length - 4, small.length - 1]) {
      expect(streamErrorOf(small.subarray(0, cut), 1)).toBe(errorOf(() => decompressBzip2(small.subarray(0, cut))));
    }
  });

  it("header and checksum flips give the specific codes", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    const cases: [Uint8Array, string][] = [
      [f(0, 1), "codec-corrupt"],
      [f(4, 1), "codec-corrupt"], // block magic
      [f(10, 1), "codec-checksum"], // block CRC
      [f(small.length - 2, 1), "codec-checksum"], // stream CRC
    ];
    for (const [b, code] of cases) {
      for (const s of [1, { max: 4000, seed: 8 }]) {
        const e = streamErrorOf(b, s);
        expect(e.split("@")[0]).toBe(code);
        expect(e).toBe(errorOf(() => decompressBzip2(b)));
      }
    }
    expect(streamErrorOf(small, 999, { expectedSize: 9 })).toBe(errorOf(() => decompressBzip2(small, { expectedSize: 9 })));
  });

  it("flips in the blocks give the one-shot's code and offset", () => {
    for (let i = 20; i < small.length - 10; i += 397) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x42;
      expect(streamErrorOf(b, { max: 3000, seed: i }), `flip at ${i}`).toBe(errorOf(() => decompressBzip2(b)));
    }
  });

  it("random mutations and cuts: the one-shot's code and offset, never another exception (fast-check)", () => {
    const sample = tool("bzip2", ["-c", "-9"], data.subarray(0, 30_000));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(sample.length),
        fc.integer({ min: 1, max: 600 }),
        (flips, cut, max) => {
          const b = sample.slice(0, Math.max(1, cut));
          for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
          const opts = { maxOutput: 1 << 20 };
          expect(streamErrorOf(b, { max, seed: cut }, opts)).toBe(errorOf(() => decompressBzip2(b, opts)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("an error sticks: later writes and end() rethrow it", () => {
    const b = small.slice();
    b[0] = 0;
    const dec = createBzip2StreamDecoder(() => undefined);
    expect(codeOf(() => dec.write(b))).toBe("codec-corrupt");
    expect(codeOf(() => dec.write(b))).toBe("codec-corrupt");
    expect(codeOf(() => dec.end())).toBe("codec-corrupt");
  });

  it("maxOutput is `limit`; no byte past it reaches the sink", () => {
    for (const max of [0, 1, 1000, 65_536, 119_999]) {
      let got = 0;
      const dec = createBzip2StreamDecoder((c) => (got += c.length), { maxOutput: max });
      const c = codeOf(() => {
        for (const part of chunked(small, { max: 10_000, seed: max })) dec.write(part);
        dec.end();
      });
      expect(c).toBe("limit");
      expect(got).toBeLessThanOrEqual(max);
      expect(streamErrorOf(small, 3000, { maxOutput: max })).toBe(errorOf(() => decompressBzip2(small, { maxOutput: max })));
    }
    expect(streamErrorOf(small, 5000, { maxOutput: 120_000 })).toBe("ok");
  });
});

describe("bzip2 streaming: a bomb", () => {
  // 16 streams of 64 MiB of zeros: 1 GB out of about 1.6 kB in.
  const one = tool("sh", ["-c", "head -c 67108864 /dev/zero | bzip2 -9 -c"]);
  const bomb = concat(...Array.from({ length: 16 }, () => one));

  it("1 GB of zeros streams through with bounded memory", () => {
    expect(bomb.length).toBeLessThan(4096);
    const rss0 = process.memoryUsage().rss;
    let got = 0;
    let peak = 0;
    let nonzero = false;
    const dec = createBzip2StreamDecoder(
      (c) => {
        got += c.length;
        if (c[0] !== 0 || c[c.length - 1] !== 0) nonzero = true;
        if ((got & ((64 << 20) - 1)) < c.length) peak = Math.max(peak, process.memoryUsage().rss - rss0);
      },
      { maxOutput: 2 ** 32 },
    );
    for (const c of chunked(bomb, 100)) dec.write(c);
    dec.end();
    expect(got).toBe(1 << 30);
    expect(nonzero).toBe(false);
    expect(dec.checked).toEqual(["crc32"]);
    // The decoder's output buffer: one 1 MiB chunk (a block decodes to ~46 MB of zeros here).
    const out = (dec as unknown as { out: { buf: Uint8Array } }).out;
    expect(out.buf.length).toBeLessThanOrEqual((1 << 20) + (1 << 16));
    expect(peak).toBeLessThan(400 << 20);
  }, 120_000);

  it("with maxOutput 16 MiB it stops at `limit` quickly", () => {
    const t = performance.now();
    let got = 0;
    const dec = createBzip2StreamDecoder((c) => (got += c.length), { maxOutput: 16 << 20 });
    expect(codeOf(() => dec.write(bomb))).toBe("limit");
    expect(got).toBeLessThanOrEqual(16 << 20);
    expect(performance.now() - t).toBeLessThan(5000);
  });
});
