/**
 * LoongArch: the real sid loong64 kernel (the only EFI zboot in Debian)
 * unwraps as pe → zboot → zstd → pe → loongarch-image, and the innermost
 * bytes equal `zstd -dc` of the payload the header locates (read
 * independently with xxd); synthetic headers hit kexec_efi.c's rules.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { arm64ImageFormat } from "../../src/formats/arm64/image.js";
import { isKimageError } from "../../src/core/errors.js";
import { compressedFormats, inspect } from "../../src/inspect/registry.js";
import type { FormatModule } from "../../src/format/types.js";
import { loongarchImageFormat, parseLoongarchHeader, probeLoongarchImage } from "../../src/formats/loongarch/image.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { riscvImageFormat } from "../../src/formats/riscv/image.js";
import { zbootFormat } from "../../src/formats/zboot/format.js";
import { MACHINE_LOONGARCH64, buildPe } from "../support/pe-builder.js";
import { haveTool, readBytes, requireReal, run } from "../support/real.js";

const TABLE: FormatModule[] = [peFormat, zbootFormat, arm64ImageFormat, riscvImageFormat, loongarchImageFormat, ...compressedFormats];
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
function xxdLe(path: string, off: number, n: 4 | 8): bigint {
  const out = run("xxd", ["-s", String(off), "-l", String(n), "-e", "-g", String(n), path]);
  return BigInt(`0x${out.trim().split(/\s+/)[1]}`);
}

/** A LoongArch EFI image: a LOONGARCH64 PE with the head.S fields written over its DOS header. */
function loongImage(over: { kernel_entry?: bigint; kernel_asize?: bigint; text_offset?: bigint; magic?: number } = {}): Uint8Array {
  const b = buildPe({ machine: MACHINE_LOONGARCH64, e_lfanew: 0x40 }).bytes.slice();
  const dv = new DataView(b.buffer);
  dv.setBigUint64(8, over.kernel_entry ?? 0x201000n, true);
  dv.setBigUint64(16, over.kernel_asize ?? 0x100000n, true);
  dv.setBigUint64(24, over.text_offset ?? 0x200000n, true);
  dv.setUint32(0x38, over.magic ?? 0x818223cd, true);
  return b;
}

describe("LoongArch image header (synthetic)", () => {
  it("fields by head.S / image.h name; entryOffset = kernel_entry - text_offset", async () => {
    const { layers } = await inspect(loongImage(), { formats: TABLE });
    expect(layers.map((l) => l.format)).toEqual(["pe", "loongarch-image"]);
    expect(layers[1]!.fields).toEqual({
      dos_sig: "MZ",
      kernel_entry: "0x201000",
      kernel_asize: "0x100000",
      text_offset: "0x200000",
      linux_pe_magic: "0x818223cd",
      pe_header: 0x40,
      entryOffset: "0x1000",
      kexec: { loadable: true, reasons: [] },
    });
  });
  it("efi_kexec_probe: short → truncated; no MZ → unknown-format", () => {
    expect(() => parseLoongarchHeader(loongImage().subarray(0, 63))).toThrowError(expect.objectContaining({ code: "truncated" }));
    const b = loongImage();
    b[0] = 0;
    expect(probeLoongarchImage(b)).toBe(false);
    expect(() => parseLoongarchHeader(b)).toThrowError(expect.objectContaining({ code: "unknown-format" }));
  });
  it("efi_kexec_load: kernel_asize 0 is not loadable; an old header (no LINUX_PE_MAGIC, virtual entry) is reported", async () => {
    const z = await loongarchImageFormat.parse(loongImage({ kernel_asize: 0n }), { offset: 0 });
    expect(z.fields.kexec).toMatchObject({ loadable: false });
    expect(z.findings.map((f) => f.code)).toEqual(expect.arrayContaining(["loongarch-kernel-asize-zero", "loongarch-not-loadable"]));
    const old = await loongarchImageFormat.parse(loongImage({ kernel_entry: 0x9000000000200000n, text_offset: 0n, magic: 0 }), { offset: 0 });
    expect(old.fields.entryOffset).toBeNull();
    expect(old.findings.map((f) => f.code)).toEqual(expect.arrayContaining(["loongarch-entry-outside-image", "loongarch-no-linux-pe-magic"]));
  });
  it("the probe wants a LOONGARCH64 PE and no zboot header", () => {
    const b = loongImage();
    b.set([0x7a, 0x69, 0x6d, 0x67], 4);
    expect(probeLoongarchImage(b)).toBe(false);
    expect(probeLoongarchImage(buildPe({ e_lfanew: 0x40 }).bytes)).toBe(false);
  });
  it("random mutations only throw KimageError", () => {
    const base = loongImage();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(0x7f), fc.nat(255)), { maxLength: 8 }), fc.nat(base.length), (muts, cut) => {
        const b = base.slice(0, cut);
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        probeLoongarchImage(b);
        try {
          JSON.stringify(loongarchImageFormat.parse(b, { offset: 0 }));
        } catch (e) {
          if (!isKimageError(e)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the real sid loong64 kernel (EFI zboot, zstd)", () => {
  const files = requireReal("Debian sid loong64 kernel", (f) => f.kind === "kernel" && f.arch === "loong64");
  const tools = files.length > 0 && haveTool("zstd") && haveTool("xxd", ["-v"]);
  const tmp = mkdtempSync(join(tmpdir(), "kimage-loong-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  for (const f of files) {
    it.skipIf(!tools)(`${f.package}: pe → zboot → zstd → pe → loongarch-image; innermost = zstd -dc of the payload`, async () => {
      const bytes = readBytes(f.abs);
      const t = Date.now();
      const { layers } = await inspect(bytes, { formats: TABLE });
      const ms = Date.now() - t;
      expect(layers.map((l) => l.format)).toEqual(["pe", "zboot", "zstd", "pe", "loongarch-image"]);
      // Independent reader: the zboot header by xxd.
      const off = Number(xxdLe(f.abs, 8, 4));
      const size = Number(xxdLe(f.abs, 12, 4));
      const trailer = Number(xxdLe(f.abs, off + size, 4));
      expect(run("xxd", ["-s", "24", "-l", "4", "-p", f.abs]).trim()).toBe("7a737464"); // "zstd"
      const z = layers[1]!;
      expect(z.fields).toMatchObject({ image_type: "zimg", payload_offset: off, payload_size: size, compress_type: "zstd", codec: "zstd", size_len: 4, linux_pe_magic: "0x818223cd" });
      expect((z.fields.sizeTrailer as { value: number }).value).toBe(trailer);
      const payloadPath = join(tmp, "payload.zst");
      writeFileSync(payloadPath, bytes.subarray(off, off + size));
      const innerPath = join(tmp, "inner");
      run("sh", ["-c", `zstd -dc < '${payloadPath}' > '${innerPath}'`]);
      const native = new Uint8Array(readFileSync(innerPath));
      const innermost = layers[2]!.payload!.bytes;
      expect(layers[4]!.size).toBe(innermost.length);
      expect(innermost.length).toBe(native.length);
      expect(innermost.length).toBe(trailer);
      expect(sha(innermost)).toBe(sha(native));
      expect(layers[2]!.fields).toMatchObject({ compressedSize: size, size: trailer, checked: ["xxh64"], trailingBytes: 0 });
      // The inner header against xxd of the zstd -dc output.
      const l = layers[4]!;
      expect(l.fields.kernel_entry).toBe(`0x${xxdLe(innerPath, 8, 8).toString(16)}`);
      expect(l.fields.kernel_asize).toBe(`0x${xxdLe(innerPath, 16, 8).toString(16)}`);
      expect(l.fields.text_offset).toBe(`0x${xxdLe(innerPath, 24, 8).toString(16)}`);
      expect(l.fields.linux_pe_magic).toBe(`0x${xxdLe(innerPath, 0x38, 4).toString(16)}`);
      expect(l.fields.pe_header).toBe(Number(xxdLe(innerPath, 0x3c, 4)));
      expect(l.fields.kexec).toEqual({ loadable: true, reasons: [] });
      expect(layers[3]!.fields.machine).toBe("LOONGARCH64");
      console.log(`${f.path}: payload ${size} B at 0x${off.toString(16)} -> ${trailer} B; inspect ${ms} ms; inner ${JSON.stringify(l.fields)}`);
    });
  }
});
