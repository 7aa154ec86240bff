/**
 * The arm (32-bit, armhf) plan: what kexec-tools' kexec/arch/arm/kexec-zImage-arm.c
 * `zImage_arm_load` decides for a DT boot, as a pure function. arm has no
 * kexec_file_load; kexec_load(2) with these segments is the only path.
 *
 * - the zImage, cut at its header's `end - start` ("if (size < len) len =
 *   size;"), memsz `len + 4` ("Always extend the zImage by four bytes");
 * - its room: "The zImage length does not include its stack (4k) or its
 *   malloc space (64k).  Include this." (`len += 0x11000`); with the
 *   ZIMAGE_TAG_KRNL_SIZE tag, `kernel_size = edata_size + bss_size`, and
 *   "While decompressing, the zImage is placed past _edata of the
 *   decompressed kernel.  Ensure we account for that.": `if (kernel_size <
 *   edata_size + len) kernel_size = edata_size + len;`; without the tag
 *   "assume the maximum kernel compression ratio is 4" (`len * 5`);
 * - `base = locate_hole(info, len + extra_size, 0, 0, ULONG_MAX, INT_MAX)`
 *   (bottom-up, page-aligned), `kernel_base = base + extra_size` (TEXT_OFFSET,
 *   0x8000);
 * - initrd: `initrd_base = kernel_base + _ALIGN(kexec_arm_image_size,
 *   page_size)`, then `locate_hole(info, initrd_size, page_size, initrd_base,
 *   ULONG_MAX, INT_MAX)`;
 * - dtb: "The dtb must also be placed above the memory used by the zImage
 *   ... We leave a buffer page between the initrd and the dtb.":
 *   `dtb_offset = _ALIGN_DOWN(initrd_base + initrd_size + page_size,
 *   page_size)`, then `locate_hole(info, dtb_length, page_size, dtb_offset,
 *   ULONG_MAX, INT_MAX)`;
 * - entry: `info->entry = (void*)kernel_base;` and the kernel's
 *   arch/arm/kernel/relocate_kernel.S: "mov r0, #0 / ldr r1, kexec_mach_type /
 *   ldr r2, kexec_boot_atags", where machine_kexec_prepare sets
 *   `image->arch.kernel_r2` to the segment that starts with OF_DT_HEADER and
 *   Documentation/arch/arm/booting.rst asks "r1 = machine type number" (~0
 *   for a DT-only machine) and "r2 = physical address of the device tree
 *   blob".
 *
 * /chosen is edited by the shared protocol code (bootargs,
 * linux,initrd-start/-end, the initrd's /memreserve/), as the kernel's
 * of_kexec_alloc_and_setup_fdt does for arm64; kexec-tools writes the same
 * properties (32-bit initrd cells; the kernel reads either width).
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import { parseFdt } from "../../fdt/index.js";
import { parseZImage, type ZImage } from "../../formats/zimage/format.js";
import { buildKexecDtb, type DtbBootParams, type DtbPlanInputBase } from "../protocol/chosen.js";
import { addBuffer, PLAN_LAYER } from "../core/allocator.js";
import { alignDown, alignUpBig, checkSegments, regionsOfType, type Range, type Segment } from "../core/memory.js";
import { memoryMapFromFdt } from "../core/memory-parse.js";
import { createRng, type Seed } from "../core/random.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

/** `unsigned int extra_size = 0x8000; /* TEXT_OFFSET *\/` (kexec-zImage-arm.c). */
export const ARM_TEXT_OFFSET = 0x8000n;
/** "The zImage length does not include its stack (4k) or its malloc space (64k).  Include this.": `len += 0x11000`. */
export const ARM_ZIMAGE_STACK_MALLOC = 0x11000n;
/** ULONG_MAX on a 32-bit arm: every address of an arm plan is below 4 GiB. */
export const ARM_ULONG_MAX = 0xffffffffn;
/**
 * The decompressor's guess of the start of RAM (arch/arm/boot/compressed/head.S,
 * CONFIG_AUTO_ZRELADDR): "mov r0, pc / and r0, r0, #0xf8000000" (128 MiB),
 * corrected by fdt_check_mem_start to the DT memory range holding the zImage.
 */
export const ARM_ZRELADDR_ALIGN = 0x8000000n;

/** The layer an arm plan boots (the zImage, EFI stub included), and its header. */
export const ARM_KERNEL: KernelLayer<ZImage> = { format: "zimage", header: (bytes) => parseZImage(bytes) };

/**
 * Inputs of an arm plan. `kernel`: the kernel in any wrapped form: unwrapped to the zImage.
 */
export interface ArmPlanInput extends DtbPlanInputBase {
  /** Seed for /chosen `rng-seed` and `kaslr-seed` (placement stays kexec-tools' deterministic one). */
  seed?: Seed;
  /** `getpagesize()`; default 4096. */
  pageSize?: bigint;
}

/** What an arm plan reports in `bootParams`. */
export interface ArmBootParams extends DtbBootParams {
  /** Where the decompressor writes the kernel: the RAM base it finds plus TEXT_OFFSET. */
  decompressedAt: bigint;
}

/** An arm plan. */
export type ArmPlan = PlanOf<"arm", ArmBootParams>;

function refuse(message: string): never {
  throw new KimageError("plan-refused", message, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * Plans an arm (32-bit) kexec load of a zImage with a device tree: segments
 * kernel (the zImage at kernel_base), initrd, dtb; entry r0 = 0, r1 = ~0,
 * r2 = the DTB.
 *
 * @throws KimageError `plan-refused` when the kernel has no zImage layer or
 *   its header range is broken, `plan-no-hole` when a segment does not fit
 *   below 4 GiB, or the parse errors of the kernel's layers and the DTB.
 */
export async function planArm(input: ArmPlanInput): Promise<ArmPlan> {
  const notes: string[] = [];
  const image = await unwrapKernel(input.kernel, ARM_KERNEL);
  const zi = image.header;
  notes.push(`kernel: ${image.chain.join(" → ")}; the zImage file is ${image.bytes.length} bytes`);
  if (zi.byteOrder !== "LE") refuse("a BE8 zImage: kexec-tools compares hdr->magic with ZIMAGE_MAGIC in the CPU's order, and an armhf target is little-endian");
  // "size = le32_to_cpu(hdr->end) - le32_to_cpu(hdr->start); ... if (size > len) { "zImage is truncated" }"
  const size = zi.end - zi.start;
  if (zi.end < zi.start || size > image.bytes.length) refuse(`zImage is truncated - file 0x${image.bytes.length.toString(16)} vs header 0x${(size >>> 0).toString(16)}`);
  const kernelBytes = image.bytes.subarray(0, size);
  if (size < image.bytes.length) notes.push(`the zImage is ${size} bytes by its header (end - start); the ${image.bytes.length - size} bytes after it (a signature or appended DTB) are not loaded`);
  const page = input.pageSize ?? 4096n;
  const len = BigInt(size) + ARM_ZIMAGE_STACK_MALLOC;
  let imageSize: bigint;
  const ks = zi.krnlSize;
  // "tag = find_extension_tag(buf, len, ZIMAGE_TAG_KRNL_SIZE);" 
  if (ks && zi.payload) {
    const edata = BigInt(zi.payload.uncompressedSize);
    const bss = BigInt(ks.bss_size);
    // "if (kernel_size < edata_size + len) kernel_size = edata_size + len;"
    imageSize = edata + bss < edata + len ? edata + len : edata + bss;
    notes.push(`decompressed kernel: text+data 0x${edata.toString(16)}, bss 0x${bss.toString(16)} (ZIMAGE_TAG_KRNL_SIZE); room above kernel_base 0x${imageSize.toString(16)} = max(text+data+bss, text+data + the zImage with its 4 KiB stack and 64 KiB malloc)`);
  } else {
    imageSize = len * 5n;
    notes.push(`no ZIMAGE_TAG_KRNL_SIZE: "assume the maximum kernel compression ratio is 4", room 0x${imageSize.toString(16)} (5 × the zImage with stack and malloc)`);
  }
  const fdt = parseFdt(input.dtb);
  const map = input.memory ?? memoryMapFromFdt(fdt);
  const opts = { pageSize: page, exclude: input.exclude ?? [] };
  // vmlinux.lds.S `.table`: "LONG(ZIMAGE_MAGIC(TEXT_OFFSET))" after the bss size. kexec-tools hard-codes
  // "extra_size = 0x8000; /* TEXT_OFFSET */", but arch/arm/Makefile gives some multiplatform kernels
  // "textofs-$(CONFIG_ARCH_MESON) := 0x00208000": the tag says where this kernel really goes.
  const textOffset = ks?.text_offset != null ? BigInt(ks.text_offset) : ARM_TEXT_OFFSET;
  if (textOffset % page !== 0n) refuse(`TEXT_OFFSET 0x${textOffset.toString(16)} is not page-aligned: the zImage could not start a segment`);
  if (textOffset !== ARM_TEXT_OFFSET) notes.push(`TEXT_OFFSET is 0x${textOffset.toString(16)} (the zImage's ZIMAGE_TAG_KRNL_SIZE), not kexec-tools' fixed 0x8000: the zImage goes at base + 0x${textOffset.toString(16)}, where the decompressor writes the kernel`);

  // "base = locate_hole(info, len + extra_size, 0, 0, ULONG_MAX, INT_MAX);" (INT_MAX > 0: the lowest hole)
  const hole = addBuffer(map, [], { name: "kernel", bytes: new Uint8Array(0), memsz: len + textOffset, bufAlign: page, bufMin: 0n, bufMax: ARM_ULONG_MAX, topDown: false }, opts);
  // "kernel_base = base + extra_size;"
  const kernelBase = hole.mem + textOffset;
  // "kernel_mem_size = len + 4;" ... "add_segment(info, buf, kernel_buf_size, kernel_base, kernel_mem_size);"
  const kernel: Segment = { name: "kernel", bytes: kernelBytes, mem: kernelBase, memsz: alignUpBig(BigInt(size) + 4n, page), align: page };
  const ram = regionsOfType(map, "ram");
  const holding = ram.find((r) => r.start <= kernelBase && kernelBase < r.start + r.size);
  // head.S (CONFIG_AUTO_ZRELADDR): "and r0, r0, #0xf8000000", then fdt_check_mem_start moves the guess to
  // the start of the DT memory range holding the zImage when the guess is not inside it; "add r4, r4, #TEXT_OFFSET"
  const guess = alignDown(kernelBase, ARM_ZRELADDR_ALIGN);
  const decompressedAt = (holding && holding.start > guess ? holding.start : guess) + textOffset;
  // "r4 - 16k page directory": the decompressor's page tables sit just below the kernel
  const written: Range = { start: decompressedAt - 0x4000n, size: imageSize + 0x4000n };
  const inRam = ram.some((r) => r.start <= written.start && written.start + written.size <= r.start + r.size);
  const hit = opts.exclude.find((x) => x.start < written.start + written.size && written.start < x.start + x.size);
  if (!inRam || hit) refuse(`the decompressor writes [0x${written.start.toString(16)}, 0x${(written.start + written.size).toString(16)}) (its page directory and the kernel at its RAM base + TEXT_OFFSET), which is ${hit ? "excluded" : "not all RAM"}`);
  notes.push(
    `kernel (zImage) at 0x${kernelBase.toString(16)}: the lowest page-aligned hole 0x${hole.mem.toString(16)} of 0x${(len + textOffset).toString(16)} bytes + TEXT_OFFSET; ` +
      `the decompressor writes the kernel to 0x${decompressedAt.toString(16)} (its RAM base + TEXT_OFFSET) and moves itself above the kernel when they overlap`,
  );
  const segments: Segment[] = [kernel];

  // "initrd_base = kernel_base + _ALIGN(kexec_arm_image_size, page_size);", from the higher of the zImage and
  // the decompressed kernel (they differ when the zImage is not at its RAM base + TEXT_OFFSET)
  const above = (kernelBase > decompressedAt ? kernelBase : decompressedAt) + alignUpBig(imageSize, page);
  let initrdBase = above;
  let initrdSize = 0n;
  let initrd: Segment | undefined;
  if (input.initrd) {
    initrd = addBuffer(map, segments, { name: "initrd", bytes: input.initrd, bufAlign: page, bufMin: initrdBase, bufMax: ARM_ULONG_MAX, topDown: false }, opts);
    segments.push(initrd);
    initrdBase = initrd.mem;
    initrdSize = BigInt(input.initrd.length);
    notes.push(`initrd at 0x${initrd.mem.toString(16)}: the lowest hole above kernel_base + the page-rounded room (0x${above.toString(16)})`);
  }
  const rng = input.seed === undefined ? undefined : createRng(input.seed);
  const dtb = buildKexecDtb(input.dtb, {
    ...(initrd ? { initrd: { mem: initrd.mem, size: initrdSize } } : {}),
    ...(input.cmdline !== undefined ? { cmdline: input.cmdline } : {}),
    ...(input.currentDtb ? { currentDtb: input.currentDtb } : {}),
    ...(rng ? { rng } : {}),
    pageSize: page,
  });
  notes.push(...dtb.notes);
  // "dtb_offset = initrd_base + initrd_size + page_size; dtb_offset = _ALIGN_DOWN(dtb_offset, page_size);"
  const dtbMin = alignDown(initrdBase + initrdSize + page, page);
  const dseg = addBuffer(map, segments, { name: "dtb", bytes: dtb.bytes, bufAlign: page, bufMin: dtbMin, bufMax: ARM_ULONG_MAX, topDown: false }, opts);
  segments.push(dseg);
  notes.push(`dtb at 0x${dseg.mem.toString(16)}: the lowest hole from 0x${dtbMin.toString(16)} (a buffer page above ${initrd ? "the initrd" : "the zImage's room"})`);

  const violations = checkSegments(segments, map, { pageSize: page });
  if (violations.length > 0) refuse(`internal: the plan breaks its invariants: ${violations.map((v) => v.message).join("; ")}`);
  return {
    arch: "arm",
    kind: "normal",
    segments,
    // relocate_kernel.S: "mov r0, #0", r1 = kexec_mach_type (~0: DT), r2 = kexec_boot_atags (the DTB segment)
    entry: { pc: kernelBase, registers: { r0: 0n, r1: 0xffffffffn, r2: dseg.mem } },
    cmdline: input.cmdline ?? "",
    bootParams: {
      dtb: { mem: dseg.mem, size: dseg.bytes.length },
      text_offset: textOffset,
      // kexec_arm_image_size: the room above kernel_base the zImage needs while it runs
      image_size: imageSize,
      decompressedAt,
      ram,
    },
    notes,
  };
}
