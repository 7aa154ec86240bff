import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KimageError, isKimageError, type ErrorCode } from "../src/errors.js";
import { decompressLz4 } from "../src/codecs/lz4.js";

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
    console.warn("SKIP: fixtures/real is absent (run `npm run fixtures`): real-kernel lz4 tests skipped");
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

const data = generated(1 << 20, 21);
const kernel = realKernelBytes(4 << 20);
const LEGACY = ["-l", "-12", "--favor-decSpeed"];

describe("lz4: round trips against lz4(1)", () => {
  const variants: string[][] = [LEGACY, ["-12"], ["-12", "--content-size"], ["-12", "-BD"], ["-12", "--no-frame-crc"], ["-1", "-BX", "-B4"], ["-1", "-B7", "-BD", "-BX"]];
  for (const args of variants) {
    it(`generated data, lz4 ${args.join(" ")}`, () => {
      const z = tool("lz4", ["-q", "-c", ...args], data);
      const r = decompressLz4(z);
      expect(sha(r.bytes)).toBe(sha(data));
      expect(r.consumed).toBe(z.length);
      if (!args.includes("-l") && !args.includes("--no-frame-crc")) expect(r.checked).toContain("content-xxh32");
      if (args.includes("-BX")) expect(r.checked).toContain("block-xxh32");
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, lz4 -l -12 --favor-decSpeed and lz4 -12, with the le32 size trailer", () => {
    const k = kernel as Uint8Array;
    for (const args of [LEGACY, ["-12"]]) {
      const z = tool("lz4", ["-q", "-c", ...args], k);
      const r = decompressLz4(concat(z, le32(k.length)), { expectedSize: k.length });
      expect(sha(r.bytes)).toBe(sha(k));
      expect(r.consumed).toBe(z.length);
    }
  });

  it("legacy: the size trailer ends the stream even when it looks like a block size", () => {
    // small outputs make the trailer a plausible block size: it must still stop there
    for (const size of [1, 1000, 70_000, 1 << 20]) {
      const d = data.subarray(0, size);
      const z = tool("lz4", ["-q", "-c", ...LEGACY], d);
      const r = decompressLz4(concat(z, le32(size), Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6)));
      expect(sha(r.bytes)).toBe(sha(d));
      expect(r.consumed).toBe(z.length);
    }
    // multi-block legacy (8 MiB blocks): 9 MiB of data
    const big = new Uint8Array(9 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (Math.imul(i, 2654435761) >>> 29) & (i >>> 12);
    const z = tool("lz4", ["-q", "-c", "-l", "-1"], big);
    const r = decompressLz4(concat(z, le32(big.length)));
    expect(sha(r.bytes)).toBe(sha(big));
    expect(r.consumed).toBe(z.length);
  });

  it("skippable frames and concatenated frames", () => {
    const a = tool("lz4", ["-q", "-c"], data.subarray(0, 5000));
    const b = tool("lz4", ["-q", "-c", "-l"], data.subarray(5000, 9000));
    const skip = concat(le32(0x184d2a51), le32(2), Uint8Array.of(1, 2));
    const r = decompressLz4(concat(skip, a, b));
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 9000)));
    expect(r.consumed).toBe(skip.length + a.length + b.length);
  });

  it("partial output returns the first maxOutput bytes", () => {
    for (const args of [LEGACY, ["-1", "-BD"]]) {
      const z = tool("lz4", ["-q", "-c", ...args], data);
      for (const m of [1, 1000, 65536, 300_001]) {
        const r = decompressLz4(z, { maxOutput: m, partial: true });
        expect(r.complete).toBe(false);
        expect(sha(r.bytes)).toBe(sha(data.subarray(0, m)));
      }
    }
  });
});

describe("lz4: corrupt input", () => {
  const frame = tool("lz4", ["-q", "-c", "-9", "-BX"], data.subarray(0, 300_000));
  const legacy = tool("lz4", ["-q", "-c", ...LEGACY], data.subarray(0, 300_000));

  it("truncation anywhere is `truncated` (legacy: or a size mismatch when a cut falls on a block end)", () => {
    for (let cut = 0; cut < frame.length; cut += Math.max(1, Math.floor(frame.length / 80))) {
      expect(codeOf(() => decompressLz4(frame.subarray(0, cut)))).toBe("truncated");
    }
    for (let cut = 5; cut < legacy.length; cut += Math.max(1, Math.floor(legacy.length / 80))) {
      expect(["truncated", "codec-size-mismatch"]).toContain(codeOf(() => decompressLz4(legacy.subarray(0, cut), { expectedSize: 300_000 })));
    }
  });

  it("header and checksum flips give the specific codes", () => {
    const f = (b0: Uint8Array, i: number, x: number): Uint8Array => {
      const b = b0.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    expect(codeOf(() => decompressLz4(f(frame, 0, 1)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressLz4(f(frame, 4, 0x80)))).toBe("codec-corrupt"); // version bits
    expect(codeOf(() => decompressLz4(f(frame, 6, 1)))).toBe("codec-checksum"); // HC
    expect(codeOf(() => decompressLz4(f(frame, frame.length - 1, 1)))).toBe("codec-checksum"); // content checksum
    expect(codeOf(() => decompressLz4(f(frame, 12, 1)))).toBe("codec-checksum"); // block data under a block checksum
    expect(codeOf(() => decompressLz4(f(legacy, 9, 0x55)))).not.toBe("ok");
  });

  it("flips in legacy blocks are errors, never crashes", () => {
    for (let i = 8; i < legacy.length; i += Math.floor(legacy.length / 300)) {
      const b = legacy.slice();
      b[i] = (b[i] as number) ^ 0x88;
      expect(["codec-corrupt", "truncated", "ok", "codec-size-mismatch"]).toContain(codeOf(() => decompressLz4(b, { expectedSize: 300_000 })));
    }
  });

  it("a 1 GB-of-zeros bomb hits `limit` quickly", () => {
    const bomb = tool("sh", ["-c", "head -c 1073741824 /dev/zero | lz4 -q -l -c"]);
    const [c, s] = time(() => codeOf(() => decompressLz4(bomb, { maxOutput: 16 << 20 })));
    expect(c).toBe("limit");
    expect(s).toBeLessThan(5);
  });

  it("random mutations throw only KimageError (fast-check)", () => {
    const sample = tool("lz4", ["-q", "-c", "-BD", "-BX"], data.subarray(0, 30_000));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(sample.length), (flips, cut) => {
        const b = sample.slice(0, Math.max(1, cut));
        for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
        try {
          decompressLz4(b, { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => {
        try {
          decompressLz4(concat(sample.subarray(0, 7), tail), { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });

  it("throughput vs the native tool (logged)", () => {
    const src = kernel ?? data;
    const z = tool("lz4", ["-l",  "-12",  "--favor-decSpeed",  "-c"], src);
    const path = `/tmp/kimage-lz4-${process.pid}`;
    tool("sh", ["-c", `cat > ${path}`], z);
    const n = nativeSeconds("lz4", ["-dc", path]);
    tool("rm", ["-f", path]);
    decompressLz4(z, { expectedSize: src.length }); // warm-up
    const [r, s] = time(() => decompressLz4(z, { expectedSize: src.length }));
    expect(sha(r.bytes)).toBe(sha(src));
    console.log(`lz4: ${(src.length / 1e6 / s).toFixed(0)} MB/s on ${src.length} bytes, ${(s / n).toFixed(2)}x lz4 -dc (${n.toFixed(3)} s, whole process)`);
  });
});
