import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { xxh32, xxh64, xxh64Parts } from "../../src/codecs/xxhash.js";
import { decompressZstd } from "../../src/codecs/zstd.js";
import { tool, sha, time, nativeSeconds, generated, REAL, realKernelBytes, le32, concat, codeOf, assertOnlyKimageErrors } from "../support/codec.js";

// ---- tests

const data = generated(1 << 20, 11);
const kernel = realKernelBytes(1 << 20, "zstd");

describe("xxhash", () => {
  it("matches the reference vectors and zstd's stored checksum", () => {
    const e = new TextEncoder();
    expect(xxh32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxh32(e.encode("abc"))).toBe(0x32d153ff);
    expect(xxh64(new Uint8Array(0))).toBe(0xef46db3751d8e999n);
    expect(xxh64(e.encode("abc"))).toBe(0x44bc2cf5ad770999n);
    // every length 0..100 against zstd's own content checksum (low 32 bits of XXH64)
    for (const len of [1, 3, 4, 7, 8, 15, 31, 32, 33, 63, 64, 65, 100, 1000]) {
      const d = data.subarray(0, len);
      const z = tool("zstd", ["-q", "-c", "--check"], d);
      const stored = ((z[z.length - 4] as number) | ((z[z.length - 3] as number) << 8) | ((z[z.length - 2] as number) << 16) | ((z[z.length - 1] as number) << 24)) >>> 0;
      expect(xxh64Parts(d).lo).toBe(stored);
    }
  });
});

describe("zstd: round trips against zstd(1)", () => {
  for (const args of [["-19"], ["-22", "--ultra", "--long=27"], ["-1"], ["-3", "--no-check"], ["-5", "--content-size"]]) {
    it(`generated data, zstd ${args.join(" ")}`, () => {
      // the slow levels get a smaller slice (the real payload test covers size)
      const d = args[0] === "-19" || args[0] === "-22" ? data.subarray(0, 384 << 10) : data;
      const z = tool("zstd", ["-q", "-c", ...args], d);
      const r = decompressZstd(z);
      expect(sha(r.bytes)).toBe(sha(d));
      expect(r.consumed).toBe(z.length);
      if (!args.includes("--no-check")) expect(r.checked).toContain("xxh64");
    });
  }

  it.skipIf(kernel === null)("real kernel bytes, the kernel's options, with the le32 size trailer", () => {
    const k = kernel as Uint8Array;
    for (const args of [["-22", "--ultra", "--long=27"], ["-19"]]) {
      const z = tool("zstd", ["-q", "-c", ...args], k);
      const r = decompressZstd(concat(z, le32(k.length)), { expectedSize: k.length });
      expect(sha(r.bytes)).toBe(sha(k));
      expect(r.consumed).toBe(z.length);
    }
  });

  it("empty input, tiny inputs, skippable frames and concatenated frames", () => {
    for (const input of [new Uint8Array(0), Uint8Array.of(7), new Uint8Array(200_000)]) {
      const z = tool("zstd", ["-q", "-c"], input);
      expect(sha(decompressZstd(z).bytes)).toBe(sha(input));
    }
    const a = tool("zstd", ["-q", "-c"], data.subarray(0, 5000));
    const b = tool("zstd", ["-q", "-c"], data.subarray(5000, 9000));
    const skip = concat(le32(0x184d2a53), le32(3), Uint8Array.of(1, 2, 3));
    const r = decompressZstd(concat(skip, a, skip, b, Uint8Array.of(9, 9, 9, 9, 9)));
    expect(sha(r.bytes)).toBe(sha(data.subarray(0, 9000)));
    expect(r.consumed).toBe(2 * skip.length + a.length + b.length);
  });

  it("partial output returns the first maxOutput bytes", () => {
    const z = tool("zstd", ["-q", "-c", "-3"], data);
    for (const m of [1, 1000, 131072, 200_001]) {
      const r = decompressZstd(z, { maxOutput: m, partial: true });
      expect(r.complete).toBe(false);
      expect(sha(r.bytes)).toBe(sha(data.subarray(0, m)));
    }
  });
});

/** The zstd payload of a real x86 bzImage (setup header fields per the boot protocol). */
function bzImagePayload(): { payload: Uint8Array; size: number } | null {
  const dir = `${REAL}trixie/amd64/`;
  if (!existsSync(dir)) {
    if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error("fixtures/real is absent and KIMAGE_REQUIRE_REAL=1");
    console.warn("SKIP: fixtures/real/trixie/amd64 is absent (run `npm run fixtures`): real zstd payload test skipped");
    return null;
  }
  const pkg = readdirSync(dir).find((d) => /^linux-image-.*-amd64$/.test(d));
  const file = pkg ? readdirSync(dir + pkg).find((f) => f.startsWith("vmlinuz-")) : undefined;
  if (!pkg || !file) return null;
  const b = readFileSync(`${dir}${pkg}/${file}`);
  // setup_sects (u8 @ 0x1f1, 0 means 4), payload_offset (u32 @ 0x248), payload_length (u32 @ 0x24c)
  const setup = b[0x1f1] || 4;
  const off = (setup + 1) * 512 + b.readUInt32LE(0x248);
  const len = b.readUInt32LE(0x24c);
  const payload = new Uint8Array(b.buffer, b.byteOffset + off, len);
  return { payload, size: b.readUInt32LE(off + len - 4) };
}
const real = bzImagePayload();

describe("zstd: the real kernel payload", () => {
  it.skipIf(real === null)("decodes the trixie amd64 bzImage payload like zstd -dc (time vs zstd -dc logged)", () => {
    const { payload, size } = real as { payload: Uint8Array; size: number };
    const path = `/tmp/kimage-zstd-${process.pid}.zst`;
    // zstd(1) rejects the le32 trailer: give it the frame alone
    tool("sh", ["-c", `cat > ${path}`], payload.subarray(0, payload.length - 4));
    const want = sha(tool("zstd", ["-q", "-dc", path]));
    const native = nativeSeconds("zstd", ["-q", "-dc", path]);
    tool("rm", ["-f", path]);
    decompressZstd(payload, { expectedSize: size }); // warm-up
    const [r, s] = time(() => decompressZstd(payload, { expectedSize: size, base: 4096 }));
    expect(r.bytes.length).toBe(size);
    expect(sha(r.bytes)).toBe(want);
    expect(r.consumed).toBe(payload.length - 4);
    expect(r.checked).toEqual(["xxh64"]);
    console.log(`zstd: ${(size / 1e6 / s).toFixed(0)} MB/s on the real payload (${size} bytes), ${(s / native).toFixed(2)}x zstd -dc (${native.toFixed(3)} s)`);
  });
});

describe("zstd: corrupt input", () => {
  const small = tool("zstd", ["-q", "-c", "-9"], data.subarray(0, 300_000));

  it("truncation anywhere is `truncated`", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 80))) {
      expect(codeOf(() => decompressZstd(small.subarray(0, cut)))).toBe("truncated");
    }
    expect(codeOf(() => decompressZstd(small.subarray(0, small.length - 1)))).toBe("truncated");
  });

  it("header and checksum flips give the specific codes", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    expect(codeOf(() => decompressZstd(f(0, 1)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressZstd(f(4, 8)))).toBe("codec-corrupt");
    expect(codeOf(() => decompressZstd(f(small.length - 2, 1)))).toBe("codec-checksum");
    expect(codeOf(() => decompressZstd(small, { expectedSize: 3 }))).toBe("codec-size-mismatch");
    expect(codeOf(() => decompressZstd(f(4, 3)))).toBe("unsupported"); // a dictionary ID appears
  });

  it("flips in the blocks are errors, never crashes", () => {
    for (let i = 6; i < small.length - 4; i += 331) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x21;
      expect(["codec-corrupt", "codec-checksum", "truncated", "ok"]).toContain(codeOf(() => decompressZstd(b)));
    }
  });

  it("a 1 GB-of-zeros bomb hits `limit` quickly", () => {
    const bomb = tool("sh", ["-c", "head -c 1073741824 /dev/zero | zstd -q -1 -c"]);
    const [c, s] = time(() => codeOf(() => decompressZstd(bomb, { maxOutput: 16 << 20 })));
    expect(c).toBe("limit");
    expect(s).toBeLessThan(5);
  });

  it("random mutations throw only KimageError (fast-check)", () => {
    const sample = tool("zstd", ["-q", "-c", "-9"], data.subarray(0, 30_000));
    assertOnlyKimageErrors((b) => decompressZstd(b, { maxOutput: 1 << 20 }), sample, Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd));
  });
});
