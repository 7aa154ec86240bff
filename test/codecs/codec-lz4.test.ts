import { describe, expect, it } from "vitest";
import { decompressLz4 } from "../../src/codecs/lz4.js";
import { tool, sha, time, generated, realKernelBytes, le32, concat, codeOf, assertOnlyKimageErrors, logThroughput } from "../support/codec.js";

// ---- tests

const data = generated(1 << 20, 21);
const kernel = realKernelBytes(4 << 20, "lz4");
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
    assertOnlyKimageErrors((b) => decompressLz4(b, { maxOutput: 1 << 20 }), sample, 7);
  });

  it("throughput vs the native tool (logged)", () => {
    logThroughput("lz4", ["-l",  "-12",  "--favor-decSpeed",  "-c"], (z, expectedSize) => decompressLz4(z, { expectedSize }), kernel ?? data);
  });
});
