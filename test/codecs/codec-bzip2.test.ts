import { describe, expect, it } from "vitest";
import { decompressBzip2 } from "../../src/codecs/bzip2.js";
import { tool, sha, time, generated, realKernelBytes, le32, concat, codeOf, assertOnlyKimageErrors, logThroughput } from "../support/codec.js";

// ---- tests

const data = generated(1 << 20, 41);
const kernel = realKernelBytes(2 << 20, "bzip2");

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
    assertOnlyKimageErrors((b) => decompressBzip2(b, { maxOutput: 1 << 20 }), sample, 14);
  });

  it("throughput vs the native tool (logged)", () => {
    logThroughput("bzip2", ["-9",  "-c"], (z, expectedSize) => decompressBzip2(z, { expectedSize }), kernel ?? data);
  });
});
