/**
 * EFI zboot header (synthetic images built like Makefile.zboot): fields by
 * spec name, the size trailer per method, header errors, truncation sweeps
 * and random mutations.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arm64ImageFormat } from "../../src/formats/arm64/image.js";
import { isKimageError } from "../../src/core/errors.js";
import { compressedFormats, inspect } from "../../src/inspect/registry.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { ZBOOT_COMPRESS_TYPES, parseZbootHeader, probeZboot } from "../../src/formats/zboot/header.js";
import { zbootFormat } from "../../src/formats/zboot/format.js";
import { buildZboot, le32 } from "../support/zboot-builder.js";

const TABLE = [peFormat, zbootFormat, arm64ImageFormat, ...compressedFormats];

/** A small arm64 Image (header + filler). */
function arm64Image(size = 20000): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(16, BigInt(size), true);
  dv.setBigUint64(24, 0xan, true);
  dv.setUint32(0x38, 0x644d5241, true);
  for (let i = 64; i < size; i++) b[i] = (i * 13) % 251;
  return b;
}
const inner = arm64Image();
const gz = new Uint8Array(gzipSync(inner, { level: 9 }));
const built = buildZboot({ vmlinuz: gz, sizeLen: 0, compType: "gzip" });

/** A copy of `b` with the le32 at `off` set. */
function set32(b: Uint8Array, off: number, v: number): Uint8Array {
  const c = b.slice();
  new DataView(c.buffer).setUint32(off, v >>> 0, true);
  return c;
}

describe("zboot header", () => {
  it("pe → zboot → gzip → arm64-image, fields by spec name", async () => {
    const { layers } = await inspect(built.bytes, { formats: TABLE });
    expect(layers.map((l) => l.format)).toEqual(["pe", "zboot", "gzip", "arm64-image"]);
    const z = layers[1]!;
    expect(z.fields).toEqual({
      mz_magic: "0x5a4d",
      image_type: "zimg",
      payload_offset: built.payloadOffset,
      payload_size: gz.length,
      reserved: ["0x0", "0x0"],
      compress_type: "gzip",
      linux_pe_magic: "0x818223cd",
      pe_header_offset: 0x40,
      codec: "gzip",
      size_len: 0,
      sizeTrailer: { offset: built.payloadOffset + gz.length - 4, value: inner.length, insidePayload: true },
    });
    expect(z.payload?.offset).toBe(built.payloadOffset);
    expect(z.payload?.bytes).toEqual(gz);
    expect(z.payload?.codec).toBe("gzip");
    expect(z.payload?.expectedSize).toBe(inner.length);
    expect(layers[2]!.payload?.bytes).toEqual(inner);
    expect(layers[2]!.offset).toBe(built.payloadOffset);
    expect(layers[3]!.offset).toBe(-1);
  });

  it("non-gzip methods: payload_size excludes the le32 trailer that follows it", () => {
    const fake = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00]);
    const vmlinuz = new Uint8Array([...fake, ...le32(123456)]);
    for (const name of ["zstd", "zstd22"]) {
      const b = buildZboot({ vmlinuz, sizeLen: 4, compType: name });
      const h = parseZbootHeader(b.bytes);
      expect(h.codec).toBe("zstd");
      expect(h.payload_size).toBe(fake.length);
      expect(h.size_len).toBe(4);
      expect(h.trailerOffset).toBe(b.payloadOffset + fake.length);
      expect(h.uncompressedSize).toBe(123456);
    }
  });

  it("maps every COMP_TYPE of Makefile.zboot to a codec", () => {
    expect(ZBOOT_COMPRESS_TYPES).toMatchObject({ gzip: "gzip", lz4: "lz4", lzma: "lzma", lzo: "lzo", xzkern: "xz", zstd22: "zstd", zstd: "zstd", bzip2: "bzip2" });
  });

  it("header errors have typed codes", () => {
    const e = (b: Uint8Array) => {
      try {
        parseZbootHeader(b, 0);
      } catch (x) {
        if (isKimageError(x)) return { code: x.code, offset: x.offset };
        throw x;
      }
      return null;
    };
    const noZimg = built.bytes.slice();
    noZimg[4] = 0x78;
    expect(probeZboot(noZimg)).toBe(false);
    expect(e(noZimg)).toEqual({ code: "unknown-format", offset: 0 });
    expect(e(set32(built.bytes, 8, 0x20))).toEqual({ code: "truncated", offset: 8 }); // payload_offset inside the header
    expect(e(set32(built.bytes, 8, built.bytes.length - 10))).toEqual({ code: "truncated", offset: 12 }); // payload past the end
    expect(e(set32(built.bytes, 12, 0xffffffff))).toEqual({ code: "truncated", offset: 12 });
    expect(e(set32(built.bytes, 12, 2))).toEqual({ code: "truncated", offset: 12 }); // gzip: no room for ISIZE
    const unknown = built.bytes.slice();
    unknown.set([0x7a, 0x70, 0x61, 0x71], 0x18); // "zpaq"
    expect(e(unknown)).toEqual({ code: "unsupported", offset: 0x18 });
    // a non-gzip payload whose trailer would lie past the end of the file
    const z = buildZboot({ vmlinuz: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), sizeLen: 4, compType: "lz4" });
    expect(e(set32(z.bytes, 8, z.bytes.length - 4 - 2))).toMatchObject({ code: "truncated" });
    expect(e(built.bytes.subarray(0, 0x3f))).toEqual({ code: "truncated", offset: 0 });
  });

  it("reserved words, a missing LINUX_PE_MAGIC and a payload that is not the named codec are findings", async () => {
    let b = set32(built.bytes, 0x10, 1);
    b = set32(b, 0x38, 0);
    b.set([0x7a, 0x73, 0x74, 0x64, 0], 0x18); // "zstd": but the payload is gzip
    const l = await zbootFormat.parse(b, { offset: 0 });
    expect(l.findings.map((f) => f.code)).toEqual(["zboot-reserved-nonzero", "zboot-no-linux-pe-magic", "zboot-payload-header-mismatch"]);
    const c = b.slice();
    for (let i = 0x18; i < 0x38; i++) c[i] = 0x41;
    expect(() => parseZbootHeader(c)).toThrowError(expect.objectContaining({ code: "unsupported" }));
  });

  it("truncation sweep: every prefix parses or throws KimageError", async () => {
    const b = built.bytes;
    const cuts = new Set<number>();
    for (let n = 0; n <= 0x200; n++) cuts.add(n);
    for (let n = built.payloadOffset - 4; n <= b.length; n += 97) cuts.add(n);
    for (let n = b.length - 600; n <= b.length; n++) cuts.add(n);
    for (const n of cuts) {
      const p = b.subarray(0, n);
      try {
        await inspect(p, { formats: TABLE });
      } catch (e) {
        if (!isKimageError(e)) throw e;
      }
    }
  });

  it("random mutations of the header and payload only ever throw KimageError", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(built.payloadOffset + 64), fc.nat(255)), { minLength: 1, maxLength: 6 }), async (muts) => {
        const b = built.bytes.slice();
        for (const [i, v] of muts) if (i < 0x40 || i >= built.payloadOffset) b[i] = v;
        try {
          const r = await inspect(b, { formats: TABLE });
          JSON.stringify(r.layers.map((l) => ({ ...l, payload: undefined })));
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
