import { describe, expect, it } from "vitest";
import { decompressLzo } from "../../src/codecs/lzo.js";
import { tool, sha, time, generated, realKernelBytes, le32, concat, codeOf, assertOnlyKimageErrors, logThroughput } from "../support/codec.js";

// ---- tests

const data = generated(1 << 20, 31);
const kernel = realKernelBytes(4 << 20, "lzo");

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
    assertOnlyKimageErrors((b) => decompressLzo(b, { maxOutput: 1 << 20 }), sample, 50);
  });

  it("throughput vs the native tool (logged)", () => {
    logThroughput("lzop", ["-9",  "-c"], (z, expectedSize) => decompressLzo(z, { expectedSize }), kernel ?? data);
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
