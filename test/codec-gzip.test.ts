import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "../src/codecs/crc32.js";
import { decompressGzip, decompressGzipStream, jsInflater } from "../src/codecs/gzip.js";
import { inflateRaw } from "../src/codecs/inflate.js";
import { KimageError, isKimageError, type ErrorCode } from "../src/errors.js";
import { nodeInflater } from "../src/node/zlib.js";

// ---- helpers (kept local: each codec test stands alone)

/** Runs a native tool; throws (never skips) when it is missing or fails. */
function tool(cmd: string, args: string[], input?: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`${cmd} is required for this test: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
}
function nativeSeconds(cmd: string, args: string[]): number {
  const t = performance.now();
  tool("sh", ["-c", `${cmd} ${args.join(" ")} > /dev/null`]);
  return (performance.now() - t) / 1000;
}
/** Deterministic mixed data: text-like runs, repeats and noise. */
function generated(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  const rnd = (): number => ((x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
  const words = ["kernel ", "vmlinuz ", "\x00\x00\x00\x00", "initrd ", "EFI stub ", "\xff\xfe", "mov rax, rbx; "];
  let i = 0;
  while (i < size) {
    const r = rnd();
    if (r < 0.5) {
      const w = words[Math.floor(rnd() * words.length)] as string;
      for (let k = 0; k < w.length && i < size; k++) out[i++] = w.charCodeAt(k);
    } else if (r < 0.8 && i > 64) {
      const d = 1 + Math.floor(rnd() * Math.min(i, 4096));
      const len = 3 + Math.floor(rnd() * 60);
      for (let k = 0; k < len && i < size; k++, i++) out[i] = out[i - d] as number;
    } else out[i++] = Math.floor(rnd() * 256);
  }
  return out;
}
const REAL = fileURLToPath(new URL("../fixtures/real/", import.meta.url));
/** The first `size` bytes of a real kernel image (the arm64 Image is uncompressed kernel code), or null. */
function realKernelBytes(size: number): Uint8Array | null {
  const found: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 4 || !existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      if (e.isDirectory()) walk(`${d}${e.name}/`, depth + 1);
      else if (e.name.startsWith("vmlinuz-")) found.push(d + e.name);
    }
  };
  walk(REAL, 0);
  found.sort((a, b) => Number(b.includes("arm64")) - Number(a.includes("arm64")));
  const f = found[0];
  if (!f) {
    if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error("fixtures/real is absent and KIMAGE_REQUIRE_REAL=1");
    console.warn("SKIP: fixtures/real is absent (run `npm run fixtures`): real-kernel gzip tests skipped");
    return null;
  }
  const b = readFileSync(f);
  return new Uint8Array(b.buffer, b.byteOffset, Math.min(size, b.byteLength));
}
function le32(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
function codeOf(f: () => unknown): ErrorCode | "ok" {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof KimageError) return e.code;
    throw e;
  }
}

// ---- tests

const data = generated(3 << 20, 7);
const gz = tool("gzip", ["-n", "-9", "-c"], data);
const kernel = realKernelBytes(4 << 20);
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
