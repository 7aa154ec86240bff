/**
 * The PE sections systemd-stub gives a meaning to in a unified kernel image,
 * in the order it measures them into PCR 11, and how it reads a section's
 * bytes (its VirtualSize bytes as loaded: raw data, then zeros).
 *
 * Sources: systemd `src/fundamental/uki.h` / `uki.c` (the `UnifiedSection`
 * enum and `unified_sections[]`), `src/boot/pe.c` (`pe_locate_sections_internal`,
 * `pe_section_name_equal`) and the UAPI "Unified Kernel Image" specification.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";

// The names and their order are the uki layer's (src/formats/pe/uki/spec.ts): systemd-stub's
// `UnifiedSection` enum. systemd 252 (bookworm) knew `.linux .osrel .cmdline .initrd`, then
// `.splash .dtb .pcrsig .pcrpkey`; `.ucode`, `.uname`, `.sbat`, `.profile`, `.dtbauto`, `.hwids`
// and `.efifw` were added later at the positions listed there (systemd 257 and newer), so a UKI
// without them measures the same in both.
import { isUnifiedSection, UKI_LAYER, type UnifiedSectionName } from "../formats/pe/uki/spec.js";
export { UKI_LAYER, UNIFIED_SECTIONS, isUnifiedSection, type UnifiedSectionName } from "../formats/pe/uki/spec.js";

/**
 * Whether systemd-stub measures a section into PCR 11. uki.h,
 * `unified_section_measure()`: "Don't include the PCR signature in the PCR
 * measurements, since they sign the expected result of the measurement, and
 * hence shouldn't be input to it." Every other known section is measured.
 */
export function isMeasuredSection(name: string): boolean {
  return isUnifiedSection(name) && name !== ".pcrsig";
}

/**
 * Sections of which the stub uses the first *matching* one rather than the
 * first one: pe.c tries each `.dtbauto` against the firmware's device tree
 * or the `.hwids` match ("Special handling for .dtbauto sections compared to
 * plain .dtb"), and each `.efifw` against the device's firmware id.
 */
export const DEVICE_MATCHED_SECTIONS: readonly UnifiedSectionName[] = [".dtbauto", ".efifw"];

/** The largest section kimage reads (VirtualSize), 1 GiB. */
export const MAX_UKI_SECTION = 1 << 30;

/**
 * The most zero fill (VirtualSize beyond the raw data) kimage materialises
 * for one section, 16 MiB: real UKIs have none (ukify sets VirtualSize to the
 * data's length), and a bound keeps a hostile table from allocating
 * gigabytes of zeros per section.
 */
export const MAX_UKI_ZERO_FILL = 16 << 20;

/** The section header fields that say where a section's bytes are. */
export interface SectionPlacement {
  VirtualSize: number;
  SizeOfRawData: number;
  PointerToRawData: number;
}

/**
 * A section's bytes as systemd-stub sees them in memory: `VirtualSize` bytes,
 * of which the first min(SizeOfRawData, VirtualSize) come from the file and
 * the rest are zero. pe.c: "VirtualSize can be bigger than SizeOfRawData when
 * the section requires uninitialized data. [...] The actual data that's read
 * from disk is the minimum of these two fields." The stub then measures
 * `memory_size` = VirtualSize bytes from the loaded image.
 *
 * @param image the whole PE file.
 * @param base absolute offset of `image[0]`, for error offsets.
 * @throws KimageError `limit` when VirtualSize is above {@link MAX_UKI_SECTION}
 *   or the zero fill above {@link MAX_UKI_ZERO_FILL};
 *   `pe-section-out-of-bounds` when the raw bytes lie outside `image`.
 */
export function sectionMemory(image: Uint8Array, s: SectionPlacement, base = 0): Uint8Array {
  if (s.VirtualSize > MAX_UKI_SECTION) {
    throw new KimageError("limit", `a section's VirtualSize 0x${s.VirtualSize.toString(16)} is above kimage's limit of 0x${MAX_UKI_SECTION.toString(16)}`, { layer: UKI_LAYER, offset: -1 });
  }
  const fromFile = Math.min(s.SizeOfRawData, s.VirtualSize);
  if (fromFile > 0 && (s.PointerToRawData > image.length || fromFile > image.length - s.PointerToRawData)) {
    throw new KimageError("pe-section-out-of-bounds", `section raw data [0x${s.PointerToRawData.toString(16)}, +0x${fromFile.toString(16)}) lies outside the ${image.length}-byte file`, { layer: UKI_LAYER, offset: base + s.PointerToRawData });
  }
  const raw = image.subarray(s.PointerToRawData, s.PointerToRawData + fromFile);
  if (fromFile === s.VirtualSize) return raw;
  if (s.VirtualSize - fromFile > MAX_UKI_ZERO_FILL) {
    throw new KimageError("limit", `a section's VirtualSize 0x${s.VirtualSize.toString(16)} exceeds its raw data by more than kimage's zero-fill limit of 0x${MAX_UKI_ZERO_FILL.toString(16)}`, { layer: UKI_LAYER, offset: base + s.PointerToRawData });
  }
  const out = new Uint8Array(s.VirtualSize);
  out.set(raw);
  return out;
}
