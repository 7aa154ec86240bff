// The JIT warm-up samples (src/codecs/warmup.ts): each decodes, by kimage and by
// the native tool, to warmupData(); the warm-up runs once per key and only for
// large inputs; and on the real bookworm amd64 xz payload it does what it is for:
// without it V8 deoptimizes the LZMA loop, with it not once (node --trace-deopt).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { decompressSync } from "../../src/codecs/index.js";
import { CODECS, type Codec } from "../../src/codecs/types.js";
import { WARMUP_DATA_LENGTH, WARMUP_MIN_INPUT, warmUp, warmupData, warmupSample } from "../../src/codecs/warmup.js";
import { sha } from "../support/codec.js";
import { haveTool, requireReal } from "../support/real.js";

/** The native decoder of each sample (stdin to stdout). */
const NATIVE: Record<Codec, [string, string[]]> = {
  gzip: ["gzip", ["-dc"]],
  zstd: ["zstd", ["-dcq"]],
  lz4: ["lz4", ["-dcq"]],
  xz: ["xz", ["-dc"]],
  lzma: ["xz", ["--format=lzma", "-dc"]],
  bzip2: ["bzip2", ["-dc"]],
  lzo: ["lzop", ["-dc"]],
};

describe("warm-up samples", () => {
  const data = warmupData();
  it("the data is deterministic and has its stated length", () => {
    expect(data.length).toBe(WARMUP_DATA_LENGTH);
    expect(sha(warmupData())).toBe(sha(data));
    // E8/E9 opcodes for the BCJ filter, and nearly every byte value.
    expect(data.filter((b) => b === 0xe8).length).toBeGreaterThan(200);
    expect(new Set(data).size).toBeGreaterThan(240);
  });
  for (const codec of CODECS) {
    it(`${codec}: kimage decodes the sample to the data`, () => {
      const r = decompressSync(warmupSample(codec), codec);
      expect(r.complete).toBe(true);
      expect(sha(r.bytes)).toBe(sha(data));
    });
    const [tool, args] = NATIVE[codec];
    it.skipIf(!haveTool(tool, ["--help"]))(`${codec}: ${tool} ${args.join(" ")} decodes the sample to the data`, () => {
      const p = spawnSync(tool, args, { input: warmupSample(codec), maxBuffer: 1 << 20 });
      expect(p.status, p.stderr.toString()).toBe(0);
      expect(sha(new Uint8Array(p.stdout))).toBe(sha(data));
    });
  }
});

describe("warmUp", () => {
  it("runs once per key, and only for inputs of at least WARMUP_MIN_INPUT bytes", () => {
    const seen: number[] = [];
    const key = `test ${Math.random()}`;
    warmUp(key, "xz", WARMUP_MIN_INPUT - 1, (s) => seen.push(s.length));
    expect(seen).toEqual([]);
    warmUp(key, "xz", WARMUP_MIN_INPUT, (s) => seen.push(s.length));
    warmUp(key, "xz", WARMUP_MIN_INPUT, (s) => seen.push(s.length));
    expect(seen).toEqual([warmupSample("xz").length]);
  });
  it("a failing warm-up does not fail the caller", () => {
    expect(() =>
      warmUp(`test ${Math.random()}`, "gzip", Infinity, () => {
        throw new Error("boom");
      }),
    ).not.toThrow();
  });
});

const KERNEL = requireReal("the bookworm amd64 kernel (xz payload)", (f) => f.kind === "kernel" && f.suite === "bookworm" && f.arch === "amd64" && f.signedPackage)[0];

describe.skipIf(!KERNEL)("the warm-up on a real payload (node --trace-deopt)", () => {
  // A child process decodes the first 24 MB of the payload (what default inspect decodes),
  // straight through decompressXz (no warm-up) or through the dispatcher (warm-up), and
  // V8 prints each deoptimization of the LZMA loop `run`.
  const script = (warm: boolean): string => `
    const { readFileSync } = await import("node:fs");
    const { decompressXz } = await import(${JSON.stringify(new URL("../../dist/codecs/xz.js", import.meta.url).href)});
    const { decompressSync } = await import(${JSON.stringify(new URL("../../dist/codecs/index.js", import.meta.url).href)});
    const f = readFileSync(${JSON.stringify(KERNEL?.abs ?? "")});
    const at = f.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
    const input = new Uint8Array(f.buffer, f.byteOffset + at, f.length - at);
    const options = { partial: true, maxOutput: 24 << 20 };
    const r = ${warm ? 'decompressSync(input, "xz", options)' : "decompressXz(input, options)"};
    console.log("decoded", r.bytes.length);`;
  const deopts = (warm: boolean): number => {
    const p = spawnSync(process.execPath, ["--trace-deopt", "--input-type=module", "-e", script(warm)], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toContain(`decoded ${24 << 20}`);
    return p.stdout.split("\n").filter((l) => /bailout \(kind: deopt-eager.*<JSFunction run /.test(l)).length;
  };
  it("without the warm-up the LZMA loop deoptimizes; with it, never", () => {
    expect(deopts(false)).toBeGreaterThan(0);
    expect(deopts(true)).toBe(0);
  }, 60_000);
});
