/**
 * RISC-V Image header: kexec_image.c probe/load rules, truncation sweeps,
 * random mutations, and the real Debian riscv64 Images against xxd.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isKimageError } from "../../src/core/errors.js";
import { inspect } from "../../src/inspect/registry.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { parseRiscvHeader, probeRiscvImage, riscvImageFormat } from "../../src/formats/riscv/image.js";
import { haveTool, readBytes, requireReal, run } from "../support/real.js";

function image(over: { image_size?: bigint; flags?: bigint; version?: number; magic?: bigint; magic2?: number; text_offset?: bigint; length?: number } = {}): Uint8Array {
  const b = new Uint8Array(over.length ?? 4096);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0000006f, true);
  dv.setBigUint64(8, over.text_offset ?? 0x200000n, true);
  dv.setBigUint64(16, over.image_size ?? 0x100000n, true);
  dv.setBigUint64(24, over.flags ?? 0n, true);
  dv.setUint32(32, over.version ?? 2, true);
  dv.setBigUint64(48, over.magic ?? 0x5643534952n, true);
  dv.setUint32(56, over.magic2 ?? 0x05435352, true);
  return b;
}
const codes = (l: { findings: { code: string }[] }) => l.findings.map((f) => f.code);

describe("RISC-V Image header (synthetic)", () => {
  it("reports every field by its spec name", async () => {
    const l = await riscvImageFormat.parse(image(), { offset: 0 });
    expect(l.fields).toMatchObject({
      code0: "0x6f",
      code1: "0x0",
      text_offset: "0x200000",
      image_size: "0x100000",
      flags: "0x0",
      version: "0x2",
      versionMajor: 0,
      versionMinor: 2,
      res1: "0x0",
      res2: "0x0",
      magic: "0x5643534952",
      magic2: "0x5435352",
      res3: "0x0",
      endianness: "LE",
      kexec: { loadable: true, reasons: [] },
    });
    expect(l.findings).toEqual([]);
  });

  it("image_probe: shorter than the header → truncated", () => {
    expect(probeRiscvImage(image().subarray(0, 63))).toBe(false);
    expect(() => parseRiscvHeader(image().subarray(0, 63))).toThrowError(expect.objectContaining({ code: "truncated" }));
  });

  it("image_probe: version >= 0.2 without magic2 → unknown-format, even with the old magic", () => {
    const b = image({ magic2: 0 });
    expect(probeRiscvImage(b)).toBe(false);
    expect(() => parseRiscvHeader(b)).toThrowError(expect.objectContaining({ code: "unknown-format", offset: 0x38 }));
    expect(() => parseRiscvHeader(image({ magic2: 0, version: 0x10000 }))).toThrowError(expect.objectContaining({ code: "unknown-format" }));
  });

  it("image_probe: a pre-0.2 header is accepted on the old magic alone", async () => {
    const b = image({ magic2: 0, version: 1 });
    expect(probeRiscvImage(b)).toBe(true);
    const l = await riscvImageFormat.parse(b, { offset: 0 });
    expect(codes(l)).toContain("riscv-old-header");
    expect(() => parseRiscvHeader(image({ magic2: 0, version: 1, magic: 0n }))).toThrowError(expect.objectContaining({ code: "unknown-format" }));
  });

  it("image_load: image_size 0 and big-endian are not loadable (and reported)", async () => {
    const z = await riscvImageFormat.parse(image({ image_size: 0n }), { offset: 0 });
    expect(codes(z)).toEqual(expect.arrayContaining(["riscv-image-size-zero", "riscv-not-loadable"]));
    expect(z.fields.kexec).toMatchObject({ loadable: false });
    const be = await riscvImageFormat.parse(image({ flags: 1n }), { offset: 0 });
    expect(be.fields.endianness).toBe("BE");
    expect(codes(be)).toEqual(expect.arrayContaining(["riscv-big-endian", "riscv-not-loadable"]));
    expect(be.fields.kexec).toMatchObject({ loadable: false, reasons: [expect.stringMatching(/^Big-endian image is not supported/)] });
  });

  it("deprecated magic, reserved flags and odd text_offset are informational findings", async () => {
    const l = await riscvImageFormat.parse(image({ magic: 0n, flags: 4n, text_offset: 0x300000n }), { offset: 0 });
    expect(codes(l)).toEqual(expect.arrayContaining(["riscv-deprecated-magic-absent", "riscv-reserved-flags", "riscv-text-offset-not-power-of-two"]));
    expect(l.fields.kexec).toMatchObject({ loadable: true });
  });

  it("truncation sweep and random mutations only throw KimageError", () => {
    const b = image({ length: 100 });
    for (let n = 0; n <= b.length; n++) {
      try {
        parseRiscvHeader(b.subarray(0, n));
      } catch (e) {
        expect(isKimageError(e, "truncated")).toBe(true);
      }
    }
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(127), fc.nat(255)), { maxLength: 12 }), fc.nat(128), (muts, cut) => {
        const m = image({ length: 128 }).slice(0, cut);
        for (const [i, v] of muts) if (i < m.length) m[i] = v;
        probeRiscvImage(m);
        try {
          JSON.stringify(riscvImageFormat.parse(m, { offset: 0 }));
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

function xxdLe(path: string, off: number, n: 4 | 8): string {
  const out = run("xxd", ["-s", String(off), "-l", String(n), "-e", "-g", String(n), path]);
  return `0x${BigInt(`0x${out.trim().split(/\s+/)[1]}`).toString(16)}`;
}

describe("RISC-V Image (real Debian kernels)", () => {
  const files = requireReal("Debian riscv64 kernels", (f) => f.kind === "kernel" && f.arch === "riscv64");
  const tool = files.length > 0 && haveTool("xxd", ["-v"]);
  for (const f of files) {
    it.skipIf(!tool)(`${f.suite} ${f.package}: pe → riscv-image; fields equal xxd`, async () => {
      const bytes = readBytes(f.abs);
      const { layers } = await inspect(bytes, { formats: [peFormat, riscvImageFormat] });
      expect(layers.map((l) => l.format)).toEqual(["pe", "riscv-image"]);
      const l = layers[1]!;
      const spec: [string, number, 4 | 8][] = [
        ["code0", 0, 4], ["code1", 4, 4], ["text_offset", 8, 8], ["image_size", 16, 8], ["flags", 24, 8],
        ["version", 32, 4], ["res1", 36, 4], ["res2", 40, 8], ["magic", 48, 8], ["magic2", 56, 4], ["res3", 60, 4],
      ];
      for (const [name, off, n] of spec) expect([name, l.fields[name]]).toEqual([name, xxdLe(f.abs, off, n)]);
      expect(l.fields.magic).toBe("0x5643534952"); // "RISCV\0\0\0"
      expect(l.fields.magic2).toBe("0x5435352"); // "RSC\x05"
      expect(l.fields.kexec).toEqual({ loadable: true, reasons: [] });
      console.log(`${f.path}: header ${l.fields.versionMajor}.${l.fields.versionMinor}, text_offset ${l.fields.text_offset}, image_size ${l.fields.image_size}, flags ${l.fields.flags}; findings ${JSON.stringify(codes(l))}`);
    });
  }
});
