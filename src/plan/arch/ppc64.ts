/**
 * The ppc64 (ppc64el) plan: what arch/powerpc/kexec/elf_64.c `elf64_load`
 * decides for an ELF vmlinux, as a pure function, plus the device tree and
 * the entry state the ppc64 purgatory hands over.
 *
 * - kernel: kernel/kexec_elf.c `kexec_elf_load`, one segment per PT_LOAD at
 *   its physical address (`kbuf->buf_min = phdr->p_paddr;`, see
 *   {@link planElf} with `arch: "ppc64"`), below `ppc64_rma_size` ("struct
 *   kexec_buf kbuf = { .image = image, .buf_min = 0, .buf_max =
 *   ppc64_rma_size };");
 * - initrd: "kbuf.buf_align = PAGE_SIZE; kbuf.top_down = false;", from the
 *   last PT_LOAD's p_paddr up, below the RMA;
 * - device tree: the first kernel's, with /chosen `bootargs` and
 *   `linux,initrd-start`/`-end` and a /memreserve/ for the initrd
 *   (drivers/of/kexec.c: "ret = fdt_add_mem_rsv(fdt, initrd_load_addr,
 *   initrd_len);"), and a /memreserve/ for the tree itself as kexec-tools'
 *   ppc64 loader patches it ("patch reserve map address for flattened
 *   device-tree": `*rsvmap_ptr = cpu_to_be64(my_dt_offset); ...
 *   be32_to_cpu(bb_ptr->totalsize)`); placed "kbuf.buf_align = PAGE_SIZE;
 *   kbuf.top_down = true;" below the RMA, `fdt_size =
 *   fdt_totalsize(initial_boot_params) * 2` bytes reserved;
 * - entry: the kernel's first byte (e_entry through its PT_LOAD) with
 *   "r3 = device-tree address, r4 = kernel base, r5 = 0": kexec-tools'
 *   purgatory/arch/ppc64/v2wrap.S "Invokes ppc64 kernel with the expected
 *   arguments of kernel(device-tree, phys-offset, 0)"; r5 = 0 tells
 *   head_64.S there is no Open Firmware client interface;
 * - for `kexec_load(2)` ({@link Ppc64PlanInput.loadAbove}): every segment
 *   at or above the running kernel's `__pa(_end)`, the kernel image moved
 *   up (it copies itself down to 0 at start), the initrd and the tree above
 *   its linked extent too. kimage's purgatory (`withPurgatory`) then enters
 *   it as kexec-tools' does.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { parseFdt, serializeFdt } from "../../fdt/index.js";
import { editChosen, type DtbPlanInputBase } from "../protocol/chosen.js";
import { addBuffer, PLAN_LAYER } from "../core/allocator.js";
import { alignUpBig, checkSegments, regionsOfType, type Range, type Segment } from "../core/memory.js";
import { memoryMapFromFdt } from "../core/memory-parse.js";
import { createRng, type Seed } from "../core/random.js";
import type { PlanOf } from "../core/types.js";
import { ELF_KERNEL, planElf } from "./elf.js";

/** The layer a ppc64 plan boots: the ELF vmlinux (Debian ships it as is). */
export const PPC64_KERNEL = ELF_KERNEL;

/**
 * The RMA limit when the caller gives none: the first memory block, at most
 * 1 GiB (arch/powerpc/mm/book3s64/hash_utils.c
 * `hash__setup_initial_memory_limit`: "ppc64_rma_size = min_t(u64,
 * first_memblock_size, 0x40000000);").
 */
export const PPC64_RMA_CAP = 0x40000000n;

/**
 * Inputs of a ppc64 plan. `kernel`: the kernel: the ELF vmlinux (or a wrapper whose innermost layer is one).
 */
export interface Ppc64PlanInput extends DtbPlanInputBase {
  /** Seed for /chosen `kaslr-seed` and `rng-seed`. Without it: none. */
  seed?: Seed;
  /** PAGE_SIZE: default 64 KiB (Debian's ppc64el kernels: CONFIG_PPC_64K_PAGES). */
  pageSize?: bigint;
  /** `ppc64_rma_size`; default the first RAM region's end, at most 1 GiB ({@link PPC64_RMA_CAP}). */
  rmaSize?: bigint;
  /**
   * For `kexec_load(2)`: the running kernel's `__pa(_end)` (its
   * /proc/device-tree/chosen/linux,kernel-end, which kexec-tools' ppc64
   * loader reads for the same purpose). arch/powerpc/kexec/core_64.c
   * `machine_kexec_prepare`: "if (image->segment[i].mem < __pa(_end))
   * return -ETXTBSY;". With it, the kernel image is loaded in the lowest
   * hole at or above it, not at p_paddr 0, and relies on head_64.S copying
   * it down to 0 at start (`__after_prom_start`, "copy to 0 unless
   * __run_at_load"); the initrd and the device tree go above both this
   * address and the kernel's linked extent. Absent: the kernel at p_paddr
   * (today's plan, what QEMU or a firmware loader boots).
   */
  loadAbove?: bigint;
}

/** What a ppc64 plan reports in `bootParams`. */
export interface Ppc64BootParams {
  /** Where the edited device tree was placed, and its packed size. */
  dtb: { mem: bigint; size: number };
  /** r4: the kernel's base (its lowest PT_LOAD). */
  kernelBase: bigint;
  /** The ELF header's `e_entry`. */
  e_entry: bigint;
  /** The `buf_max` of every buffer. */
  rmaSize: bigint;
  /** The `ram` regions of the memory map. */
  ram: Range[];
  /** With {@link Ppc64PlanInput.loadAbove}: the lowest address a segment may use (it, or the kernel's linked extent when higher). */
  loadAbove?: bigint;
}

/** A ppc64 plan. */
export type Ppc64Plan = PlanOf<"ppc64", Ppc64BootParams>;

/** PAGE_SIZE of Debian's ppc64el kernels (CONFIG_PPC_64K_PAGES=y). */
export const PPC64_PAGE_SIZE = 0x10000n;

/**
 * Plans a ppc64 kexec load: the vmlinux at its physical addresses, the
 * initrd, the edited device tree; entry r3 = DT, r4 = kernel base, r5 = 0.
 *
 * @throws KimageError the ELF plan's errors (`plan-elf-*`), `plan-no-hole`
 *   when the kernel, the initrd or the device tree does not fit below the RMA, or the
 *   device tree's parse errors.
 */
export async function planPpc64(input: Ppc64PlanInput): Promise<Ppc64Plan> {
  const page = input.pageSize ?? PPC64_PAGE_SIZE;
  const fdt = parseFdt(input.dtb);
  const map = input.memory ?? memoryMapFromFdt(fdt);
  const ram = regionsOfType(map, "ram");
  const first = ram[0];
  if (!first) throw new KimageError("plan-refused", "the memory map has no RAM", { layer: PLAN_LAYER, offset: -1 });
  const firstEnd = first.start + first.size;
  const rma = input.rmaSize ?? (firstEnd < PPC64_RMA_CAP ? firstEnd : PPC64_RMA_CAP);
  const elf = await planElf({
    kernel: input.kernel,
    ...(input.initrd ? { initrd: input.initrd } : {}),
    ...(input.cmdline !== undefined ? { cmdline: input.cmdline } : {}),
    memory: map,
    ...(input.exclude ? { exclude: input.exclude } : {}),
    arch: "ppc64",
    pageSize: page,
    rmaSize: rma,
    ...(input.loadAbove !== undefined ? { loadAbove: input.loadAbove } : {}),
  });
  // The kernel's kbuf has ".buf_max = ppc64_rma_size" too: its PT_LOADs must end below the RMA (planElf already
  // refuses an initrd that finds no room there, with the same code).
  const kernelTop = elf.bootParams.kernelEnd;
  if (kernelTop > rma) {
    throw new KimageError("plan-no-hole", `kexec_locate_mem_hole (-EADDRNOTAVAIL): the kernel ends at ${hex(kernelTop)}, above ppc64_rma_size ${hex(rma)} (elf64_load's buf_max)`, { layer: PLAN_LAYER, offset: -1 });
  }
  const notes = [...elf.notes.filter((n) => !n.startsWith("no DTB or purgatory"))];
  notes.push(`buffers stay below ppc64_rma_size ${hex(rma)}${input.rmaSize === undefined ? " (the first memory block, at most 1 GiB)" : ""}`);
  const segments: Segment[] = [...elf.segments];
  const kernelBase = elf.bootParams.lowestLoadAddr;
  const initrd = segments.find((s) => s.name === "initrd");

  const rng = input.seed === undefined ? undefined : createRng(input.seed);
  notes.push(
    ...editChosen(fdt, {
      ...(initrd ? { initrd: { mem: initrd.mem, size: BigInt(initrd.bytes.length) } } : {}),
      ...(input.cmdline !== undefined ? { cmdline: input.cmdline } : {}),
      ...(input.currentDtb ? { currentDtb: input.currentDtb } : {}),
      ...(rng ? { rng } : {}),
      pageSize: page,
    }),
  );
  // kexec-tools: the tree's own reservation, patched once the tree is placed (same size either way).
  const self = { address: 0n, size: 0n };
  fdt.reservations.push(self);
  const sized = serializeFdt(fdt, { layout: "compact", compactStrings: true });
  // "fdt_size = fdt_totalsize(initial_boot_params) * 2;" ... "kbuf.bufsz = kbuf.memsz = fdt_size;"
  const fdtSize = BigInt(input.dtb.length) * 2n > BigInt(sized.length) ? BigInt(input.dtb.length) * 2n : BigInt(sized.length);
  // With loadAbove, nothing below the running kernel's end nor below the new kernel's linked extent (it copies itself there).
  const linkedEnd = elf.bootParams.linkedEnd ?? 0n;
  const floor = input.loadAbove === undefined ? undefined : input.loadAbove > linkedEnd ? input.loadAbove : linkedEnd;
  const placed = addBuffer(map, segments, { name: "dtb", bytes: sized, memsz: fdtSize, bufAlign: page, bufMin: floor ?? 0n, bufMax: rma - 1n, topDown: true }, { pageSize: page, ...(input.exclude ? { exclude: input.exclude } : {}) });
  self.address = placed.mem;
  self.size = BigInt(sized.length);
  const bytes = serializeFdt(fdt, { layout: "compact", compactStrings: true });
  if (bytes.length !== sized.length) throw new KimageError("plan-refused", "internal: the device tree changed size when its own reservation was filled in", { layer: PLAN_LAYER, offset: -1 });
  const dtb: Segment = { ...placed, bytes, memsz: alignUpBig(fdtSize, page) };
  segments.push(dtb);
  notes.push(`dtb at ${hex(dtb.mem)}: page-aligned, top-down below the RMA, ${hex(fdtSize)} bytes reserved (twice the first kernel's tree); /memreserve/ ${hex(dtb.mem)}+${hex(self.size)} for the tree itself`);
  notes.push(`entry ${hex(elf.entry.pc)} with r3 = the device tree, r4 = the kernel base ${hex(kernelBase)}, r5 = 0 (no Open Firmware client interface)`);

  const violations = checkSegments(segments, map, { pageSize: page });
  if (violations.length > 0) {
    throw new KimageError("plan-refused", `internal: the plan breaks its invariants: ${violations.map((v) => v.message).join("; ")}`, { layer: PLAN_LAYER, offset: -1 });
  }
  return {
    arch: "ppc64",
    kind: "normal",
    segments,
    entry: { pc: elf.entry.pc, registers: { r3: dtb.mem, r4: kernelBase, r5: 0n } },
    cmdline: input.cmdline ?? "",
    bootParams: { dtb: { mem: dtb.mem, size: bytes.length }, kernelBase, e_entry: elf.bootParams.e_entry, rmaSize: rma, ram, ...(floor !== undefined ? { loadAbove: floor } : {}) },
    notes,
  };
}
