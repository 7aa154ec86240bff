/**
 * The riscv64 plan: what arch/riscv/kernel/kexec_image.c `image_load` and
 * machine_kexec_file.c `load_extra_segments` decide, as a pure function.
 *
 * - kernel: `kbuf.memsz = le64_to_cpu(h->image_size); kbuf.buf_align =
 *   le64_to_cpu(h->text_offset);` bottom-up from 0 (`kbuf.buf_min = 0;
 *   kbuf.buf_max = ULONG_MAX; kbuf.top_down = false;`), and `image->start =
 *   kbuf.mem`: unlike arm64 the base is **not** shifted by text_offset —
 *   for RISC-V, text_offset is the alignment the Image needs (0x200000 =
 *   PMD_SIZE on RV64: "Current riscv boot protocol requires 2MB alignment
 *   for RV64 and 4MB alignment for RV32", kexec_elf.c);
 * - everything else sits above the kernel: `kbuf.buf_min = kernel_start +
 *   kernel_len; kbuf.buf_max = ULONG_MAX;`;
 * - initrd: `kbuf.buf_align = PAGE_SIZE; kbuf.top_down = true;`;
 * - dtb: the first kernel's tree with /chosen edited
 *   (`of_kexec_alloc_and_setup_fdt`), `fdt_pack`ed, `kbuf.buf_align =
 *   PAGE_SIZE; ... kbuf.top_down = true;`;
 * - entry (kexec_relocate.S): "mv a0, s3" (the hart id), "mv a1, s2" (the
 *   FDT's physical address), "jr a2" (the kernel's first byte).
 *
 * A crash (kdump) plan (`crash` given) is the same code with `image->type ==
 * KEXEC_TYPE_CRASH` (machine_kexec_file.c `load_extra_segments`, "Add
 * elfcorehdr"):
 *
 * - every buffer is searched only inside `crashk_res` (kexec_walk_resources:
 *   "return walk_iomem_res_desc(crashk_res.desc, ..., crashk_res.start,
 *   crashk_res.end, kbuf, func);" — never `crashk_low_res`);
 * - right after the kernel, before the purgatory and the initrd, the ELF core
 *   header from `prepare_elf_headers` (System RAM minus `crashk_res` only:
 *   "ret = crash_exclude_mem_range(cmem, crashk_res.start, crashk_res.end);")
 *   is added with "kbuf.buf_align = ELF_CORE_HEADER_ALIGN; kbuf.top_down =
 *   true;" (4 KiB, `buf_min` = the kernel's end, `buf_max` = ULONG_MAX);
 * - `setup_kdump_cmdline` **prepends** "elfcorehdr=0x%lx " to the command
 *   line, and that modified line is what goes into /chosen `bootargs`;
 * - of_kexec_alloc_and_setup_fdt adds /chosen `linux,elfcorehdr` (and a
 *   /memreserve/ for it) and `linux,usable-memory-range` = crashk_res, then
 *   crashk_low_res "if (crashk_low_res.end)".
 *
 * The kernel also loads its purgatory (top-down, above the kernel) before
 * the initrd when `CONFIG_ARCH_SUPPORTS_KEXEC_PURGATORY` is set; a plan has
 * no purgatory — whoever carries the plan out jumps to the entry itself —
 * so the initrd and the DTB take the top-most holes the purgatory would
 * otherwise have taken first.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { parseFdt } from "../../fdt/index.js";
import { parseRiscvHeader, riscvLoadability, type RiscvHeader } from "../../formats/riscv/image.js";
import { addBuffer, PLAN_LAYER, ULONG_MAX } from "../core/allocator.js";
import { buildKexecDtb, type DtbBootParams, type DtbPlanInputBase } from "../protocol/chosen.js";
import { riscvKdumpCmdline } from "../core/crash.js";
import { ELF_CORE_HEADER_ALIGN } from "../protocol/elfcore.js";
import { prepareCrash, type CrashInput, type PreparedCrash } from "../protocol/kdump.js";
import { checkSegments, isPowerOfTwo, memoryMap, regionsOfType, type MemoryMap, type Range, type Segment } from "../core/memory.js";
import { memoryMapFromFdt } from "../core/memory-parse.js";
import { MAX_PLACEMENT_TRIES, placeWithRetries, type PlacementOptions } from "../core/placement.js";
import { createRng, type Seed } from "../core/random.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

/** PMD_SIZE on RV64 (Sv39/Sv48/Sv57 with 4 KiB pages): 2 MiB, the alignment the boot protocol requires. */
export const RISCV_PMD_SIZE = 0x200000n;

/** How many randomized draws a seeded riscv plan makes before giving up: {@link MAX_PLACEMENT_TRIES}, shared by every arch. */
export const RISCV_MAX_PLACEMENT_TRIES = MAX_PLACEMENT_TRIES;

/** The layer a riscv64 plan boots, and where it reads the Image header (image_load's `h`). */
export const RISCV_KERNEL: KernelLayer<RiscvHeader> = { format: "riscv-image", header: parseRiscvHeader };

/** What makes a riscv64 plan a crash (kdump) plan: the shared {@link CrashInput}, as for arm64. */
export type RiscvCrashInput = CrashInput;

/**
 * Inputs of a riscv64 plan (the same shape as the arm64 plan's). `kernel`: the kernel in any wrapped form (PE stub, compressed): unwrapped to the RISC-V Image first.
 */
export interface RiscvPlanInput extends DtbPlanInputBase {
  /** Seed for randomized placement and for kaslr-seed / rng-seed. Without it: the kernel's deterministic placement, no seeds. */
  seed?: Seed;
  /** The hart that enters the kernel (a0). Default 0. */
  hartId?: bigint;
  /** PAGE_SIZE. Default 4096. */
  pageSize?: bigint;
  /**
   * Plan an Image the kernel's rules would place where it cannot boot
   * (text_offset below 2 MiB), or whose header image_load refuses, anyway.
   */
  force?: boolean;
  /** Plan a crash (kdump) kernel instead of a normal one (`kind: "crash"`). */
  crash?: RiscvCrashInput;
}

/** What a riscv64 plan reports in `bootParams`: the device-tree plan's, plus the entering hart. */
export interface RiscvBootParams extends DtbBootParams {
  /** The hart id in a0. */
  hartId: bigint;
}

/** A riscv64 plan. */
export type RiscvPlan = PlanOf<"riscv64", RiscvBootParams>;

/** The crash part of a placement: the header bytes and the usable ranges. */
type CrashPlacement = Pick<PreparedCrash, "headers" | "usable">;

function refuse(message: string): never {
  throw new KimageError("plan-refused", message, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * Plans a riscv64 kexec_file load of a RISC-V Image (the kernel's
 * `image_kexec_ops`), with a seeded retry loop like the arm64 plan's:
 * `kind: "normal"` with segments kernel, initrd, dtb; or with `input.crash`
 * a kdump load (`kind: "crash"`): kernel, elfcorehdr, initrd, dtb, all inside
 * `crashk_res`, and `cmdline` = "elfcorehdr=0x<addr> " + the caller's.
 *
 * @throws KimageError `plan-refused` with the kernel's reason when
 *   image_load would refuse the image (or the layout could not boot),
 *   `plan-no-hole` when a segment does not fit, or the parse errors of the
 *   kernel's layers and of the device tree.
 */
export async function planRiscv(input: RiscvPlanInput): Promise<RiscvPlan> {
  const notes: string[] = [];
  const image = await unwrapKernel(input.kernel, RISCV_KERNEL);
  notes.push(`kernel: ${image.chain.join(" → ")}; the RISC-V Image is ${image.bytes.length} bytes`);
  const h = image.header;
  const ok = riscvLoadability(h);
  if (!ok.loadable) {
    if (!input.force) refuse(`image_load refuses this Image: ${ok.reasons.join("; ")}`);
    notes.push(`the caller says the target supports it: ${ok.reasons.join("; ")}`);
  }
  const page = input.pageSize ?? 4096n;
  // "kbuf.buf_align = le64_to_cpu(h->text_offset);" then kexec_add_buffer: "kbuf->buf_align = max(kbuf->buf_align, PAGE_SIZE);"
  // ALIGN()/ALIGN_DOWN() assume a power of two: any other value would make the kernel's search meaningless.
  if (h.text_offset !== 0n && !isPowerOfTwo(h.text_offset)) refuse(`text_offset ${hex(h.text_offset)} is the load alignment of image_load and must be a power of two`);
  if (h.text_offset < RISCV_PMD_SIZE) {
    const why = `text_offset ${hex(h.text_offset)} is below PMD_SIZE (2 MiB): image_load would align the kernel to only ${hex(h.text_offset > page ? h.text_offset : page)}, and "riscv boot protocol requires 2MB alignment for RV64"`;
    if (!input.force) refuse(why);
    notes.push(`forced: ${why}`);
  }
  // "kbuf.bufsz = kernel_len; ... kbuf.memsz = le64_to_cpu(h->image_size);": sanity_check_segment_list
  // then refuses "bufsz > memsz" (-EINVAL).
  if (BigInt(image.bytes.length) > h.image_size) {
    refuse(`the Image file (${hex(image.bytes.length)} bytes) is longer than image_size ${hex(h.image_size)}: kexec_file_load fails with -EINVAL (bufsz > memsz)`);
  }

  const fdt = parseFdt(input.dtb);
  let map = input.memory ?? memoryMapFromFdt(fdt);
  let crash: CrashPlacement | undefined;
  if (input.crash) {
    const c = input.crash;
    // prepare_elf_headers: "walk_system_ram_res(0, -1, cmem, prepare_elf64_ram_headers_callback);" then
    // "/* Exclude crashkernel region */ ret = crash_exclude_mem_range(cmem, crashk_res.start, crashk_res.end);"
    // — crashk_low_res is NOT excluded (unlike arm64 and x86_64): the vmcore lists it as first-kernel RAM.
    // "ret = crash_prepare_elf64_headers(cmem, true, addr, sz);": need_kernel_map = true
    const prepared = prepareCrash(map, c, {
      arch: "riscv64",
      ramFrom: "resolved",
      // "Make sure we align the start of the memory on a PMD boundary": phys_ram_base = memblock_start_of_DRAM() & PMD_MASK
      defaultPhysOffset: (firstRam) => {
        const lowest = firstRam.reduce<bigint | undefined>((m, r) => (m === undefined || r.start < m ? r.start : m), undefined);
        return lowest === undefined ? 0n : lowest & ~(RISCV_PMD_SIZE - 1n);
      },
    });
    const { headers, ram, usable } = prepared;
    const crashk = usable[0]!;
    const low = usable[1];
    const physOffset = prepared.physOffset ?? 0n;
    // kexec_walk_resources walks crashk_res alone: the placement map types only crashk_res `crash`
    // (crashk_low_res, if the map marked it, becomes plain first-kernel RAM the crash image cannot use).
    map = memoryMap([...prepared.map.regions.map((r) => (r.type === "crash" ? { ...r, type: "ram" as const } : r)), { ...crashk, type: "crash" as const }]);
    crash = { headers, usable };
    const fmt = (r: Range) => `[0x${r.start.toString(16)}, 0x${(r.start + r.size).toString(16)})`;
    notes.push(
      `crash kernel: every segment inside crashk_res ${fmt(crashk)} (kexec_walk_resources walks crashk_res only)${low ? `; crashk_low_res ${fmt(low)} is only passed on in linux,usable-memory-range` : ""}; ` +
        (c.elfcorehdr
          ? `the ELF core header is the caller's (${headers.length} bytes)`
          : `the ELF core header (${headers.length} bytes) describes ${c.cpuNotes.length} CPU note(s), vmcoreinfo${c.kernelText ? ", the kernel text" : ""} and ${ram.length} System RAM range(s) minus crashk_res${low ? " (riscv's prepare_elf_headers does not exclude crashk_low_res)" : ""}, p_vaddr = paddr - 0x${physOffset.toString(16)} + PAGE_OFFSET`),
    );
  }
  const rng = input.seed === undefined ? undefined : createRng(input.seed);
  const opts: PlacementOptions = { pageSize: page, exclude: input.exclude ?? [], ...(rng ? { random: rng } : {}), ...(crash ? { crash: true } : {}) };
  if (rng) notes.push("seed given: every segment position is drawn from the valid aligned positions");

  // With a seed the kernel may be drawn so high that the initrd and the DTB (both above it:
  // "kbuf.buf_min = kernel_start + kernel_len") no longer fit: draw again (placeWithRetries).
  const { value: placed, attempts } = placeWithRetries(rng, () => placeRiscv({ map, image: image.bytes, header: h, input, opts, ...(crash ? { crash } : {}) }));
  if (attempts > 1) notes.push(`placement drawn ${attempts} times: earlier draws left no room above the kernel for the initrd and the DTB`);
  notes.push(...placed.notes);
  const { segments, kernel, dtb } = placed;
  // sanity_check_segment_list for a crash image: "if (mstart < crashk_res.start || mend > crashk_res.end) return -EADDRNOTAVAIL;"
  const violations = checkSegments(segments, map, { pageSize: page, crash: crash !== undefined });
  // sanity_check_segment_list also refuses what no placement can fix: "Verify that no more than half of memory
  // will be consumed" (-EINVAL).
  if (violations.length > 0) refuse(`kexec would refuse these segments (sanity_check_segment_list): ${violations.map((v) => v.message).join("; ")}`);
  const hartId = input.hartId ?? 0n;
  const elf = segments.find((sg) => sg.name === "elfcorehdr");
  notes.push(`entry: pc = the Image's first byte 0x${kernel.mem.toString(16)}, a0 = hart id ${hartId}, a1 = the DTB at 0x${dtb.mem.toString(16)} (kexec_relocate.S: "mv a0, s3", "mv a1, s2", "jr a2"), S-mode with the MMU off`);
  return {
    arch: "riscv64",
    kind: crash ? "crash" : "normal",
    segments,
    entry: { pc: kernel.mem, registers: { a0: hartId, a1: dtb.mem } },
    cmdline: placed.cmdline,
    bootParams: {
      dtb: { mem: dtb.mem, size: dtb.bytes.length },
      text_offset: h.text_offset,
      image_size: h.image_size,
      hartId,
      ram: regionsOfType(map, "ram"),
      ...(crash && elf ? { elfcorehdr: { mem: elf.mem, size: BigInt(elf.bytes.length) }, usableMemoryRange: crash.usable } : {}),
    },
    notes,
  };
}

interface Placed {
  segments: Segment[];
  kernel: Segment;
  dtb: Segment;
  /** The command line the second kernel gets (a crash kernel's has the elfcorehdr= prefix). */
  cmdline: string;
  notes: string[];
}

/** One placement attempt's inputs. */
interface RiscvPlacement {
  /** The memory map (crashk_res typed `crash` for a crash plan). */
  map: MemoryMap;
  /** The RISC-V Image's bytes. */
  image: Uint8Array;
  /** Its header: `image_size`, `text_offset`. */
  header: Pick<RiscvHeader, "image_size" | "text_offset">;
  /** The plan's inputs (initrd, dtb, cmdline, currentDtb). */
  input: RiscvPlanInput;
  /** Page size, exclusions, the generator of a seeded plan, crash. */
  opts: PlacementOptions;
  /** A crash plan's header and usable ranges. */
  crash?: CrashPlacement;
}

/** One placement attempt: kernel, (elfcorehdr,) initrd, DTB, in the kernel's order. */
function placeRiscv(p: RiscvPlacement): Placed {
  const { map, image: imageBytes, input, opts, crash } = p;
  const { image_size: imageSize, text_offset: textOffset } = p.header;
  const rng = opts.random;
  const page = opts.pageSize;
  const notes: string[] = [];
  // "kbuf.buf_min = 0; kbuf.buf_max = ULONG_MAX; kbuf.top_down = false; ... kbuf.memsz = le64_to_cpu(h->image_size);
  //  kbuf.buf_align = le64_to_cpu(h->text_offset);"
  const kernel = addBuffer(map, [], { name: "kernel", bytes: imageBytes, memsz: imageSize, bufAlign: textOffset, bufMin: 0n, bufMax: ULONG_MAX, topDown: false }, opts);
  // "image->start = kbuf.mem;"
  notes.push(`kernel at 0x${kernel.mem.toString(16)}: aligned to text_offset 0x${textOffset.toString(16)} (the load alignment, not an offset added to the base), memsz image_size 0x${imageSize.toString(16)} page-rounded, ${rng ? "drawn" : "the lowest fit"}`);
  const segments: Segment[] = [kernel];
  // load_extra_segments(image, kbuf.mem, kbuf.memsz, ...): "kbuf.buf_min = kernel_start + kernel_len;"
  // (kbuf.memsz is page-aligned by kexec_add_buffer by then).
  const kernelEnd = kernel.mem + kernel.memsz;

  let cmdline = input.cmdline;
  let elf: Segment | undefined;
  if (crash) {
    // "/* Add elfcorehdr */ if (image->type == KEXEC_TYPE_CRASH) { ... kbuf.memsz = headers_sz;
    //  kbuf.buf_align = ELF_CORE_HEADER_ALIGN; kbuf.top_down = true;" (buf_min = kernel_start + kernel_len)
    elf = addBuffer(map, segments, { name: "elfcorehdr", bytes: crash.headers, bufAlign: ELF_CORE_HEADER_ALIGN, bufMin: kernelEnd, bufMax: ULONG_MAX, topDown: true }, opts);
    segments.push(elf);
    notes.push(`elfcorehdr at 0x${elf.mem.toString(16)}: ELF_CORE_HEADER_ALIGN (4 KiB)-aligned, ${rng ? "drawn" : "top-down"} in crashk_res above the kernel, before the initrd (where the purgatory would go next)`);
    // setup_kdump_cmdline: "elfcorehdr_strlen = sprintf(cmdline_ptr, "elfcorehdr=0x%lx ", image->elf_load_addr);
    //  ... memcpy(cmdline_ptr + elfcorehdr_strlen, cmdline, cmdline_len);" then "cmdline = modified_cmdline;"
    cmdline = riscvKdumpCmdline(input.cmdline ?? "", elf.mem);
    notes.push(`command line: "elfcorehdr=0x${elf.mem.toString(16)} " prepended (setup_kdump_cmdline); /chosen bootargs gets the result`);
  }

  let initrd: Segment | undefined;
  if (input.initrd) {
    // "kbuf.buf_align = PAGE_SIZE; kbuf.top_down = true;"
    initrd = addBuffer(map, segments, { name: "initrd", bytes: input.initrd, bufAlign: page, bufMin: kernelEnd, bufMax: ULONG_MAX, topDown: true }, opts);
    segments.push(initrd);
    notes.push(`initrd at 0x${initrd.mem.toString(16)}: page-aligned above the kernel's end 0x${kernelEnd.toString(16)}, ${rng ? "drawn" : "top-down"}`);
  }

  // "fdt = of_kexec_alloc_and_setup_fdt(image, initrd_pbase, initrd_len, cmdline, 0); ... fdt_pack(fdt);"
  const built = buildKexecDtb(input.dtb, {
    ...(initrd ? { initrd: { mem: initrd.mem, size: BigInt(initrd.bytes.length) } } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
    ...(input.currentDtb ? { currentDtb: input.currentDtb } : {}),
    // "fdt_appendprop_addrrange(fdt, 0, chosen_node, "linux,elfcorehdr", image->elf_load_addr, image->elf_headers_sz);"
    // "fdt_add_mem_rsv(fdt, image->elf_load_addr, image->elf_headers_sz);" and "linux,usable-memory-range" = crashk_res (+ crashk_low_res)
    ...(crash && elf ? { crash: { elfcorehdr: { start: elf.mem, size: BigInt(crash.headers.length) }, usable: crash.usable } } : {}),
    ...(rng ? { rng } : {}),
    pageSize: page,
  });
  notes.push(...built.notes);
  // The kernel maps the DTB early with two PMD mappings from its 2 MiB-aligned base (create_fdt_early_page_table):
  // a tree larger than PMD_SIZE would not be fully visible.
  if (BigInt(built.bytes.length) > RISCV_PMD_SIZE) refuse(`the device tree is ${built.bytes.length} bytes, more than 2 MiB`);
  // "kbuf.bufsz = kbuf.memsz = fdt_totalsize(fdt); kbuf.buf_align = PAGE_SIZE; ... kbuf.top_down = true;"
  const dtb = addBuffer(map, segments, { name: "dtb", bytes: built.bytes, bufAlign: page, bufMin: kernelEnd, bufMax: ULONG_MAX, topDown: true }, opts);
  segments.push(dtb);
  notes.push(`dtb at 0x${dtb.mem.toString(16)}: ${built.bytes.length} bytes, page-aligned above the kernel, ${rng ? "drawn" : "top-down"}`);
  return { segments, kernel, dtb, cmdline: cmdline ?? "", notes };
}
