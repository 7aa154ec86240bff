/**
 * Codec layers for whole-file compressed kernels (Image.gz, Image.lz4,
 * vmlinux.xz …): detection by header, fields, the size trailer, hints from
 * the container, the signed-PE cut, and hostile inputs.
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arm64ImageFormat } from "../../src/formats/arm64/image.js";
import { isKimageError } from "../../src/core/errors.js";
import { createCompressedFormats } from "../../src/formats/compressed/format.js";
import { compressedFormats, gzipFormat, inspect, xzFormat } from "../../src/inspect/registry.js";
import { signedPeCut } from "../../src/formats/pe/padding.js";
import { nodeInflater } from "../../src/node/zlib.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { DUMMY_DER, MACHINE_ARM64, buildPe } from "../support/pe-builder.js";
import { haveTool } from "../support/real.js";
import { le32 } from "../support/zboot-builder.js";

const TABLE = [peFormat, arm64ImageFormat, ...compressedFormats];

function arm64Image(size = 300_000): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(16, BigInt(size), true);
  dv.setBigUint64(24, 0xan, true);
  dv.setUint32(0x38, 0x644d5241, true);
  for (let i = 64; i < size; i++) b[i] = (i % 97) ^ ((i >> 9) & 0xff);
  return b;
}
const image = arm64Image();
function native(cmd: string[], data: Uint8Array): Uint8Array {
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { input: data, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout);
}
const tools = haveTool("gzip") && haveTool("lz4") && haveTool("xz");

describe.skipIf(!tools)("whole-file compressed kernels", () => {
  it("Image.gz (gzip -9): gzip → arm64-image", async () => {
    const gz = native(["gzip", "-9", "-n", "-c"], image);
    const { layers } = await inspect(gz, { formats: TABLE });
    expect(layers.map((l) => l.format)).toEqual(["gzip", "arm64-image"]);
    const g = layers[0]!;
    expect(g).toMatchObject({ offset: 0, size: gz.length, payload: { offset: -1 } });
    expect(g.fields).toMatchObject({ codec: "gzip", compressedSize: gz.length, size: image.length, checked: ["crc32", "isize"], complete: true, trailingBytes: 0 });
    expect(g.payload!.bytes).toEqual(image);
    expect(layers[1]!.offset).toBe(-1);
  });

  it("Image.lz4 (frame format) with the kernel's size_append trailer", async () => {
    const lz = native(["lz4", "-9", "-q", "-c"], image);
    const file = new Uint8Array([...lz, ...le32(image.length)]);
    const { layers } = await inspect(file, { formats: TABLE });
    expect(layers.map((l) => l.format)).toEqual(["lz4", "arm64-image"]);
    expect(layers[0]!.fields).toMatchObject({ compressedSize: lz.length, trailingBytes: 4, sizeTrailer: image.length });
    expect(layers[0]!.findings.map((f) => f.code)).toEqual(["size-trailer"]);
  });

  it("vmlinux.xz: xz → arm64-image; bytes after the stream are a finding", async () => {
    const xz = native(["xz", "--check=crc32", "-c"], image);
    const file = new Uint8Array([...xz, 1, 2, 3]);
    const { layers } = await inspect(file, { formats: TABLE });
    expect(layers.map((l) => l.format)).toEqual(["xz", "arm64-image"]);
    expect(layers[0]!.fields).toMatchObject({ trailingBytes: 3, checked: expect.arrayContaining(["crc32"]) });
    expect(layers[0]!.findings.map((f) => f.code)).toEqual(["trailing-bytes"]);
  });

  it("container hints: expectedSize is checked; a codec the container names differently is a finding", async () => {
    const xz = native(["xz", "-c"], image);
    await expect(Promise.resolve(xzFormat.parse(xz, { offset: 0, expectedSize: image.length + 1 } as never))).rejects.toMatchObject({ code: "codec-size-mismatch" });
    const ok = await xzFormat.parse(xz, { offset: 100, expectedSize: image.length, codec: "zstd" } as never);
    expect(ok.fields.expectedSize).toBe(image.length);
    expect(ok.offset).toBe(100);
    expect(ok.findings.map((f) => f.code)).toContain("codec-name-mismatch");
  });

  it("createCompressedFormats: providers (Node's inflater) and maxOutput", async () => {
    const gz = native(["gzip", "-9", "-c"], image);
    const fast = createCompressedFormats({ providers: { inflater: nodeInflater } });
    expect((await inspect(gz, { formats: fast })).layers[0]!.payload!.bytes).toEqual(image);
    const small = createCompressedFormats({ maxOutput: 1000 });
    await expect(inspect(gz, { formats: small })).rejects.toMatchObject({ code: "limit", layer: "gzip" });
    expect(fast.map((f) => f.id)).toEqual(["gzip", "zstd", "xz", "lz4", "bzip2", "lzo", "lzma"]);
  });

  it("probes never match a magic that is not at offset 0", () => {
    const gz = native(["gzip", "-c"], image);
    const shifted = new Uint8Array([0, ...gz]);
    for (const f of compressedFormats) expect([f.id, f.probe(shifted)]).toEqual([f.id, false]);
  });

  it("mutated and truncated streams only throw KimageError", async () => {
    const gz = native(["gzip", "-c"], image.subarray(0, 20000));
    const xz = native(["xz", "-c"], image.subarray(0, 20000));
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.tuple(fc.nat(4000), fc.nat(255)), { maxLength: 4 }), fc.nat(6000), async (which, muts, cut) => {
        const s = (which ? gz : xz).slice(0, Math.max(20, cut));
        for (const [i, v] of muts) if (i < s.length) s[i] = v;
        try {
          await inspect(s, { formats: TABLE });
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("signed PE cut", () => {
  const signed = buildPe({ machine: MACHINE_ARM64, e_lfanew: 0x40, certificates: [{ content: DUMMY_DER }] }).bytes;
  it("a signed PE padded with zeros is cut at the end of its certificate table", async () => {
    const padded = new Uint8Array(signed.length + 5000);
    padded.set(signed);
    expect(signedPeCut(padded)).toEqual({ at: signed.length, dropped: 5000 });
    const gz = new Uint8Array((await import("node:zlib")).gzipSync(padded));
    const l = await gzipFormat.parse(gz, { offset: 0 });
    expect(l.payload!.bytes).toEqual(signed);
    expect(l.fields.cut).toMatchObject({ at: signed.length, dropped: 5000 });
    expect(l.findings.map((f) => f.code)).toContain("signed-pe-cut");
  });
  it("non-zero data after the table is not cut, and is a finding; unsigned or exact files are untouched", () => {
    const padded = new Uint8Array(signed.length + 100);
    padded.set(signed);
    padded[signed.length + 50] = 1;
    const findings: { code: string }[] = [];
    expect(signedPeCut(padded, findings as never)).toBeNull();
    expect(findings.map((f) => f.code)).toEqual(["data-after-certificate-table"]);
    expect(signedPeCut(signed)).toBeNull();
    expect(signedPeCut(buildPe().bytes)).toBeNull();
    expect(signedPeCut(new Uint8Array(10))).toBeNull();
  });
});
