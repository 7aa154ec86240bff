/**
 * The RISC-V Image header (Documentation/arch/riscv/boot-image-header.rst;
 * `struct riscv_image_header` in arch/riscv/include/asm/image.h):
 *
 * ```
 *   u32 code0;                 // Executable code
 *   u32 code1;                 // Executable code
 *   u64 text_offset;           // Image load offset, little endian
 *   u64 image_size;            // Effective Image size, little endian
 *   u64 flags;                 // kernel flags, little endian
 *   u32 version;               // Version of this header
 *   u32 res1 = 0;              // Reserved
 *   u64 res2 = 0;              // Reserved
 *   u64 magic = 0x5643534952;  // Magic number, little endian, "RISCV"
 *   u32 magic2 = 0x05435352;   // Magic number 2, little endian, "RSC\x05"
 *   u32 res3;                  // Reserved for PE COFF offset
 * ```
 *
 * The checks are the kernel's (arch/riscv/kernel/kexec_image.c):
 * `image_probe` rejects a buffer shorter than the header, and "use "magic2"
 * field to check when version >= 0.2" (parse errors here: `truncated`,
 * `unknown-format`); `image_load` rejects image_size 0 and an endianness
 * other than the kernel's (findings and the `kexec` field).
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import { KimageError, type Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";

/** Format id of the RISC-V Image layer. */
export const RISCV_IMAGE_LAYER = "riscv-image";
/** Size of `struct riscv_image_header`. */
export const RISCV_HEADER_SIZE = 64;
/** `RISCV_IMAGE_MAGIC` "RISCV\0\0\0" as a le64 (deprecated as of header version 0.2). */
export const RISCV_IMAGE_MAGIC = 0x5643534952n;
/** `RISCV_IMAGE_MAGIC2` "RSC\x05" as a le32. */
export const RISCV_IMAGE_MAGIC2 = 0x05435352;
/** `RISCV_HEADER_VERSION` = 0 << 16 | 2 (version 0.2). */
export const RISCV_HEADER_VERSION = (0 << 16) | 2;

/** Field offsets of `struct riscv_image_header`. */
export const RISCV_OFFSETS = {
  code0: 0x00,
  code1: 0x04,
  text_offset: 0x08,
  image_size: 0x10,
  flags: 0x18,
  version: 0x20,
  res1: 0x24,
  res2: 0x28,
  magic: 0x30,
  magic2: 0x38,
  res3: 0x3c,
} as const;

/** A parsed RISC-V Image header. */
export interface RiscvHeader {
  code0: number;
  code1: number;
  text_offset: bigint;
  image_size: bigint;
  flags: bigint;
  version: number;
  /** "Bits 16:31 Major version". */
  versionMajor: number;
  /** "Bits 0:15 Minor version". */
  versionMinor: number;
  res1: number;
  res2: bigint;
  magic: bigint;
  magic2: number;
  res3: number;
  /** flags "Bit 0 Kernel endianness. 1 if BE, 0 if LE." */
  bigEndian: boolean;
}

/**
 * True when `bytes` holds a header the kernel's `image_probe` would take
 * and that is recognisably RISC-V: "RSC\x05" at 0x38, or (headers before
 * 0.2) "RISCV\0\0\0" at 0x30. Never throws.
 */
export function probeRiscvImage(bytes: Uint8Array): boolean {
  try {
    const v = new ByteView(bytes, RISCV_IMAGE_LAYER);
    if (v.length < RISCV_HEADER_SIZE) return false;
    if (v.matches(RISCV_OFFSETS.magic2, "RSC\x05")) return true;
    return v.u32le(RISCV_OFFSETS.version, "version") < RISCV_HEADER_VERSION && v.matches(RISCV_OFFSETS.magic, "RISCV\0\0\0");
  } catch {
    return false;
  }
}

/**
 * Reads the header.
 *
 * @throws KimageError `truncated` (`kernel_len < sizeof(*h)`),
 *   `unknown-format` (version ≥ 0.2 without "RSC\x05" in magic2, or an older
 *   header without the "RISCV" magic).
 */
export function parseRiscvHeader(bytes: Uint8Array, base = 0): RiscvHeader {
  const v = new ByteView(bytes, RISCV_IMAGE_LAYER, base);
  const O = RISCV_OFFSETS;
  if (v.length < RISCV_HEADER_SIZE) {
    throw new KimageError("truncated", `No RISC-V image header: ${v.length} bytes, the header needs ${RISCV_HEADER_SIZE}`, { layer: RISCV_IMAGE_LAYER, offset: base });
  }
  const version = v.u32le(O.version, "version");
  const magic = v.u64le(O.magic, "magic");
  const magic2 = v.u32le(O.magic2, "magic2");
  // "if (h->version >= RISCV_HEADER_VERSION && memcmp(&h->magic2, RISCV_IMAGE_MAGIC2, sizeof(h->magic2))) return -EINVAL;"
  if (version >= RISCV_HEADER_VERSION && magic2 !== RISCV_IMAGE_MAGIC2) {
    throw new KimageError("unknown-format", `Bad RISC-V image header: version ${version >>> 16}.${version & 0xffff} needs magic2 "RSC\\x05", found ${hex(magic2)}`, { layer: RISCV_IMAGE_LAYER, offset: v.abs(O.magic2) });
  }
  if (version < RISCV_HEADER_VERSION && magic !== RISCV_IMAGE_MAGIC && magic2 !== RISCV_IMAGE_MAGIC2) {
    throw new KimageError("unknown-format", `Bad RISC-V image header: neither magic "RISCV" nor magic2 "RSC\\x05"`, { layer: RISCV_IMAGE_LAYER, offset: v.abs(O.magic) });
  }
  const flags = v.u64le(O.flags, "flags");
  return {
    code0: v.u32le(O.code0, "code0"),
    code1: v.u32le(O.code1, "code1"),
    text_offset: v.u64le(O.text_offset, "text_offset"),
    image_size: v.u64le(O.image_size, "image_size"),
    flags,
    version,
    versionMajor: version >>> 16,
    versionMinor: version & 0xffff,
    res1: v.u32le(O.res1, "res1"),
    res2: v.u64le(O.res2, "res2"),
    magic,
    magic2,
    res3: v.u32le(O.res3, "res3"),
    // RISCV_IMAGE_FLAG_BE_SHIFT 0, RISCV_IMAGE_FLAG_BE_MASK 0x1
    bigEndian: (flags & 1n) === 1n,
  };
}

/** The kernel's `image_load` header checks for a (little-endian, the only kind that exists) kernel. */
export function riscvLoadability(h: RiscvHeader, hostBigEndian = false): { loadable: boolean; reasons: string[] } {
  const reasons: string[] = [];
  // "if (!h->image_size) { ret = -EINVAL; goto out; }"; the doc: "Image size is mandatory ... Booting will fail otherwise."
  if (h.image_size === 0n) reasons.push("image_size is 0: image_load rejects it (-EINVAL)");
  // "if (be_image != be_kernel) { ret = -EINVAL; goto out; }"
  if (h.bigEndian !== hostBigEndian) reasons.push(`${h.bigEndian ? "Big" : "Little"}-endian image is not supported by a ${hostBigEndian ? "big" : "little"}-endian kernel (-EINVAL)`);
  return { loadable: reasons.length === 0, reasons };
}

/** Builds the JSON-ready RISC-V Image layer; its typed header is the {@link RiscvHeader}. */
export function riscvImageLayer(bytes: Uint8Array, offset: number): Layer<RiscvHeader> {
  const h = parseRiscvHeader(bytes, Math.max(offset, 0));
  const at = (o: number) => (offset >= 0 ? offset + o : -1);
  const findings: Finding[] = [];
  const load = riscvLoadability(h);
  if (h.image_size === 0n) {
    findings.push({ code: "riscv-image-size-zero", severity: "warning", offset: at(RISCV_OFFSETS.image_size), message: "image_size is 0: \"Image size is mandatory for boot loader to load kernel image. Booting will fail otherwise.\"" });
  } else if (h.image_size < BigInt(bytes.length)) {
    findings.push({ code: "riscv-image-size-below-file", severity: "warning", offset: at(RISCV_OFFSETS.image_size), message: `image_size ${hex(h.image_size)} is smaller than the file (${hex(bytes.length)})` });
  }
  if (h.bigEndian) findings.push({ code: "riscv-big-endian", severity: "warning", offset: at(RISCV_OFFSETS.flags), message: "flags bit 0 is set: a big-endian image, which image_load rejects" });
  if (h.flags >> 1n !== 0n) findings.push({ code: "riscv-reserved-flags", severity: "info", offset: at(RISCV_OFFSETS.flags), message: `flags bits 1-63 are ${hex(h.flags >> 1n)} ("the flags field has only one field")` });
  if (h.version < RISCV_HEADER_VERSION) {
    findings.push({ code: "riscv-old-header", severity: "info", offset: at(RISCV_OFFSETS.version), message: `header version ${h.versionMajor}.${h.versionMinor} is older than 0.2: magic2 is not checked` });
  } else if (h.magic !== RISCV_IMAGE_MAGIC) {
    findings.push({ code: "riscv-deprecated-magic-absent", severity: "info", offset: at(RISCV_OFFSETS.magic), message: `the deprecated magic is ${hex(h.magic)}, not "RISCV" (allowed as of version 0.2)` });
  }
  if (h.res1 !== 0 || h.res2 !== 0n) findings.push({ code: "riscv-reserved-nonzero", severity: "info", offset: at(RISCV_OFFSETS.res1), message: `res1 = ${hex(h.res1)}, res2 = ${hex(h.res2)} (documented as 0)` });
  // kexec_image.c: "kbuf.buf_align = le64_to_cpu(h->text_offset);"
  if (h.text_offset !== 0n && (h.text_offset & (h.text_offset - 1n)) !== 0n) {
    findings.push({ code: "riscv-text-offset-not-power-of-two", severity: "info", offset: at(RISCV_OFFSETS.text_offset), message: `text_offset ${hex(h.text_offset)} is used as the load alignment by kexec_file, but is not a power of two` });
  }
  for (const r of load.reasons) findings.push({ code: "riscv-not-loadable", severity: "warning", offset: at(0), message: `kexec_file image_load: ${r}` });
  const pe = bytes[0] === 0x4d && bytes[1] === 0x5a;
  const fields: { [key: string]: JsonValue } = {
    code0: hex(h.code0),
    code1: hex(h.code1),
    text_offset: hex(h.text_offset),
    image_size: hex(h.image_size),
    flags: hex(h.flags),
    version: hex(h.version),
    versionMajor: h.versionMajor,
    versionMinor: h.versionMinor,
    res1: hex(h.res1),
    res2: hex(h.res2),
    magic: hex(h.magic),
    magic2: hex(h.magic2),
    res3: hex(h.res3),
    endianness: h.bigEndian ? "BE" : "LE",
    peHeaderOffset: pe ? h.res3 : null,
    kexec: { loadable: load.loadable, reasons: load.reasons },
  };
  const layer: Layer = {
    format: RISCV_IMAGE_LAYER,
    offset,
    size: bytes.length,
    summary: `RISC-V Image, header ${h.versionMajor}.${h.versionMinor}, ${h.bigEndian ? "BE" : "LE"}, text_offset ${hex(h.text_offset)}, image_size ${hex(h.image_size)}${load.loadable ? "" : ", not kexec-loadable"}`,
    fields,
    findings,
  };
  return withHeader(layer, h);
}

/** The RISC-V Image format module (id "riscv-image"); its layers carry the {@link RiscvHeader}. */
export const riscvImageFormat: FormatModule<RiscvHeader> = {
  id: RISCV_IMAGE_LAYER,
  description: "RISC-V Image (Documentation/arch/riscv/boot-image-header.rst header)",
  probe: probeRiscvImage,
  parse: (bytes, ctx) => riscvImageLayer(bytes, ctx.offset),
};
