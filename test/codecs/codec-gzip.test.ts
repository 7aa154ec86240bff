import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/codecs/crc32.js";
import { decompressGzip, decompressGzipStream, jsInflater } from "../../src/codecs/gzip.js";
import { inflateRaw } from "../../src/codecs/inflate.js";
import { KimageError, isKimageError } from "../../src/core/errors.js";
import { nodeInflater } from "../../src/node/zlib.js";
import { tool, sha, time, nativeSeconds, generated, realKernelBytes, le32, concat, codeOf } from "../support/codec.js";

// ---- tests

const data = generated(3 << 20, 7);
const gz = tool("gzip", ["-n", "-9", "-c"], data);
const kernel = realKernelBytes(4 << 20, "gzip");
const inflaters = [
  ["pure-JS", jsInflater],
  ["node:zlib", nodeInflater],
] as const;

describe("gzip: round trips against gzip(1)", () => {
  for (const [name, inflater] of inflaters) {
    it(`generated data, gzip -n -9, ${name}`, () => {
      const r = decompressGzip(gz, { inflater });
      expect(sha(r.bytes)).toBe(sha(data));
      expect(r.consumed).toBe(gz.length);
      expect(r.complete).toBe(true);
      expect(r.checked).toEqual(expect.arrayContaining(["crc32", "isize"]));
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, gzip -n -9, with the kernel's le32 size trailer", () => {
    const k = kernel as Uint8Array;
    const z = tool("gzip", ["-n", "-9", "-c"], k);
    const withTrailer = concat(z, le32(k.length));
    for (const [name, inflater] of inflaters) {
      const [r, s] = time(() => decompressGzip(withTrailer, { inflater, expectedSize: k.length, base: 1000 }));
      expect(sha(r.bytes)).toBe(sha(k));
      expect(r.consumed).toBe(z.length);
      console.log(`gzip ${name}: ${(k.length / 1e6 / s).toFixed(0)} MB/s on ${k.length} bytes of kernel`);
    }
  });

  it("header fields FTEXT/FHCRC/FEXTRA/FNAME/FCOMMENT are parsed and the CRC16 checked", () => {
    const body = tool("gzip", ["-n", "-1", "-c"], data.subarray(0, 5000));
    const deflate = body.subarray(10);
    const extra = Uint8Array.of(2, 0, 0x41, 0x42);
    const hdr = concat(Uint8Array.of(0x1f, 0x8b, 8, 1 | 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3), extra, new TextEncoder().encode("name\0comment\0"));
    const c16 = crc32(hdr) & 0xffff;
    const full = concat(hdr, Uint8Array.of(c16 & 0xff, c16 >>> 8), deflate);
    const r = decompressGzip(full);
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 5000)));
    expect(r.checked).toContain("header-crc16");
    const bad = full.slice();
    bad[hdr.length] = (bad[hdr.length] as number) ^ 1;
    expect(codeOf(() => decompressGzip(bad))).toBe("codec-checksum");
  });

  it("concatenated members are decoded; other trailing bytes are not consumed", () => {
    const a = tool("gzip", ["-n", "-c"], data.subarray(0, 1000));
    const b = tool("gzip", ["-n", "-c"], data.subarray(1000, 3000));
    const r = decompressGzip(concat(a, b, Uint8Array.of(1, 2, 3, 4)));
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 3000)));
    expect(r.consumed).toBe(a.length + b.length);
  });

  it("stored and fixed-Huffman blocks decode (gzip -1 of noise, tiny inputs)", () => {
    const noise = generated(200_000, 3).map((v, i) => (v * 31 + i * 7) & 0xff);
    for (const input of [new Uint8Array(0), Uint8Array.of(65), noise]) {
      for (const level of ["-1", "-9"]) {
        const z = tool("gzip", ["-n", level, "-c"], input);
        expect(sha(decompressGzip(z).bytes)).toBe(sha(input));
      }
    }
  });

  it("partial output returns the first maxOutput bytes", () => {
    const r = decompressGzip(gz, { maxOutput: 100_000, partial: true });
    expect(r.complete).toBe(false);
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 100_000)));
  });

  it("decompressGzipStream uses DecompressionStream when the member end is known", async () => {
    expect(typeof (globalThis as { DecompressionStream?: unknown }).DecompressionStream).toBe("function");
    const r = await decompressGzipStream(gz, { exactLength: true });
    expect(sha(r.bytes)).toBe(sha(data));
    expect(r.consumed).toBe(gz.length);
    // without exactLength it falls back to the sync decoder and still stops at the trailer
    const r2 = await decompressGzipStream(concat(gz, le32(data.length)));
    expect(r2.consumed).toBe(gz.length);
    await expect(decompressGzipStream(gz, { exactLength: true, maxOutput: 1000 })).rejects.toMatchObject({ code: "limit" });
    const bad = gz.slice();
    bad[gz.length - 5] = (bad[gz.length - 5] as number) ^ 0x40;
    await expect(decompressGzipStream(bad, { exactLength: true })).rejects.toMatchObject({ code: "codec-checksum" });
    await expect(decompressGzipStream(gz.subarray(0, gz.length - 100), { exactLength: true })).rejects.toBeInstanceOf(KimageError);
  });
});

describe("gzip: corrupt input", () => {
  const small = tool("gzip", ["-n", "-9", "-c"], data.subarray(0, 200_000));

  it("truncation anywhere is `truncated`, for both inflaters", () => {
    for (const [, inflater] of inflaters) {
      for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 60))) {
        expect(codeOf(() => decompressGzip(small.subarray(0, cut), { inflater }))).toBe("truncated");
      }
      expect(codeOf(() => decompressGzip(small.subarray(0, small.length - 1), { inflater }))).toBe("truncated");
    }
  });

  it("header and trailer flips give the specific codes", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    expect(codeOf(() => decompressGzip(f(0, 1)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressGzip(f(2, 15)))).toBe("unsupported");
    expect(codeOf(() => decompressGzip(f(3, 0x20)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressGzip(f(small.length - 8, 1)))).toBe("codec-checksum");
    expect(codeOf(() => decompressGzip(f(small.length - 1, 1)))).toBe("codec-size-mismatch");
    expect(codeOf(() => decompressGzip(small, { expectedSize: 5 }))).toBe("codec-size-mismatch");
  });

  it("flips in the deflate data are errors, never crashes", () => {
    for (const [, inflater] of inflaters) {
      for (let i = 10; i < small.length - 8; i += 997) {
        const b = small.slice();
        b[i] = (b[i] as number) ^ 0x10;
        const c = codeOf(() => decompressGzip(b, { inflater }));
        expect(["codec-corrupt", "codec-checksum", "codec-size-mismatch", "truncated", "ok"]).toContain(c);
      }
    }
  });

  it("a 1 GB-of-zeros bomb (1024 members of 1 MiB zeros) hits `limit` quickly", () => {
    const member = tool("gzip", ["-n", "-9", "-c"], new Uint8Array(1 << 20));
    const bomb = concat(...Array.from({ length: 1024 }, () => member));
    for (const [, inflater] of inflaters) {
      const [c, s] = time(() => codeOf(() => decompressGzip(bomb, { inflater, maxOutput: 16 << 20 })));
      expect(c).toBe("limit");
      expect(s).toBeLessThan(5);
    }
    // and a single 64 MiB member
    const one = tool("sh", ["-c", "head -c 67108864 /dev/zero | gzip -n -1"]);
    for (const [, inflater] of inflaters) {
      const [c, s] = time(() => codeOf(() => decompressGzip(one, { inflater, maxOutput: 16 << 20 })));
      expect(c).toBe("limit");
      expect(s).toBeLessThan(5);
    }
  });

  it("random mutations throw only KimageError (fast-check)", () => {
    const sample = tool("gzip", ["-n", "-9", "-c"], data.subarray(0, 20_000));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(sample.length), (flips, cut) => {
        const b = sample.slice(0, Math.max(1, cut));
        for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
        for (const [, inflater] of inflaters) {
          try {
            decompressGzip(b, { inflater, maxOutput: 1 << 20 });
          } catch (e) {
            if (!isKimageError(e)) throw e;
          }
        }
      }),
      { numRuns: 300 },
    );
    // raw inflate on arbitrary bytes too
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        try {
          inflateRaw(b, { maxOutput: 1 << 16 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });

  it("throughput vs gzip -dc (logged)", () => {
    const src = kernel ?? data;
    const z = tool("gzip", ["-n", "-9", "-c"], src);
    const path = `/tmp/kimage-gzip-${process.pid}.gz`;
    tool("sh", ["-c", `cat > ${path}`], z);
    const n = nativeSeconds("gzip", ["-dc", path]);
    for (const [name, inflater] of inflaters) {
      decompressGzip(z, { inflater, expectedSize: src.length }); // warm-up
      const [, s] = time(() => decompressGzip(z, { inflater, expectedSize: src.length }));
      console.log(`gzip ${name}: ${(src.length / 1e6 / s).toFixed(0)} MB/s, ${(s / n).toFixed(2)}x gzip -dc (${n.toFixed(3)} s)`);
    }
    tool("rm", ["-f", path]);
  });
});
