/**
 * The LoongArch (loong64) plan: what the kernel's LoongArch kexec_file
 * loader decides (arch/loongarch/kernel/kexec_efi.c `efi_kexec_load`,
 * machine_kexec_file.c `load_other_segments`, machine_kexec.c
 * `machine_kexec_prepare`; the series "LoongArch: Add kexec_file support",
 * posted in August 2025), as a pure function.
 *
 * - kernel: the LoongArch EFI image (a zboot file is unwrapped to it):
 *   "kbuf.memsz = le64_to_cpu(h->kernel_asize); text_offset =
 *   le64_to_cpu(h->text_offset); kbuf.buf_min = text_offset; kbuf.buf_align =
 *   SZ_2M;", bottom-up ("kbuf.top_down = false"); when the other segments do
 *   not fit, "erase the kernel segment and try the next available hole":
 *   `kbuf.buf_min = kernel_segment->mem + kernel_segment->memsz`;
 * - initrd: "Don't allocate anything below the kernel" (`buf_min = kernel
 *   end`), "within 1GB-aligned window of up to 32GB in size", bottom-up,
 *   `buf_align = 0`;
 * - command line: not a segment of kexec_file: "kexec_file " (cmdline_add_loader),
 *   then "initrd=0x%lx,0x%lx " (cmdline_add_initrd), then the caller's line;
 *   machine_kexec_prepare copies it to `KEXEC_CMDLINE_ADDR
 *   TO_CACHE(0x108000UL)` ("0x100000 ~ 0x200000 is safe"). The plan states
 *   it as a segment at that physical address (COMMAND_LINE_SIZE bytes,
 *   NUL-padded), which is also what the kexec_load(2) path reads: "Find the
 *   command line", the segment whose buf starts with "kexec", copied to the
 *   same address. Debian's loong64 kernels have no kexec_file (the sid
 *   kernel carries no machine_kexec_file.c), so kexec_load with these
 *   segments is their path;
 * - entry: "image->start = kernel_segment->mem + h->kernel_entry -
 *   text_offset;" and relocate_kernel.S hands over a0 = `efi_boot`, a1 =
 *   `cmdline_ptr`, a2 = `systable_ptr`, where machine_kexec_prepare took
 *   "kimage->arch.efi_boot = fw_arg0; kimage->arch.systable_ptr = fw_arg2;":
 *   the first kernel's own boot arguments. The second kernel reads the
 *   firmware's EFI system table (its configuration tables: the memory map,
 *   the device tree or ACPI) but calls no runtime service before
 *   `efi_enter_virtual_mode`, which a kexec'd kernel skips when the first one
 *   already set the virtual map.
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import { parseLoongarchHeader, type LoongarchHeader } from "../../formats/loongarch/image.js";
import { addBuffer, PLAN_LAYER, ULONG_MAX } from "../core/allocator.js";
import { checkSegments, regionsOfType, type MemoryMap, type Range, type Segment } from "../core/memory.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

const SZ_2M = 0x200000n;
const SZ_1G = 0x40000000n;
/** `#define KEXEC_CMDLINE_ADDR TO_CACHE(0x108000UL)`: the physical address. */
export const LOONGARCH_KEXEC_CMDLINE_PHYS = 0x108000n;
/** TO_CACHE(x) = CACHE_BASE | x, CACHE_BASE = CSR_DMW1_BASE = 0x9000000000000000 (the cached direct-map window). */
export const LOONGARCH_CACHE_BASE = 0x9000000000000000n;
/** COMMAND_LINE_SIZE (arch/loongarch/include/uapi/asm/setup.h). */
export const LOONGARCH_COMMAND_LINE_SIZE = 4096;
/** The most kernel positions the plan tries (the kernel's loop walks every hole; a plan stops here). */
export const LOONGARCH_MAX_KERNEL_TRIES = 64;

/** The layer a LoongArch plan boots, and its header (efi_kexec_load's `h`). */
export const LOONGARCH_KERNEL: KernelLayer<LoongarchHeader> = { format: "loongarch-image", header: (bytes) => parseLoongarchHeader(bytes) };

/** Inputs of a LoongArch plan. */
export interface LoongarchPlanInput {
  /** The kernel in any wrapped form (EFI zboot, compressed): unwrapped to the LoongArch image. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** The memory map (the first kernel's memblock / /proc/iomem "System RAM"). */
  memory: MemoryMap;
  /** Ranges no segment may touch. */
  exclude?: Range[];
  /** The first kernel's fw_arg0 (EFI boot flag); default 1: LoongArch machines boot through UEFI. */
  efiBoot?: bigint;
  /** The first kernel's fw_arg2 (the EFI system table's physical address); default 0 (unknown: the loader fills a2). */
  systemTable?: bigint;
  /** PAGE_SIZE; default 16 KiB (Debian's loong64 kernels: CONFIG_PAGE_SIZE_16KB). */
  pageSize?: bigint;
}

/** What a LoongArch plan reports in `bootParams`. */
export interface LoongarchBootParams {
  /** The command line the second kernel reads at a1 (with the loader's additions). */
  fullCmdline: string;
  /** Where it is copied (KEXEC_CMDLINE_ADDR, physical). */
  cmdlineAddr: bigint;
  kernel_entry: bigint;
  kernel_asize: bigint;
  text_offset: bigint;
  /** The `ram` regions of the memory map the plan was made for. */
  ram: Range[];
}

/** A LoongArch plan. */
export type LoongarchPlan = PlanOf<"loongarch64", LoongarchBootParams>;

function refuse(message: string): never {
  throw new KimageError("plan-refused", message, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * Plans a LoongArch kexec load: segments kernel, initrd, cmdline; entry
 * a0 = EFI boot flag, a1 = the command line (cached window address), a2 =
 * the EFI system table.
 *
 * @throws KimageError `plan-refused` when efi_kexec_load would refuse the
 *   image (kernel_asize 0, an entry outside it) or the command line is
 *   longer than COMMAND_LINE_SIZE, `plan-no-hole` when no kernel position
 *   leaves room for the initrd, or the parse errors of the kernel's layers.
 */
export async function planLoongarch(input: LoongarchPlanInput): Promise<LoongarchPlan> {
  const notes: string[] = [];
  const image = await unwrapKernel(input.kernel, LOONGARCH_KERNEL);
  const h = image.header;
  notes.push(`kernel: ${image.chain.join(" → ")}; the LoongArch image is ${image.bytes.length} bytes`);
  // efi_kexec_load: "if (!h->kernel_asize) return ERR_PTR(-EINVAL);"
  if (h.kernel_asize === 0n) refuse("efi_kexec_load refuses this image: kernel_asize is 0 (-EINVAL)");
  const entryOffset = h.kernel_entry - h.text_offset;
  if (entryOffset < 0n || entryOffset >= h.kernel_asize) refuse(`kernel_entry - text_offset (0x${h.kernel_entry.toString(16)} - 0x${h.text_offset.toString(16)}) is not inside the image: a pre-v6.1 header with a virtual entry`);
  if (BigInt(image.bytes.length) > h.kernel_asize) refuse(`the image (0x${image.bytes.length.toString(16)} bytes) is longer than kernel_asize 0x${h.kernel_asize.toString(16)}: kexec_add_buffer refuses bufsz > memsz`);
  const page = input.pageSize ?? 0x4000n;
  const map = input.memory;
  const opts = { pageSize: page, exclude: input.exclude ?? [] };

  let bufMin = h.text_offset;
  for (let tries = 1; tries <= LOONGARCH_MAX_KERNEL_TRIES; tries++) {
    const kernel = addBuffer(map, [], { name: "kernel", bytes: image.bytes, memsz: h.kernel_asize, bufAlign: SZ_2M, bufMin, bufMax: ULONG_MAX, topDown: false }, opts);
    const placed = placeOthers(map, kernel, input, opts);
    if (placed === undefined) {
      // "We couldn't find space for the other segments; erase the kernel segment and try the next available hole."
      bufMin = kernel.mem + kernel.memsz;
      continue;
    }
    if (tries > 1) notes.push(`kernel position tried ${tries} times: lower holes left no room for the initrd above the kernel`);
    notes.push(`kernel at 0x${kernel.mem.toString(16)}: 2 MiB-aligned, bottom-up from text_offset 0x${h.text_offset.toString(16)}, memsz kernel_asize 0x${h.kernel_asize.toString(16)}`);
    const segments: Segment[] = [kernel];
    if (placed.initrd) {
      segments.push(placed.initrd);
      notes.push(`initrd at 0x${placed.initrd.mem.toString(16)}: above the kernel, inside the 32 GiB window above its 1 GiB-rounded base; its place is passed as "initrd=0x${placed.initrd.mem.toString(16)},0x${placed.initrd.bytes.length.toString(16)}" on the command line`);
    }
    const full = placed.cmdline;
    // "if (cmdline_len + cmdline_tmplen > COMMAND_LINE_SIZE) { "Appending command line exceeds COMMAND_LINE_SIZE" }"
    if (full.length + 1 > LOONGARCH_COMMAND_LINE_SIZE) refuse(`Appending command line exceeds COMMAND_LINE_SIZE: ${full.length + 1} bytes, at most ${LOONGARCH_COMMAND_LINE_SIZE}`);
    const text = new TextEncoder().encode(full);
    if (text.length !== full.length) refuse("the command line is not ASCII: its byte length differs from its characters");
    // kexec_load(2) path of machine_kexec_prepare: the segment whose buf starts with "kexec" is the command
    // line, and "copy_from_user(cmdline_ptr, kimage->segment[i].buf, COMMAND_LINE_SIZE)" reads a whole
    // COMMAND_LINE_SIZE: the segment carries that many bytes, NUL-padded.
    const bytes = new Uint8Array(LOONGARCH_COMMAND_LINE_SIZE);
    bytes.set(text);
    const cmd: Segment = { name: "cmdline", bytes, mem: LOONGARCH_KEXEC_CMDLINE_PHYS, memsz: page, align: page };
    segments.push(cmd);
    notes.push(`cmdline "${full}" at 0x${LOONGARCH_KEXEC_CMDLINE_PHYS.toString(16)} (KEXEC_CMDLINE_ADDR, inside the first 2 MiB the kernel keeps reserved), a1 = its cached-window address`);
    const violations = checkSegments(segments, map, { pageSize: page });
    if (violations.length > 0) refuse(`the plan breaks its invariants: ${violations.map((v) => v.message).join("; ")}`);
    const efiBoot = input.efiBoot ?? 1n;
    const systab = input.systemTable ?? 0n;
    notes.push(`a0 = ${efiBoot} (fw_arg0, EFI boot), a2 = 0x${systab.toString(16)} (fw_arg2, the firmware's EFI system table${input.systemTable === undefined ? ": not given; the loader passes the first kernel's" : ""})`);
    return {
      arch: "loongarch64",
      kind: "normal",
      segments,
      entry: { pc: kernel.mem + entryOffset, registers: { a0: efiBoot, a1: LOONGARCH_CACHE_BASE | LOONGARCH_KEXEC_CMDLINE_PHYS, a2: systab } },
      cmdline: input.cmdline ?? "",
      bootParams: { fullCmdline: full, cmdlineAddr: LOONGARCH_KEXEC_CMDLINE_PHYS, kernel_entry: h.kernel_entry, kernel_asize: h.kernel_asize, text_offset: h.text_offset, ram: regionsOfType(map, "ram") },
      notes,
    };
  }
  throw new KimageError("plan-no-hole", `Could not find any suitable kernel location! (${LOONGARCH_MAX_KERNEL_TRIES} positions tried)`, { layer: PLAN_LAYER, offset: -1 });
}

/** load_other_segments: the initrd and the command line, or undefined when the initrd does not fit. */
function placeOthers(map: MemoryMap, kernel: Segment, input: LoongarchPlanInput, opts: { pageSize: bigint; exclude: Range[] }): { initrd?: Segment; cmdline: string } | undefined {
  // cmdline_add_loader: sprintf(..., "kexec_file ")
  let line = "kexec_file ";
  let initrd: Segment | undefined;
  if (input.initrd) {
    // "kbuf.buf_max = round_down(kernel_load_addr, SZ_1G) + (unsigned long)SZ_1G * 32;"
    const bufMax = (kernel.mem / SZ_1G) * SZ_1G + SZ_1G * 32n;
    try {
      initrd = addBuffer(map, [kernel], { name: "initrd", bytes: input.initrd, bufAlign: 0n, bufMin: kernel.mem + kernel.memsz, bufMax, topDown: false }, opts);
    } catch (e) {
      if (e instanceof KimageError && e.code === "plan-no-hole") return undefined;
      throw e;
    }
    // cmdline_add_initrd: sprintf(..., "initrd=0x%lx,0x%lx ", initrd, image->initrd_buf_len)
    line += `initrd=0x${initrd.mem.toString(16)},0x${input.initrd.length.toString(16)} `;
  }
  return { ...(initrd ? { initrd } : {}), cmdline: line + (input.cmdline ?? "") };
}
