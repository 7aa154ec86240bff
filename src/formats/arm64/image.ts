/**
 * The arm64 Image header (Documentation/arch/arm64/booting.rst, "4. Call the
 * kernel image"; `struct arm64_image_header` in arch/arm64/include/asm/image.h):
 *
 * ```
 *   u32 code0;                    // Executable code
 *   u32 code1;                    // Executable code
 *   u64 text_offset;              // Image load offset, little endian
 *   u64 image_size;               // Effective Image size, little endian
 *   u64 flags;                    // kernel flags, little endian
 *   u64 res2      = 0;            // reserved
 *   u64 res3      = 0;            // reserved
 *   u64 res4      = 0;            // reserved
 *   u32 magic     = 0x644d5241;   // Magic number, little endian, "ARM\x64"
 *   u32 res5;                     // reserved (used for PE COFF offset)
 * ```
 *
 * The checks are the kernel's, in arch/arm64/kernel/kexec_image.c:
 * `image_probe` rejects a buffer shorter than the header or without the
 * magic (these are parse errors here: `truncated`, `unknown-format`; the
 * messages quote kexec-tools' "No arm64 image header." / "Bad arm64 image
 * header."); `image_load` rejects image_size 0, an endianness other than the
 * running kernel's (without mixed-endian support), and a page size the CPU
 * does not support. Those are reported as findings and in the `kexec`
 * field, since the layer is still worth reporting.
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import { KimageError, type Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";

/** Format id of the arm64 Image layer. */
export const ARM64_IMAGE_LAYER = "arm64-image";
/** Size of `struct arm64_image_header`. */
export const ARM64_HEADER_SIZE = 64;
/** `ARM64_IMAGE_MAGIC` "ARM\x64" as the le32 at 0x38. */
export const ARM64_IMAGE_MAGIC = 0x644d5241;

/** Field offsets of `struct arm64_image_header`. */
export const ARM64_OFFSETS = {
  code0: 0x00,
  code1: 0x04,
  text_offset: 0x08,
  image_size: 0x10,
  flags: 0x18,
  res2: 0x20,
  res3: 0x28,
  res4: 0x30,
  magic: 0x38,
  res5: 0x3c,
} as const;

/** "Bit 1-2 Kernel Page size. 0 - Unspecified. 1 - 4K 2 - 16K 3 - 64K" */
export const ARM64_PAGE_SIZES = ["unspecified", "4K", "16K", "64K"] as const;

/**
 * kexec-tools' fallback for image_size 0 (kexec/arch/arm64/kexec-arm64.c,
 * `arm64_process_image_header`: "For 3.16 and older kernels.
 * text_offset = 0x80000; image_size = KERNEL_IMAGE_SIZE" = MiB(16)).
 */
export const KEXEC_TOOLS_FALLBACK = { text_offset: 0x80000, image_size: 16 * 1024 * 1024 } as const;
/**
 * QEMU's (hw/arm/boot.c, `load_aarch64_image`): load offset
 * `KERNEL64_LOAD_ADDR` 0x80000, and "Kernels before v3.17 don't populate the
 * image_size field … our best guess at the size is the size of the Image
 * file itself."
 */
export const QEMU_TEXT_OFFSET_FALLBACK = 0x80000;

/** A parsed arm64 Image header. */
export interface Arm64Header {
  code0: number;
  code1: number;
  text_offset: bigint;
  image_size: bigint;
  flags: bigint;
  res2: bigint;
  res3: bigint;
  res4: bigint;
  magic: number;
  res5: number;
  /** flags bit 0: "Kernel endianness. 1 if BE, 0 if LE." */
  bigEndian: boolean;
  /** flags bits 1-2. */
  pageSize: (typeof ARM64_PAGE_SIZES)[number];
  /** flags bit 3: "Kernel physical placement". */
  physicalPlacement: 0 | 1;
  /** Bits 4-63 ("Reserved."). */
  reservedFlags: bigint;
}

/** True when `bytes` holds at least a header with "ARM\x64" at 0x38. Never throws. */
export function probeArm64Image(bytes: Uint8Array): boolean {
  const v = new ByteView(bytes, ARM64_IMAGE_LAYER);
  return v.length >= ARM64_HEADER_SIZE && v.matches(ARM64_OFFSETS.magic, "ARM\x64");
}

/**
 * Reads the header.
 *
 * @throws KimageError `truncated` (shorter than the 64-byte header:
 *   image_probe's `kernel_len < sizeof(*h)`), `unknown-format` (no
 *   "ARM\x64": image_probe's `memcmp(&h->magic, ARM64_IMAGE_MAGIC, …)`).
 */
export function parseArm64Header(bytes: Uint8Array, base = 0): Arm64Header {
  const v = new ByteView(bytes, ARM64_IMAGE_LAYER, base);
  const O = ARM64_OFFSETS;
  if (v.length < ARM64_HEADER_SIZE) {
    throw new KimageError("truncated", `No arm64 image header: ${v.length} bytes, the header needs ${ARM64_HEADER_SIZE}`, { layer: ARM64_IMAGE_LAYER, offset: base });
  }
  const magic = v.u32le(O.magic, "magic");
  if (magic !== ARM64_IMAGE_MAGIC) {
    throw new KimageError("unknown-format", `Bad arm64 image header: magic ${hex(magic)} is not "ARM\\x64" (${hex(ARM64_IMAGE_MAGIC)})`, { layer: ARM64_IMAGE_LAYER, offset: v.abs(O.magic) });
  }
  const flags = v.u64le(O.flags, "flags");
  return {
    code0: v.u32le(O.code0, "code0"),
    code1: v.u32le(O.code1, "code1"),
    text_offset: v.u64le(O.text_offset, "text_offset"),
    image_size: v.u64le(O.image_size, "image_size"),
    flags,
    res2: v.u64le(O.res2, "res2"),
    res3: v.u64le(O.res3, "res3"),
    res4: v.u64le(O.res4, "res4"),
    magic,
    res5: v.u32le(O.res5, "res5"),
    // ARM64_IMAGE_FLAG_BE_SHIFT 0, _MASK 0x1
    bigEndian: (flags & 1n) === 1n,
    // ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT 1, _MASK 0x3
    pageSize: ARM64_PAGE_SIZES[Number((flags >> 1n) & 3n)] as Arm64Header["pageSize"],
    // ARM64_IMAGE_FLAG_PHYS_BASE_SHIFT 3, _MASK 0x1
    physicalPlacement: Number((flags >> 3n) & 1n) as 0 | 1,
    reservedFlags: flags >> 4n,
  };
}

/** The host facts `image_load` depends on; defaults: a little-endian kernel on a CPU with every granule. */
export interface Arm64Host {
  /** The running kernel is big-endian (`CONFIG_CPU_BIG_ENDIAN`). Default false. */
  bigEndian?: boolean;
  /** `system_supports_mixed_endian()`. Default false. */
  mixedEndian?: boolean;
  /** Granules the CPU supports (`system_supports_{4,16,64}kb_granule()`). Default all. */
  granules?: ReadonlyArray<"4K" | "16K" | "64K">;
}

/** Whether `image_load` (kexec_file_load) would take the header, and why not. */
export interface Arm64Loadability {
  loadable: boolean;
  reasons: string[];
}

/** The kernel's `image_load` header checks (arch/arm64/kernel/kexec_image.c) for a given host. */
export function arm64Loadability(h: Arm64Header, host: Arm64Host = {}): Arm64Loadability {
  const reasons: string[] = [];
  // "We require a kernel with an unambiguous Image header. Per Documentation/arm64/booting.rst,
  //  this is the case when image_size is non-zero (practically speaking, since v3.17)."
  if (h.image_size === 0n) reasons.push("image_size is 0: image_load requires an unambiguous Image header (-EINVAL)");
  // "if ((be_image != be_kernel) && !system_supports_mixed_endian()) return ERR_PTR(-EINVAL);"
  if (h.bigEndian !== (host.bigEndian ?? false) && !(host.mixedEndian ?? false)) {
    reasons.push(`${h.bigEndian ? "Big" : "Little"}-endian image is not supported by a ${host.bigEndian ? "big" : "little"}-endian kernel without mixed-endian support (-EINVAL)`);
  }
  // "((value == ARM64_IMAGE_FLAG_PAGE_SIZE_4K) && !system_supports_4kb_granule()) || ..."
  const granules = host.granules ?? ["4K", "16K", "64K"];
  if (h.pageSize !== "unspecified" && !granules.includes(h.pageSize)) {
    reasons.push(`${h.pageSize} page size is not supported by this CPU's granules (-EINVAL)`);
  }
  return { loadable: reasons.length === 0, reasons };
}

/** Options of {@link arm64ImageLayer}. */
export interface Arm64LayerOptions {
  /** Host facts for the `kexec` field (default: little-endian, all granules). */
  host?: Arm64Host;
}

/** Builds the JSON-ready arm64 Image layer; its typed header is the {@link Arm64Header}. */
export function arm64ImageLayer(bytes: Uint8Array, offset: number, options: Arm64LayerOptions = {}): Layer<Arm64Header> {
  const base = Math.max(offset, 0);
  const h = parseArm64Header(bytes, base);
  const at = (o: number) => (offset >= 0 ? offset + o : -1);
  const findings: Finding[] = [];
  const load = arm64Loadability(h, options.host);
  let effective: { [key: string]: JsonValue };
  if (h.image_size === 0n) {
    findings.push({
      code: "arm64-image-size-zero",
      severity: "warning",
      offset: at(ARM64_OFFSETS.image_size),
      message: `image_size is 0 (a pre-v3.17 header): the kernel's kexec_file refuses it; kexec-tools assumes text_offset ${hex(KEXEC_TOOLS_FALLBACK.text_offset)} and image_size 16 MiB, QEMU text_offset ${hex(QEMU_TEXT_OFFSET_FALLBACK)} and the file size`,
    });
    effective = {
      source: "fallback",
      // booting.rst: "Where image_size is zero, text_offset can be assumed to be 0x80000."
      kexecTools: { text_offset: hex(KEXEC_TOOLS_FALLBACK.text_offset), image_size: hex(KEXEC_TOOLS_FALLBACK.image_size) },
      qemu: { text_offset: hex(QEMU_TEXT_OFFSET_FALLBACK), image_size: hex(bytes.length) },
    };
  } else {
    effective = { source: "header", text_offset: hex(h.text_offset), image_size: hex(h.image_size) };
    if (h.image_size < BigInt(bytes.length)) {
      findings.push({ code: "arm64-image-size-below-file", severity: "warning", offset: at(ARM64_OFFSETS.image_size), message: `image_size ${hex(h.image_size)} is smaller than the file (${hex(bytes.length)})` });
    }
  }
  if (h.bigEndian) {
    findings.push({ code: "arm64-big-endian", severity: "warning", offset: at(ARM64_OFFSETS.flags), message: "flags bit 0 is set: a big-endian kernel (Big-endian image is not supported by little-endian kernels)" });
  }
  if (h.reservedFlags !== 0n) {
    findings.push({ code: "arm64-reserved-flags", severity: "info", offset: at(ARM64_OFFSETS.flags), message: `flags bits 4-63 ("Reserved.") are ${hex(h.reservedFlags)}` });
  }
  for (const k of ["res2", "res3", "res4"] as const) {
    if (h[k] !== 0n) findings.push({ code: "arm64-reserved-nonzero", severity: "info", offset: at(ARM64_OFFSETS[k]), message: `${k} = ${hex(h[k])} (booting.rst: "${k} = 0")` });
  }
  for (const r of load.reasons) findings.push({ code: "arm64-not-loadable", severity: "warning", offset: at(0), message: `kexec_file image_load: ${r}` });
  const pe = bytes[0] === 0x4d && bytes[1] === 0x5a;
  const fields: { [key: string]: JsonValue } = {
    code0: hex(h.code0),
    code1: hex(h.code1),
    text_offset: hex(h.text_offset),
    image_size: hex(h.image_size),
    flags: hex(h.flags),
    res2: hex(h.res2),
    res3: hex(h.res3),
    res4: hex(h.res4),
    magic: hex(h.magic),
    res5: hex(h.res5),
    endianness: h.bigEndian ? "BE" : "LE",
    pageSize: h.pageSize,
    physicalPlacement: h.physicalPlacement,
    physicalPlacementMeaning:
      h.physicalPlacement === 0
        ? "2MB aligned base should be as close as possible to the base of DRAM"
        : "2MB aligned base such that all image_size bytes are within the 48-bit addressable range",
    peHeaderOffset: pe ? h.res5 : null,
    effective,
    kexec: { loadable: load.loadable, reasons: load.reasons },
  };
  const layer: Layer = {
    format: ARM64_IMAGE_LAYER,
    offset,
    size: bytes.length,
    summary: `arm64 Image, ${h.bigEndian ? "BE" : "LE"}, page size ${h.pageSize}, text_offset ${hex(h.text_offset)}, image_size ${hex(h.image_size)}${load.loadable ? "" : ", not kexec-loadable"}`,
    fields,
    findings,
  };
  return withHeader(layer, h);
}

/** Creates the arm64 Image format module with host facts; its layers carry the {@link Arm64Header}. */
export function createArm64ImageFormat(options: Arm64LayerOptions = {}): FormatModule<Arm64Header> {
  return {
    id: ARM64_IMAGE_LAYER,
    description: "arm64 Image (Documentation/arch/arm64/booting.rst header)",
    probe: probeArm64Image,
    parse: (bytes, ctx) => arm64ImageLayer(bytes, ctx.offset, options),
  };
}

/** The arm64 Image format module (id "arm64-image"; host: little-endian, all granules). */
export const arm64ImageFormat: FormatModule<Arm64Header> = createArm64ImageFormat();
