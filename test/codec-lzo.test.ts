import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KimageError, isKimageError, type ErrorCode } from "../src/errors.js";
import { decompressLzo } from "../src/codecs/lzo.js";

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
    console.warn("SKIP: fixtures/real is absent (run `npm run fixtures`): real-kernel lzo tests skipped");
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

const data = generated(1 << 20, 31);
const kernel = realKernelBytes(4 << 20);

describe("lzo: round trips against lzop(1)", () => {
  for (const args of [["-9"], ["-1"], ["-3", "--crc32"], ["-7"]]) {
    it(`generated data, lzop ${args.join(" ")}`, () => {
      const z = tool("lzop", ["-q", "-c", ...args], data);
      const r = decompressLzo(z);
      expect(sha(r.bytes)).toBe(sha(data));
      expect(r.consumed).toBe(z.length);
      expect(r.checked.length).toBeGreaterThan(1);
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, lzop -9, with the le32 size trailer", () => {
    const k = kernel as Uint8Array;
    const z = tool("lzop", ["-q", "-c", "-9"], k);
    const r = decompressLzo(concat(z, le32(k.length)), { expectedSize: k.length });
    expect(sha(r.bytes)).toBe(sha(k));
    expect(r.consumed).toBe(z.length);
  });

  it("stored (incompressible) blocks, empty input, named files", () => {
    const noise = new Uint8Array(300_000);
    let x = 1;
    for (let i = 0; i < noise.length; i++) noise[i] = (x = Math.imul(x, 1103515245) + 12345) >>> 24;
    for (const input of [new Uint8Array(0), Uint8Array.of(1), noise]) {
      const z = tool("lzop", ["-q", "-c"], input);
      const r = decompressLzo(z);
      expect(sha(r.bytes)).toBe(sha(input));
      expect(r.consumed).toBe(z.length);
    }
  });

  it("partial output returns the first maxOutput bytes", () => {
    const z = tool("lzop", ["-q", "-c", "-1"], data);
    for (const m of [1, 1000, 262144, 300_001]) {
      const r = decompressLzo(z, { maxOutput: m, partial: true });
      expect(r.complete).toBe(false);
      expect(sha(r.bytes)).toBe(sha(data.subarray(0, m)));
    }
  });
});

describe("lzo: corrupt input", () => {
  const small = tool("lzop", ["-q", "-c", "-9"], data.subarray(0, 600_000));

  it("truncation anywhere is `truncated`", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 80))) {
      expect(codeOf(() => decompressLzo(small.subarray(0, cut)))).toBe("truncated");
    }
    expect(codeOf(() => decompressLzo(small.subarray(0, small.length - 1)))).toBe("truncated");
  });

  it("header and checksum flips give the specific codes", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    expect(codeOf(() => decompressLzo(f(0, 1)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressLzo(f(20, 1)))).toBe("codec-checksum"); // mtime, under the header checksum
    // first block: sizes at h, h+4, then the uncompressed-data Adler-32
    const h = headerEnd(small);
    expect(codeOf(() => decompressLzo(f(h + 8, 1)))).toBe("codec-checksum");
    expect(codeOf(() => decompressLzo(small, { expectedSize: 9 }))).toBe("codec-size-mismatch");
  });

  it("flips in the blocks are errors, never crashes", () => {
    const h = headerEnd(small);
    for (let i = h + 12; i < small.length - 4; i += 211) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x44;
      expect(["codec-corrupt", "codec-checksum", "truncated", "ok"]).toContain(codeOf(() => decompressLzo(b)));
    }
  });

  it("a 1 GB-of-zeros bomb hits `limit` quickly", () => {
    const bomb = tool("sh", ["-c", "head -c 1073741824 /dev/zero | lzop -q -1 -c"]);
    const [c, s] = time(() => codeOf(() => decompressLzo(bomb, { maxOutput: 16 << 20 })));
    expect(c).toBe("limit");
    expect(s).toBeLessThan(5);
  });

  it("random mutations throw only KimageError (fast-check)", () => {
    const sample = tool("lzop", ["-q", "-c", "-1"], data.subarray(0, 30_000));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(sample.length), (flips, cut) => {
        const b = sample.slice(0, Math.max(1, cut));
        for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
        try {
          decompressLzo(b, { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => {
        try {
          decompressLzo(concat(sample.subarray(0, 50), tail), { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });

  it("throughput vs the native tool (logged)", () => {
    const src = kernel ?? data;
    const z = tool("lzop", ["-9",  "-c"], src);
    const path = `/tmp/kimage-lzop-${process.pid}`;
    tool("sh", ["-c", `cat > ${path}`], z);
    const n = nativeSeconds("lzop", ["-dc", path]);
    tool("rm", ["-f", path]);
    decompressLzo(z, { expectedSize: src.length }); // warm-up
    const [r, s] = time(() => decompressLzo(z, { expectedSize: src.length }));
    expect(sha(r.bytes)).toBe(sha(src));
    console.log(`lzop: ${(src.length / 1e6 / s).toFixed(0)} MB/s on ${src.length} bytes, ${(s / n).toFixed(2)}x lzop -dc (${n.toFixed(3)} s, whole process)`);
  });
});

/** Offset of the first block in an lzop file written by lzop 1.04 (version ≥ 0x0940, no extra field). */
/**
 * End of an lzop header written by lzop >= 0.9.4 without a filter: magic (9),
 * version, lib_version, version_needed (2 each), method, level (1 each),
 * flags (4), mode (4), mtime_low, mtime_high (4 each), then name_len at 33,
 * the name, and the 4-byte header checksum.
 */
function headerEnd(z: Uint8Array): number {
  const nameLen = z[33] as number;
  return 34 + nameLen + 4;
}
