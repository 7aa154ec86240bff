/**
 * What a PE image wraps: the Linux EFI stub sits in front of another format
 * that shares the same bytes (the PE header lives in the DOS stub area).
 * Classification here is by the inner format's own header fields at their
 * spec offsets, never by a scan for magic bytes.
 *
 * @module
 */

import { ByteView } from "../../core/bytes.js";
import { MACHINE } from "./spec.js";
import type { PeFile } from "./parse.js";

/** Format ids of the inner images an EFI stub can front. */
export type StubKind = "bzimage" | "arm64-image" | "riscv-image" | "zboot" | "zimage" | "loongarch-image";

/**
 * The inner format behind an EFI stub, or null for a plain PE:
 * - zboot: "zimg" at offset 4 (drivers/firmware/efi/libstub/zboot-header.S);
 * - bzImage: "HdrS" at 0x202 (Documentation/arch/x86/boot.rst);
 * - arm64 Image: "ARM\x64" at 0x38 (Documentation/arch/arm64/booting.rst);
 * - RISC-V Image: "RSC\x05" at 0x38 (Documentation/arch/riscv/boot-image-header.rst);
 * - arm zImage: 0x016f2818 at 0x24 (arch/arm/boot/compressed/head.S);
 * - LoongArch: a LOONGARCH64 PE with its kernel_asize at 0x10 (arch/loongarch/kernel/head.S).
 */
export function classifyStub(pe: PeFile): StubKind | null {
  const v = new ByteView(pe.bytes, "pe", pe.base);
  if (v.matches(4, "zimg")) return "zboot";
  if (v.matches(0x202, "HdrS")) return "bzimage";
  if (v.matches(0x38, "ARM\x64")) return "arm64-image";
  if (v.matches(0x38, "RSC\x05")) return "riscv-image";
  if (v.has(0x24, 4) && v.u32le(0x24, "zImage magic") === 0x016f2818) return "zimage";
  if (pe.coff.Machine === MACHINE.LOONGARCH64 && v.has(0x18, 8)) return "loongarch-image";
  return null;
}
