/**
 * The codec dispatcher: header detection on native-tool outputs, false
 * positives (random data, a zImage-like blob carrying an xz magic inside),
 * header mutations, decompress/decompressSync and the provider hooks.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DECODERS, decompress, decompressSync, detectCodec, hasCodecHeader } from "../../src/codecs/index.js";
import type { Codec, DecompressResult } from "../../src/codecs/types.js";
import { isKimageError } from "../../src/core/errors.js";
import { nodeInflater } from "../../src/node/zlib.js";
import { haveTool } from "../support/real.js";

/** 192 KiB of compressible, deterministic bytes (code-like: words and numbers). */
function sample(): Uint8Array {
  const words = ["mov", "ldr", "str", "add", "sub", "bl", "ret", "x0", "x1", "sp", "#16", "[x29]", "\n"];
  let s = 7;
  const out = new Uint8Array(192 * 1024);
  let i = 0;
  while (i < out.length) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const w = words[s % words.length] as string;
    for (let k = 0; k < w.length && i < out.length; k++) out[i++] = w.charCodeAt(k);
    if (i < out.length) out[i++] = s & 0x40 ? 0x20 : (s >>> 8) & 0xff;
  }
  return out;
}

const TOOLS: Record<Codec, string[]> = {
  gzip: ["gzip", "-9", "-n", "-c"],
  zstd: ["zstd", "-19", "-q", "-c"],
  xz: ["xz", "--check=crc32", "--arm64", "--lzma2=dict=32MiB", "-c"],
  lz4: ["lz4", "-l", "-12", "-q", "-c"],
  bzip2: ["bzip2", "-9", "-c"],
  lzo: ["lzop", "-9", "-c"],
  lzma: ["lzma", "-9", "-c"],
};
/** Extra native variants that must be detected too. */
const VARIANTS: [Codec, string[]][] = [
  ["lz4", ["lz4", "-9", "-q", "-c"]], // frame format
  ["lz4", ["lz4", "-BD", "--content-size", "-q", "-c"]], // frame with content size
  ["gzip", ["gzip", "-1", "-c"]], // no -n: FNAME absent from stdin, MTIME set
  ["zstd", ["zstd", "-22", "--ultra", "--long=27", "-q", "-c"]],
  ["xz", ["xz", "-0", "--check=sha256", "-c"]],
  ["bzip2", ["bzip2", "-1", "-c"]],
];

const input = sample();
const have = Object.values(TOOLS).every((c) => haveTool(c[0] as string, c[0] === "lzop" ? ["--version"] : ["--help"]));
function native(cmd: string[], data: Uint8Array = input): Uint8Array {
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { input: data, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout);
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!have)("detectCodec on native-tool outputs", () => {
  const outputs = Object.fromEntries((Object.keys(TOOLS) as Codec[]).map((c) => [c, native(TOOLS[c])])) as Record<Codec, Uint8Array>;

  for (const c of Object.keys(TOOLS) as Codec[]) {
    it(`${c}: ${TOOLS[c].join(" ")} is detected as ${c}, and only as ${c}; it decodes byte-exact`, async () => {
      const b = outputs[c];
      expect(detectCodec(b)).toBe(c);
      for (const other of Object.keys(TOOLS) as Codec[]) expect([other, hasCodecHeader(b, other)]).toEqual([other, other === c]);
      const r = await decompress(b, c);
      expect(sha(r.bytes)).toBe(sha(input));
      expect(r.complete).toBe(true);
      const s = decompressSync(b, c, { expectedSize: input.length });
      expect(sha(s.bytes)).toBe(sha(input));
    });
  }

  it("variants of the tools are detected too", () => {
    for (const [c, cmd] of VARIANTS) expect([cmd.join(" "), detectCodec(native(cmd))]).toEqual([cmd.join(" "), c]);
    // An empty bzip2 stream ("BZh9" + end-of-stream magic).
    expect(detectCodec(native(["bzip2", "-9", "-c"], new Uint8Array(0)))).toBe("bzip2");
  });

  it("a magic inside a blob is never detected; only a valid header at offset 0", () => {
    // An arm zImage-like blob: code, the zImage magic at 0x24, and the xz stream embedded further in.
    const xz = outputs.xz;
    const blob = new Uint8Array(0x4000 + xz.length);
    for (let i = 0; i < 0x4000; i++) blob[i] = (i * 7 + 3) & 0xff;
    new DataView(blob.buffer).setUint32(0x24, 0x016f2818, true);
    blob.set(xz, 0x4000);
    expect(detectCodec(blob)).toBe(null);
    // The magic alone at offset 0, with a broken stream-flags CRC, is not xz either.
    const fake = xz.slice(0, 64);
    fake[8] = (fake[8] as number) ^ 0xff;
    expect(detectCodec(fake)).toBe(null);
    // zstd magic followed by a reserved Frame_Header_Descriptor bit.
    const z = outputs.zstd.slice(0, 64);
    z[4] = (z[4] as number) | 0x08;
    expect(detectCodec(z)).toBe(null);
  });

  it("mutated headers are rejected", () => {
    const bad: [Codec, (b: Uint8Array) => void][] = [
      ["gzip", (b) => (b[3] = 0x20)], // reserved FLG bit
      ["gzip", (b) => (b[2] = 7)], // CM != 8
      ["lz4", (b) => (b[4] = 0xff)], // legacy: first block size absurd (b[4..7])
      ["bzip2", (b) => (b[3] = 0x30)], // level '0'
      ["bzip2", (b) => (b[4] = 0)], // no block magic
      ["lzo", (b) => (b[15] = 9)], // unknown method
      ["lzma", (b) => (b[0] = 225)], // props out of range
      ["lzma", (b) => (b[0] = 8 + 9 * 4)], // lc 8 + lp 4 > 4
      ["lzma", (b) => (b[1] = 1)], // dictionary 2^26 + 1
      ["lzma", (b) => (b[13] = 1)], // the range coder's first byte must be 0
      ["lzma", (b) => (b[12] = 1)], // uncompressed size neither unknown nor < 2^38
    ];
    for (const [c, mut] of bad) {
      const b = outputs[c].slice(0, 256);
      if (c === "lz4") b.set([0xff, 0xff, 0xff, 0x7f], 4);
      else mut(b);
      expect([c, mut.toString(), detectCodec(b)]).toEqual([c, mut.toString(), null]);
    }
    const frame = native(VARIANTS[0]![1]).slice(0, 64);
    frame[6] = (frame[6] as number) ^ 1; // header checksum
    expect(detectCodec(frame)).toBe(null);
  });

  it("providers: the Node inflater and a replacement decoder are used; misbehaving providers are rejected", async () => {
    const viaNode = await decompress(outputs.gzip, "gzip", { providers: { inflater: nodeInflater } });
    expect(sha(viaNode.bytes)).toBe(sha(input));
    let calls = 0;
    const counting = (b: Uint8Array, o: object): DecompressResult => {
      calls++;
      return DECODERS.zstd(b, o);
    };
    const r = decompressSync(outputs.zstd, "zstd", { providers: { decoders: { zstd: counting } } });
    expect(calls).toBe(1);
    expect(sha(r.bytes)).toBe(sha(input));
    const asyncProvider = async (b: Uint8Array, o: object) => DECODERS.zstd(b, o);
    expect((await decompress(outputs.zstd, "zstd", { providers: { decoders: { zstd: asyncProvider } } })).bytes.length).toBe(input.length);
    expect(() => decompressSync(outputs.zstd, "zstd", { providers: { decoders: { zstd: asyncProvider } } })).toThrowError(expect.objectContaining({ code: "bad-argument" }));
    const liar = (b: Uint8Array, o: object): DecompressResult => ({ ...DECODERS.gzip(b, o), codec: "gzip" });
    await expect(decompress(outputs.gzip, "zstd", { providers: { decoders: { zstd: liar } } })).rejects.toMatchObject({ code: "bad-argument" });
    const thrower = () => {
      throw new Error("native failure");
    };
    await expect(decompress(outputs.zstd, "zstd", { providers: { decoders: { zstd: thrower } } })).rejects.toMatchObject({ code: "codec-corrupt" });
    const big = (b: Uint8Array, o: object): DecompressResult => DECODERS.zstd(b, { ...o, maxOutput: undefined });
    await expect(decompress(outputs.zstd, "zstd", { maxOutput: 1000, providers: { decoders: { zstd: big } } })).rejects.toMatchObject({ code: "limit" });
    await expect(decompress(outputs.zstd, "nope" as Codec)).rejects.toMatchObject({ code: "bad-argument" });
  });

  it("bounded: maxOutput, partial and expectedSize are passed through", async () => {
    await expect(decompress(outputs.xz, "xz", { maxOutput: 1024 })).rejects.toMatchObject({ code: "limit" });
    const p = await decompress(outputs.xz, "xz", { maxOutput: 1024, partial: true });
    expect(p.complete).toBe(false);
    expect(p.bytes).toEqual(input.subarray(0, p.bytes.length));
    await expect(decompress(outputs.bzip2, "bzip2", { expectedSize: input.length + 1 })).rejects.toMatchObject({ code: "codec-size-mismatch" });
  });
});

describe("detectCodec false positives", () => {
  it("random data is (almost) never detected; never throws", () => {
    let s = 12345;
    let hits = 0;
    const b = new Uint8Array(64);
    for (let n = 0; n < 200_000; n++) {
      for (let i = 0; i < b.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        b[i] = s >>> 24;
      }
      if (detectCodec(b) !== null) hits++;
    }
    // Only "lzma alone" has no magic; its rules leave about 2^-20 of random headers.
    expect(hits).toBeLessThanOrEqual(2);
  });

  it("short and mutated inputs never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...([[0x1f, 0x8b, 0x08], [0x28, 0xb5, 0x2f, 0xfd], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x02, 0x21, 0x4c, 0x18], [0x04, 0x22, 0x4d, 0x18], [0x42, 0x5a, 0x68, 0x39], [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a], [0x5d, 0, 0, 0, 4]] as number[][])), (tail, magic) => {
        const b = new Uint8Array([...magic, ...tail]);
        const c = detectCodec(b);
        if (c !== null) expect(hasCodecHeader(b, c)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("decoders fed mutated streams only throw KimageError", () => {
    if (!have) return;
    const streams = (Object.keys(TOOLS) as Codec[]).map((c) => [c, native(TOOLS[c], input.subarray(0, 8192))] as const);
    fc.assert(
      fc.property(fc.nat(streams.length - 1), fc.array(fc.tuple(fc.nat(4095), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(5000), (k, muts, cut) => {
        const [c, s] = streams[k]!;
        const b = s.slice(0, Math.max(1, Math.min(s.length, cut)));
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        try {
          decompressSync(b, c, { maxOutput: 1 << 20 });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});
