/**
 * arm64 Image header: the kernel's probe rules (kexec_image.c image_probe /
 * image_load), the image_size = 0 fallbacks of kexec-tools and QEMU,
 * truncation sweeps, random mutations, and the real Debian Images (4K and
 * 16K) against an independent reader (xxd).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arm64ImageFormat, arm64Loadability, createArm64ImageFormat, parseArm64Header, probeArm64Image } from "../../src/formats/arm64/image.js";
import { isKimageError } from "../../src/core/errors.js";
import { inspect } from "../../src/inspect/registry.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { haveTool, readBytes, requireReal, run } from "../support/real.js";

/** A synthetic arm64 Image: the 64-byte header and some code. */
function image(over: { text_offset?: bigint; image_size?: bigint; flags?: bigint; magic?: number; res?: bigint; length?: number } = {}): Uint8Array {
  const b = new Uint8Array(over.length ?? 4096);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x14000010, true); // b stext
  dv.setBigUint64(8, over.text_offset ?? 0n, true);
  dv.setBigUint64(16, over.image_size ?? 0x10000n, true);
  dv.setBigUint64(24, over.flags ?? 0xan, true);
  dv.setBigUint64(32, over.res ?? 0n, true);
  dv.setUint32(0x38, over.magic ?? 0x644d5241, true);
  for (let i = 64; i < b.length; i++) b[i] = (i * 31) & 0xff;
  return b;
}

const codes = (l: { findings: { code: string }[] }) => l.findings.map((f) => f.code);

describe("arm64 Image header (synthetic)", () => {
  it("reports every field by its spec name", async () => {
    const l = await arm64ImageFormat.parse(image({ text_offset: 0x80000n, image_size: 0x2000000n, flags: 0xan }), { offset: 0 });
    expect(l.format).toBe("arm64-image");
    expect(l.fields).toMatchObject({
      code0: "0x14000010",
      code1: "0x0",
      text_offset: "0x80000",
      image_size: "0x2000000",
      flags: "0xa",
      res2: "0x0",
      res3: "0x0",
      res4: "0x0",
      magic: "0x644d5241",
      res5: "0x0",
      endianness: "LE",
      pageSize: "4K",
      physicalPlacement: 1,
      peHeaderOffset: null,
      kexec: { loadable: true, reasons: [] },
    });
    expect(l.payload).toBeUndefined();
    expect(l.findings).toEqual([]);
  });

  it("decodes every page-size value (bits 1-2) and placement (bit 3)", () => {
    const names = ["unspecified", "4K", "16K", "64K"];
    for (let ps = 0; ps < 4; ps++) {
      for (const place of [0, 1]) {
        const h = parseArm64Header(image({ flags: BigInt((ps << 1) | (place << 3)) }));
        expect(h.pageSize).toBe(names[ps]);
        expect(h.physicalPlacement).toBe(place);
        expect(h.bigEndian).toBe(false);
      }
    }
  });

  it("image_probe: a buffer shorter than the header is `truncated` (No arm64 image header)", () => {
    const b = image().subarray(0, 63);
    expect(probeArm64Image(b)).toBe(false);
    expect(() => parseArm64Header(b)).toThrowError(expect.objectContaining({ code: "truncated", layer: "arm64-image" }));
  });

  it("image_probe: a wrong magic is `unknown-format` (Bad arm64 image header)", () => {
    const b = image({ magic: 0x644d5242 });
    expect(probeArm64Image(b)).toBe(false);
    expect(() => parseArm64Header(b, 100)).toThrowError(expect.objectContaining({ code: "unknown-format", offset: 100 + 0x38 }));
  });

  it("image_load: image_size 0 is not loadable; kexec-tools and QEMU fallbacks are reported", async () => {
    const b = image({ image_size: 0n, length: 5000 });
    const l = await arm64ImageFormat.parse(b, { offset: 0 });
    expect(codes(l)).toContain("arm64-image-size-zero");
    expect(l.fields.kexec).toMatchObject({ loadable: false });
    expect(l.fields.effective).toEqual({
      source: "fallback",
      kexecTools: { text_offset: "0x80000", image_size: "0x1000000" },
      qemu: { text_offset: "0x80000", image_size: "0x1388" },
    });
  });

  it("image_load: a big-endian image is still reported, but not loadable on a little-endian kernel", async () => {
    const l = await arm64ImageFormat.parse(image({ flags: 0xbn }), { offset: 0 });
    expect(l.fields.endianness).toBe("BE");
    expect(codes(l)).toEqual(expect.arrayContaining(["arm64-big-endian", "arm64-not-loadable"]));
    expect(l.fields.kexec).toMatchObject({ loadable: false, reasons: [expect.stringMatching(/^Big-endian image is not supported/)] });
    const h = parseArm64Header(image({ flags: 0xbn }));
    expect(arm64Loadability(h, { bigEndian: true }).loadable).toBe(true);
    expect(arm64Loadability(h, { mixedEndian: true }).loadable).toBe(true);
  });

  it("image_load: page sizes the CPU lacks are not loadable", () => {
    for (const [flags, granule] of [[0x2n, "4K"], [0x4n, "16K"], [0x6n, "64K"]] as const) {
      const h = parseArm64Header(image({ flags }));
      expect(arm64Loadability(h).loadable).toBe(true);
      const others = (["4K", "16K", "64K"] as const).filter((g) => g !== granule);
      const r = arm64Loadability(h, { granules: others });
      expect(r.loadable).toBe(false);
      expect(r.reasons[0]).toContain(`${granule} page size`);
    }
    // "0 - Unspecified" passes every granule check.
    expect(arm64Loadability(parseArm64Header(image({ flags: 0n })), { granules: [] }).loadable).toBe(true);
    const strict = createArm64ImageFormat({ host: { granules: ["4K"] } });
    return Promise.resolve(strict.parse(image({ flags: 0xcn }), { offset: 0 })).then((l) => expect(l.fields.kexec).toMatchObject({ loadable: false }));
  });

  it("flags reserved bits, non-zero res2-res4 and a too-small image_size are findings", async () => {
    const l = await arm64ImageFormat.parse(image({ flags: 0xan | (1n << 40n), res: 5n, image_size: 16n }), { offset: 0 });
    expect(codes(l)).toEqual(expect.arrayContaining(["arm64-reserved-flags", "arm64-reserved-nonzero", "arm64-image-size-below-file"]));
  });

  it("truncation sweep: every prefix either parses or throws KimageError", () => {
    const b = image({ length: 128 });
    for (let n = 0; n <= b.length; n++) {
      const p = b.subarray(0, n);
      expect(probeArm64Image(p)).toBe(n >= 64);
      try {
        parseArm64Header(p);
        expect(n).toBeGreaterThanOrEqual(64);
      } catch (e) {
        expect(isKimageError(e, "truncated")).toBe(true);
      }
    }
  });

  it("random mutations of the header only ever throw KimageError", () => {
    const base = image({ length: 256 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(255), fc.nat(255)), { maxLength: 12 }), fc.nat(256), (muts, cut) => {
        const b = base.slice(0, cut);
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        probeArm64Image(b);
        try {
          const l = arm64ImageFormat.parse(b, { offset: 0 }) as { fields: object };
          JSON.stringify(l);
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** An independent reader: `xxd -s OFF -l N -e -g N` prints the little-endian value in hex. */
function xxdLe(path: string, off: number, n: 4 | 8): bigint {
  const out = run("xxd", ["-s", String(off), "-l", String(n), "-e", "-g", String(n), path]);
  const word = out.trim().split(/\s+/)[1];
  return BigInt(`0x${word}`);
}

describe("arm64 Image (real Debian kernels)", () => {
  const files = requireReal("Debian arm64 kernels", (f) => f.kind === "kernel" && f.arch === "arm64");
  const tool = files.length > 0 && haveTool("xxd", ["-v"]);
  const is16k = (p: string) => /-16k/.test(p);
  const sixteen = files.filter((f) => is16k(f.package));
  it.skipIf(files.length === 0)("the manifest has both a 4K and a 16K flavour", () => {
    if (sixteen.length === 0 && process.env.KIMAGE_REQUIRE_REAL !== "1") return void console.warn("SKIP: no linux-*-arm64-16k in the manifest");
    expect(sixteen.length).toBeGreaterThan(0);
    expect(files.length - sixteen.length).toBeGreaterThan(0);
  });

  for (const f of files) {
    it.skipIf(!tool)(`${f.suite} ${f.package}: pe → arm64-image; fields equal xxd at the spec offsets`, async () => {
      const bytes = readBytes(f.abs);
      const { layers } = await inspect(bytes, { formats: [peFormat, arm64ImageFormat] });
      expect(layers.map((l) => l.format)).toEqual(["pe", "arm64-image"]);
      const l = layers[1]!;
      const x = (off: number, n: 4 | 8) => `0x${xxdLe(f.abs, off, n).toString(16)}`;
      expect(l.fields.code0).toBe(x(0, 4));
      expect(l.fields.code1).toBe(x(4, 4));
      expect(l.fields.text_offset).toBe(x(8, 8));
      expect(l.fields.image_size).toBe(x(16, 8));
      expect(l.fields.flags).toBe(x(24, 8));
      expect(l.fields.res2).toBe(x(32, 8));
      expect(l.fields.res3).toBe(x(40, 8));
      expect(l.fields.res4).toBe(x(48, 8));
      expect(l.fields.magic).toBe(x(56, 4));
      expect(l.fields.res5).toBe(x(60, 4));
      // Debian: text_offset 0, flags 0xa (4K, placement anywhere, LE), 0xc for the 16K flavour.
      expect(l.fields.text_offset).toBe("0x0");
      expect(l.fields.flags).toBe(is16k(f.package) ? "0xc" : "0xa");
      expect(l.fields.pageSize).toBe(is16k(f.package) ? "16K" : "4K");
      expect(l.fields.peHeaderOffset).toBe(Number(x(60, 4)));
      expect(l.fields.kexec).toEqual({ loadable: true, reasons: [] });
      expect(BigInt(l.fields.image_size as string)).toBeGreaterThanOrEqual(BigInt(bytes.length) - 8192n);
      console.log(`${f.path}: text_offset ${l.fields.text_offset}, image_size ${l.fields.image_size}, flags ${l.fields.flags} (${l.fields.pageSize}); findings ${JSON.stringify(codes(l))}`);
    });
  }
});
