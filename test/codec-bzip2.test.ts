import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KimageError, isKimageError, type ErrorCode } from "../src/errors.js";
import { decompressBzip2 } from "../src/codecs/bzip2.js";

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
    console.warn("SKIP: fixtures/real is absent (run `npm run fixtures`): real-kernel bzip2 tests skipped");
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

const data = generated(1 << 20, 41);
const kernel = realKernelBytes(2 << 20);

describe("bzip2: round trips against bzip2(1)", () => {
  for (const args of [["-9"], ["-1"]]) {
    it(`generated data, bzip2 ${args.join(" ")}`, () => {
      const z = tool("bzip2", ["-c", ...args], data);
      const r = decompressBzip2(z);
      expect(sha(r.bytes)).toBe(sha(data));
      expect(r.consumed).toBe(z.length);
      expect(r.checked).toEqual(["crc32"]);
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, bzip2 -9, with the le32 size trailer", () => {
    const k = kernel as Uint8Array;
    const z = tool("bzip2", ["-c", "-9"], k);
    const r = decompressBzip2(concat(z, le32(k.length)), { expectedSize: k.length });
    expect(sha(r.bytes)).toBe(sha(k));
    expect(r.consumed).toBe(z.length);
  });

  it("runs, empty input, concatenated streams", () => {
    const runs = new Uint8Array(500_000);
    for (let i = 0; i < runs.length; i++) runs[i] = Math.floor(i / 1000) % 3 === 0 ? 7 : i % 251;
    for (const input of [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(100_000), runs]) {
      const z = tool("bzip2", ["-c"], input);
      expect(sha(decompressBzip2(z).bytes)).toBe(sha(input));
    }
    const a = tool("bzip2", ["-c"], data.subarray(0, 5000));
    const b = tool("bzip2", ["-c"], data.subarray(5000, 9000));
    const r = decompressBzip2(concat(a, b, Uint8Array.of(0x42, 0x5a)));
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 9000)));
    expect(r.consumed).toBe(a.length + b.length);
  });

  it("partial output returns the first maxOutput bytes", () => {
    const z = tool("bzip2", ["-c", "-1"], data);
    for (const m of [1, 1000, 100_000, 300_001]) {
      const r = decompressBzip2(z, { maxOutput: m, partial: true });
      expect(r.complete).toBe(false);
      expect(sha(r.bytes)).toBe(sha(data.subarray(0, m)));
    }
  });
});

describe("bzip2: corrupt input", () => {
  const small = tool("bzip2", ["-c", "-9"], data.subarray(0, 120_000));

  it("truncation anywhere is `truncated`", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 60))) {
      expect(codeOf(() => decompressBzip2(small.subarray(0, cut)))).toBe("truncated");
    }
    expect(codeOf(() => decompressBzip2(small.subarray(0, small.length - 1)))).toBe("truncated");
  });

  it("header and checksum flips give the specific codes", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    expect(codeOf(() => decompressBzip2(f(0, 1)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressBzip2(f(4, 1)))).toBe("codec-corrupt"); // block magic
    expect(codeOf(() => decompressBzip2(f(10, 1)))).toBe("codec-checksum"); // block CRC
    expect(codeOf(() => decompressBzip2(f(small.length - 2, 1)))).toBe("codec-checksum"); // stream CRC
    expect(codeOf(() => decompressBzip2(small, { expectedSize: 9 }))).toBe("codec-size-mismatch");
  });

  it("flips in the blocks are errors, never crashes", () => {
    for (let i = 20; i < small.length - 10; i += Math.floor(small.length / 25)) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x42;
      expect(["codec-corrupt", "codec-checksum", "truncated", "unsupported"]).toContain(codeOf(() => decompressBzip2(b)));
    }
  });

  it("a 200 MB-of-zeros bomb hits `limit` quickly (maxOutput 16 MiB)", () => {
    const bomb = tool("sh", ["-c", "head -c 209715200 /dev/zero | bzip2 -9 -c"]);
    const [c, s] = time(() => codeOf(() => decompressBzip2(bomb, { maxOutput: 16 << 20 })));
    expect(c).toBe("limit");
    expect(s).toBeLessThan(5);
  });

  it("random mutations throw only KimageError (fast-check)", () => {
    const sample = tool("bzip2", ["-c", "-9"], data.subarray(0, 30_000));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(sample.length), (flips, cut) => {
        const b = sample.slice(0, Math.max(1, cut));
        for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
        try {
          decompressBzip2(b, { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => {
        try {
          decompressBzip2(concat(sample.subarray(0, 14), tail), { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });

  it("throughput vs the native tool (logged)", () => {
    const src = kernel ?? data;
    const z = tool("bzip2", ["-9",  "-c"], src);
    const path = `/tmp/kimage-bzip2-${process.pid}`;
    tool("sh", ["-c", `cat > ${path}`], z);
    const n = nativeSeconds("bzip2", ["-dc", path]);
    tool("rm", ["-f", path]);
    decompressBzip2(z, { expectedSize: src.length }); // warm-up
    const [r, s] = time(() => decompressBzip2(z, { expectedSize: src.length }));
    expect(sha(r.bytes)).toBe(sha(src));
    console.log(`bzip2: ${(src.length / 1e6 / s).toFixed(0)} MB/s on ${src.length} bytes, ${(s / n).toFixed(2)}x bzip2 -dc (${n.toFixed(3)} s, whole process)`);
  });
});
