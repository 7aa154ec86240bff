/**
 * The LoongArch EFI kernel image header (arch/loongarch/kernel/head.S;
 * `struct loongarch_image_header` in arch/loongarch/include/asm/image.h):
 *
 * ```
 * _head:
 *     .word   MZ_MAGIC                // "MZ", MS-DOS header
 *     .org    0x8
 *     .dword  _kernel_entry           // Kernel entry point (physical address)
 *     .dword  _kernel_asize           // Kernel image effective size
 *     .quad   PHYS_LINK_KADDR         // Kernel image load offset from start of RAM
 *     .org    0x38                    // 0x20 ~ 0x37 reserved
 *     .long   LINUX_PE_MAGIC
 *     .long   pe_header - _head       // Offset to the PE header
 * ```
 *
 * image.h names the same bytes dos_sig[2], padding_1[3], kernel_entry,
 * kernel_asize, text_offset, padding_2[7] (0x20-0x3b, whose last word is
 * LINUX_PE_MAGIC) and pe_header. Older kernels (before v6.1) stored the
 * entry as a virtual address, text_offset 0, and no LINUX_PE_MAGIC.
 *
 * Checks, from arch/loongarch/kernel/kexec_efi.c: `efi_kexec_probe` ("No
 * LoongArch image header." when shorter than the header, "No LoongArch PE
 * image header." without "MZ"; parse errors here, `truncated` and
 * `unknown-format`), and `efi_kexec_load`, which rejects kernel_asize 0
 * (a finding and the `kexec` field). The entry is then
 * `segment->mem + h->kernel_entry - text_offset`.
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import { KimageError, type Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";

/** Format id of the LoongArch image layer. */
export const LOONGARCH_IMAGE_LAYER = "loongarch-image";
/** Size of `struct loongarch_image_header`. */
export const LOONGARCH_HEADER_SIZE = 64;
/** `LINUX_PE_MAGIC` (include/linux/pe.h), at 0x38 since v6.1. */
export const LOONGARCH_LINUX_PE_MAGIC = 0x818223cd;

/**
 * IMAGE_FILE_MACHINE_LOONGARCH64 (PE Format, "Machine Types":
 * "IMAGE_FILE_MACHINE_LOONGARCH64 0x6264 LoongArch 64-bit processor family"),
 * the Machine of the PE header the image carries. Stated here so that this
 * format does not import the PE format.
 */
const LOONGARCH_PE_MACHINE = 0x6264;

/** Field offsets of the header (head.S / image.h). */
export const LOONGARCH_OFFSETS = {
  dos_sig: 0x00,
  kernel_entry: 0x08,
  kernel_asize: 0x10,
  text_offset: 0x18,
  linux_pe_magic: 0x38,
  pe_header: 0x3c,
} as const;

/** A parsed LoongArch image header. */
export interface LoongarchHeader {
  /** "MZ". */
  dos_sig: string;
  kernel_entry: bigint;
  kernel_asize: bigint;
  text_offset: bigint;
  /** padding_2[6], LINUX_PE_MAGIC in v6.1+. */
  linux_pe_magic: number;
  pe_header: number;
}

/**
 * True for a LoongArch EFI kernel image: "MZ", not a zboot image ("zimg" at
 * 4; those are LOONGARCH64 PEs too), and a PE header (at `pe_header`) whose
 * Machine is IMAGE_FILE_MACHINE_LOONGARCH64. Never throws.
 */
export function probeLoongarchImage(bytes: Uint8Array): boolean {
  try {
    const v = new ByteView(bytes, LOONGARCH_IMAGE_LAYER);
    if (v.length < LOONGARCH_HEADER_SIZE || !v.matches(0, "MZ") || v.matches(4, "zimg")) return false;
    const pe = v.u32le(LOONGARCH_OFFSETS.pe_header, "pe_header");
    return v.has(pe, 6) && v.matches(pe, "PE\0\0") && v.u16le(pe + 4, "Machine") === LOONGARCH_PE_MACHINE;
  } catch {
    return false;
  }
}

/**
 * Reads the header.
 *
 * @throws KimageError `truncated` ("No LoongArch image header."),
 *   `unknown-format` ("No LoongArch PE image header.": no "MZ").
 */
export function parseLoongarchHeader(bytes: Uint8Array, base = 0): LoongarchHeader {
  const v = new ByteView(bytes, LOONGARCH_IMAGE_LAYER, base);
  const O = LOONGARCH_OFFSETS;
  // "if (!h || (kernel_len < sizeof(*h))) { kexec_dprintk("No LoongArch image header.\n"); return -EINVAL; }"
  if (v.length < LOONGARCH_HEADER_SIZE) {
    throw new KimageError("truncated", `No LoongArch image header: ${v.length} bytes, the header needs ${LOONGARCH_HEADER_SIZE}`, { layer: LOONGARCH_IMAGE_LAYER, offset: base });
  }
  // "if (!loongarch_header_check_dos_sig(h)) { kexec_dprintk("No LoongArch PE image header.\n"); ..."
  if (!v.matches(0, "MZ")) {
    throw new KimageError("unknown-format", "No LoongArch PE image header: dos_sig is not \"MZ\"", { layer: LOONGARCH_IMAGE_LAYER, offset: base });
  }
  return {
    dos_sig: "MZ",
    kernel_entry: v.u64le(O.kernel_entry, "kernel_entry"),
    kernel_asize: v.u64le(O.kernel_asize, "kernel_asize"),
    text_offset: v.u64le(O.text_offset, "text_offset"),
    linux_pe_magic: v.u32le(O.linux_pe_magic, "linux_pe_magic"),
    pe_header: v.u32le(O.pe_header, "pe_header"),
  };
}

/** Builds the JSON-ready LoongArch image layer; its typed header is the {@link LoongarchHeader}. */
export function loongarchImageLayer(bytes: Uint8Array, offset: number): Layer<LoongarchHeader> {
  const h = parseLoongarchHeader(bytes, Math.max(offset, 0));
  const at = (o: number) => (offset >= 0 ? offset + o : -1);
  const findings: Finding[] = [];
  const reasons: string[] = [];
  // efi_kexec_load: "if (!h->kernel_asize) return ERR_PTR(-EINVAL);"
  if (h.kernel_asize === 0n) {
    reasons.push("kernel_asize is 0: efi_kexec_load rejects it (-EINVAL)");
    findings.push({ code: "loongarch-kernel-asize-zero", severity: "warning", offset: at(LOONGARCH_OFFSETS.kernel_asize), message: "kernel_asize is 0: kexec_file cannot size the kernel segment" });
  } else if (h.kernel_asize < BigInt(bytes.length)) {
    findings.push({ code: "loongarch-kernel-asize-below-file", severity: "warning", offset: at(LOONGARCH_OFFSETS.kernel_asize), message: `kernel_asize ${hex(h.kernel_asize)} is smaller than the file (${hex(bytes.length)})` });
  }
  // "image->start = kernel_segment->mem + h->kernel_entry - text_offset;"
  const entryOffset = h.kernel_entry - h.text_offset;
  const entryInside = entryOffset >= 0n && (h.kernel_asize === 0n || entryOffset < h.kernel_asize);
  if (!entryInside) {
    findings.push({ code: "loongarch-entry-outside-image", severity: "info", offset: at(LOONGARCH_OFFSETS.kernel_entry), message: `kernel_entry - text_offset (${hex(h.kernel_entry)} - ${hex(h.text_offset)}) is not an offset into the image (a pre-v6.1 virtual entry address?)` });
  }
  if (h.linux_pe_magic !== LOONGARCH_LINUX_PE_MAGIC) {
    findings.push({ code: "loongarch-no-linux-pe-magic", severity: "info", offset: at(LOONGARCH_OFFSETS.linux_pe_magic), message: `0x38 holds ${hex(h.linux_pe_magic)}, not LINUX_PE_MAGIC (kernels before v6.1)` });
  }
  for (const r of reasons) findings.push({ code: "loongarch-not-loadable", severity: "warning", offset: at(0), message: `kexec_file efi_kexec_load: ${r}` });
  const fields: { [key: string]: JsonValue } = {
    dos_sig: h.dos_sig,
    kernel_entry: hex(h.kernel_entry),
    kernel_asize: hex(h.kernel_asize),
    text_offset: hex(h.text_offset),
    linux_pe_magic: hex(h.linux_pe_magic),
    pe_header: h.pe_header,
    entryOffset: entryInside ? hex(entryOffset) : null,
    kexec: { loadable: reasons.length === 0, reasons },
  };
  const layer: Layer = {
    format: LOONGARCH_IMAGE_LAYER,
    offset,
    size: bytes.length,
    summary: `LoongArch EFI kernel image, kernel_entry ${hex(h.kernel_entry)}, kernel_asize ${hex(h.kernel_asize)}, text_offset ${hex(h.text_offset)}${reasons.length ? ", not kexec-loadable" : ""}`,
    fields,
    findings,
  };
  return withHeader(layer, h);
}

/** The LoongArch image format module (id "loongarch-image"); its layers carry the {@link LoongarchHeader}. */
export const loongarchImageFormat: FormatModule<LoongarchHeader> = {
  id: LOONGARCH_IMAGE_LAYER,
  description: "LoongArch EFI kernel image (arch/loongarch/kernel/head.S header)",
  probe: probeLoongarchImage,
  parse: (bytes, ctx) => loongarchImageLayer(bytes, ctx.offset),
};
