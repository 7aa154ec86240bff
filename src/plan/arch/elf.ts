/**
 * The generic ELF plan: kernel/kexec_elf.c `kexec_elf_load` (used by
 * powerpc's `elf64_load`) and, for RISC-V vmlinux files,
 * arch/riscv/kernel/kexec_elf.c `elf_find_pbase` / `riscv_kexec_elf_load`,
 * as pure functions.
 *
 * The kernel's ELF checks come first (`kexec_build_elf_info`: the header,
 * the program headers, "Not an ELF executable.", "Requires an ELF
 * interpreter."; then `elf_check_arch`), reported with the kernel's
 * message. Each PT_LOAD becomes one segment, in program-header order:
 *
 * ```
 * size = phdr->p_filesz;
 * if (size > phdr->p_memsz)
 *         size = phdr->p_memsz;
 * kbuf->buffer = (void *) elf_info->buffer + phdr->p_offset;
 * kbuf->bufsz = size;
 * kbuf->memsz = phdr->p_memsz;
 * kbuf->buf_align = phdr->p_align;
 * kbuf->buf_min = phdr->p_paddr;
 * ```
 *
 * The kernel then searches upward from `p_paddr` for a free hole. This plan
 * demands the hole **at** `p_paddr` (where a non-relocated kernel expects
 * itself; the kernel's search lands there whenever that place is free and
 * aligned) and refuses, with a named error, a segment the search would move:
 * misaligned (`plan-elf-misaligned`), overlapping another PT_LOAD
 * (`plan-elf-overlap`), outside RAM (`plan-elf-outside-ram`) or on an
 * excluded range (`plan-elf-excluded`).
 *
 * `arch: "riscv64"` instead relocates the whole image as riscv's
 * `elf_find_pbase` does: one PMD-aligned hole of `ALIGN(kernel_len,
 * PAGE_SIZE)` bytes searched bottom-up from the lowest p_paddr, every
 * PT_LOAD at `p_paddr - old_pbase + new_pbase`, and `image->start =
 * ehdr->e_entry - lowest_vaddr + kbuf.mem`.
 *
 * The plan places no DTB and no purgatory: the caller's loader provides the
 * boot environment (powerpc's purgatory gets the DTB in r3 and jumps to the
 * kernel's load address; use `planRiscv` for a RISC-V Image with its DTB).
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError, type ErrorCode } from "../../core/errors.js";
import { isElf, parseElf, type ElfFile, type ProgramHeader } from "../../formats/elf/parse.js";
import { EM_NAMES, PT_LOAD } from "../../formats/elf/spec.js";
import { addBuffer, locateMemHole, PLAN_LAYER, ULONG_MAX } from "../core/allocator.js";
import {
  alignUpBig,
  checkSegments,
  formatRange,
  isPowerOfTwo,
  ramRanges,
  rangeContains,
  rangesOverlap,
  regionsOfType,
  segmentRange,
  type MemoryMap,
  type Range,
  type Segment,
} from "../core/memory.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

/**
 * Which kernel's ELF loader the plan follows:
 * - `generic`: kernel/kexec_elf.c `kexec_elf_load`, any machine;
 * - `ppc64`: the same, with powerpc's `elf_check_arch` (EM_PPC64, ELF64) and
 *   `elf64_load`'s initrd rule (below `rmaSize` when given);
 * - `riscv64`: arch/riscv/kernel/kexec_elf.c (EM_RISCV, ELF64): the image is
 *   relocated to a PMD-aligned hole.
 */
export type ElfPlanArch = "generic" | "ppc64" | "riscv64";

/** Inputs of an ELF plan. */
export interface ElfPlanInput {
  /** The ELF kernel (vmlinux), or a wrapper whose innermost layer is one. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  /** The command line, passed through to the plan (an ELF kernel takes it from the boot environment). */
  cmdline?: string;
  /** The memory map the segments must lie in. */
  memory: MemoryMap;
  /** Ranges no segment may touch. */
  exclude?: Range[];
  /** Default `generic`. */
  arch?: ElfPlanArch;
  /** PAGE_SIZE. Default 4096 (ppc64el kernels often run with 64 KiB pages: pass 0x10000 then). */
  pageSize?: bigint;
  /** ppc64: `ppc64_rma_size`, the `buf_max` of elf64_load's buffers (the initrd stays below it). Default: no limit. */
  rmaSize?: bigint;
  /**
   * ppc64: the loading kernel's `__pa(_end)`. arch/powerpc/kexec/core_64.c
   * `machine_kexec_prepare` refuses a segment below it ("if
   * (image->segment[i].mem < __pa(_end)) return -ETXTBSY;"), so the image
   * moves: all PT_LOADs shift together into the lowest hole at or above it
   * (as kexec_elf_load's search from p_paddr ends above the running kernel),
   * and the initrd goes above both it and the image's linked extent (the
   * kernel copies itself down there at start). Absent: the image stays at
   * p_paddr.
   */
  loadAbove?: bigint;
}

/** What an ELF plan reports in `bootParams`. */
export interface ElfBootParams {
  /** The ELF header's `e_entry`. */
  e_entry: bigint;
  /** The ELF header's `e_machine`, by name when kimage knows it. */
  e_machine: string | number;
  /** The lowest PT_LOAD segment's address. */
  lowestLoadAddr: bigint;
  /** The end of the highest PT_LOAD segment (page-rounded memsz). */
  kernelEnd: bigint;
  /** The `ram` regions of the memory map. */
  ram: Range[];
  /** With `loadAbove`: the image's linked extent, max(p_paddr + page-rounded p_memsz), where it copies itself to. */
  linkedEnd?: bigint;
}

/** An ELF plan: its `arch` names the ELF loader followed (not one of the plan table's arches). */
export type ElfPlan = PlanOf<ElfPlanArch, ElfBootParams>;

/** The layer an ELF plan boots, and where it reads the ELF file (header and program headers). */
export const ELF_KERNEL: KernelLayer<ElfFile> = { format: "elf", header: parseElf };

/** EM_PPC64 and EM_RISCV (include/uapi/linux/elf-em.h). */
const EM_PPC64 = 21;
const EM_RISCV = 243;
/** PMD_SIZE on RV64: "Current riscv boot protocol requires 2MB alignment for RV64". */
const RISCV_PMD_SIZE = 0x200000n;

function fail(code: ErrorCode, message: string): never {
  throw new KimageError(code, message, { layer: PLAN_LAYER, offset: -1 });
}

/** The segment of a PT_LOAD, as kexec_elf_load would add it, at `mem` (a multiple of `align`). */
function loadSegment(bytes: Uint8Array, ph: ProgramHeader, mem: bigint, page: bigint, align: bigint): Segment {
  // "size = phdr->p_filesz; if (size > phdr->p_memsz) size = phdr->p_memsz;"
  const size = ph.p_filesz > ph.p_memsz ? ph.p_memsz : ph.p_filesz;
  const start = Number(ph.p_offset);
  // "kbuf->memsz = phdr->p_memsz;" then kexec_add_buffer: "kbuf->memsz = ALIGN(kbuf->memsz, PAGE_SIZE);"
  return { name: `PT_LOAD[${ph.index}]`, bytes: bytes.subarray(start, start + Number(size)), mem, memsz: alignUpBig(ph.p_memsz, page), align };
}

/** Refuses a segment that is not in one RAM region, hits an exclusion or overlaps an earlier one. */
function checkPlacement(seg: Segment, placed: readonly Segment[], map: MemoryMap, exclude: readonly Range[]): void {
  const r = segmentRange(seg);
  for (const p of placed) {
    if (rangesOverlap(r, segmentRange(p))) fail("plan-elf-overlap", `${seg.name} ${formatRange(r)} overlaps ${p.name} ${formatRange(segmentRange(p))}`);
  }
  if (!ramRanges(map).some((ram) => rangeContains(ram, r))) fail("plan-elf-outside-ram", `${seg.name} ${formatRange(r)} is not inside one RAM region`);
  const ex = exclude.find((e) => rangesOverlap(r, e));
  if (ex) fail("plan-elf-excluded", `${seg.name} ${formatRange(r)} overlaps the excluded range ${formatRange(ex)}`);
}

/** The kexec_elf.c checks and `elf_check_arch` of the chosen architecture. */
function checkElf(elf: ElfFile, arch: ElfPlanArch): void {
  const first = elf.kexecErrors[0];
  if (first) fail("plan-elf-rejected", `kexec_build_elf_info: "${first.message}" (${first.code})`);
  const want = arch === "ppc64" ? EM_PPC64 : arch === "riscv64" ? EM_RISCV : undefined;
  // kexec_elf_probe: "return elf_check_arch(&ehdr) ? 0 : -ENOEXEC;"
  if (want !== undefined && (elf.header.e_machine !== want || elf.header.class !== 64)) {
    const m = EM_NAMES[elf.header.e_machine] ?? `machine ${elf.header.e_machine}`;
    fail("plan-elf-rejected", `elf_check_arch: a ${arch} kernel takes an ELF64 ${EM_NAMES[want]} file, this is an ELF${elf.header.class} ${m} (-ENOEXEC)`);
  }
}

function maxBig(...xs: bigint[]): bigint {
  return xs.reduce((m, x) => (x > m ? x : m));
}

/**
 * Plans the kexec_file load of an ELF kernel: its PT_LOAD segments, an
 * optional initrd, and the entry point.
 *
 * @throws KimageError `plan-elf-rejected`, `plan-elf-no-load`,
 *   `plan-elf-misaligned`, `plan-elf-overlap`, `plan-elf-outside-ram`,
 *   `plan-elf-excluded`, `plan-elf-entry`, `plan-no-hole` (initrd, or the
 *   riscv64 relocation hole), or the ELF parser's header errors.
 */
export async function planElf(input: ElfPlanInput): Promise<ElfPlan> {
  const arch = input.arch ?? "generic";
  const page = input.pageSize ?? 4096n;
  if (!isPowerOfTwo(page)) throw new KimageError("bad-argument", `page size ${hex(page)} is not a power of two`, { layer: PLAN_LAYER, offset: -1 });
  const exclude = input.exclude ?? [];
  const notes: string[] = [];
  let bytes = input.kernel;
  let elf: ElfFile;
  if (isElf(bytes)) {
    elf = ELF_KERNEL.header(bytes);
  } else {
    const inner = await unwrapKernel(input.kernel, ELF_KERNEL);
    bytes = inner.bytes;
    elf = inner.header;
    notes.push(`kernel: ${inner.chain.join(" → ")}; the ELF file is ${bytes.length} bytes`);
  }
  checkElf(elf, arch);
  const h = elf.header;
  notes.push(`ELF${h.class} ${h.data} ${EM_NAMES[h.e_machine] ?? `machine ${h.e_machine}`}, e_entry ${hex(h.e_entry)}, ${elf.phnum} program headers: kexec's ELF checks pass`);
  const loads = elf.programHeaders.filter((p) => p.p_type === PT_LOAD);
  const empty = loads.filter((p) => p.p_memsz === 0n);
  for (const p of empty) notes.push(`PT_LOAD[${p.index}] has p_memsz 0: nothing to load, skipped`);
  const used = loads.filter((p) => p.p_memsz > 0n);
  if (used.length === 0) fail("plan-elf-no-load", "the ELF file has no PT_LOAD segment with p_memsz > 0");

  // Where each PT_LOAD goes: at p_paddr, or (riscv64) shifted by new_pbase - old_pbase.
  let shift = 0n;
  let lowestVaddr = ULONG_MAX;
  let lowestPaddr = ULONG_MAX;
  for (const p of used) {
    // elf_find_pbase: "if (lowest_paddr > phdr->p_paddr) lowest_paddr = phdr->p_paddr; if (lowest_vaddr > phdr->p_vaddr) lowest_vaddr = phdr->p_vaddr;"
    if (p.p_paddr < lowestPaddr) lowestPaddr = p.p_paddr;
    if (p.p_vaddr < lowestVaddr) lowestVaddr = p.p_vaddr;
  }
  const kernelLen = BigInt(bytes.length);
  if (arch === "riscv64") {
    // "kbuf.buf_min = lowest_paddr; kbuf.buf_max = ULONG_MAX; kbuf.buf_align = PMD_SIZE;
    //  kbuf.memsz = ALIGN(kernel_len, PAGE_SIZE); kbuf.top_down = false; ret = arch_kexec_locate_mem_hole(&kbuf);"
    const hole = locateMemHole(input.memory, { name: "kernel", memsz: alignUpBig(kernelLen, page), bufAlign: RISCV_PMD_SIZE, bufMin: lowestPaddr, bufMax: ULONG_MAX, topDown: false }, { pageSize: page, exclude });
    shift = hole.mem - lowestPaddr;
    notes.push(`riscv64 relocates the image: a 2 MiB-aligned hole of ALIGN(file size, PAGE_SIZE) = ${hex(hole.memsz)} bytes at ${hex(hole.mem)}, the lowest above the lowest p_paddr ${hex(lowestPaddr)}; every PT_LOAD moves by ${hex(shift)}`);
  }
  let linkedEnd: bigint | undefined;
  if (input.loadAbove !== undefined) {
    if (arch !== "ppc64") throw new KimageError("bad-argument", `loadAbove is a ppc64 input (got arch ${arch})`, { layer: PLAN_LAYER, offset: -1 });
    if (input.loadAbove < 0n || input.loadAbove >= ULONG_MAX) throw new KimageError("bad-argument", `loadAbove ${hex(input.loadAbove)} is not a 64-bit address`, { layer: PLAN_LAYER, offset: -1 });
    let end = lowestPaddr;
    let align = page;
    for (const p of used) {
      const e = p.p_paddr + alignUpBig(p.p_memsz, page);
      if (e > end) end = e;
      if (p.p_align > align) align = p.p_align;
    }
    linkedEnd = end;
    const min = input.loadAbove > lowestPaddr ? input.loadAbove : lowestPaddr;
    const hole = locateMemHole(
      input.memory,
      { name: "kernel", memsz: alignUpBig(end - lowestPaddr, page), bufAlign: align, bufMin: min, bufMax: input.rmaSize !== undefined ? input.rmaSize - 1n : ULONG_MAX, topDown: false },
      { pageSize: page, exclude },
    );
    shift = hole.mem - lowestPaddr;
    notes.push(
      `ppc64 loads the image above the running kernel (machine_kexec_prepare: "if (image->segment[i].mem < __pa(_end)) return -ETXTBSY;", __pa(_end) = ${hex(input.loadAbove)}): the lowest ${hex(align)}-aligned hole of ${hex(hole.memsz)} bytes at or above it is ${hex(hole.mem)}; every PT_LOAD moves by ${hex(shift)}; head_64.S copies the kernel down to its linked address at start (__run_at_load 0), so nothing else goes below ${hex(end > input.loadAbove ? end : input.loadAbove)}`,
    );
  }

  const segments: Segment[] = [];
  for (const p of used) {
    // riscv_kexec_elf_load: "kbuf.mem = phdr->p_paddr - old_pbase + new_pbase;"
    const mem = p.p_paddr + shift;
    const align = p.p_align > page ? p.p_align : page;
    // kexec_add_buffer: "kbuf->buf_align = max(kbuf->buf_align, PAGE_SIZE);" — the search from buf_min = p_paddr
    // only returns p_paddr itself when p_paddr is a multiple of it (riscv64: sanity_check_segment_list wants pages).
    const need = arch === "riscv64" ? page : align;
    if (mem % need !== 0n) {
      fail("plan-elf-misaligned", `PT_LOAD[${p.index}] at ${hex(mem)} is not a multiple of ${hex(need)}${arch === "riscv64" ? " (PAGE_SIZE)" : " (max(p_align, PAGE_SIZE)): kexec_elf_load would place it higher"}`);
    }
    const seg = loadSegment(bytes, p, mem, page, need);
    checkPlacement(seg, segments, input.memory, exclude);
    segments.push(seg);
    notes.push(`${seg.name} at ${hex(mem)}: ${seg.bytes.length} bytes from file offset ${hex(p.p_offset)} (p_filesz ${hex(p.p_filesz)}), memsz p_memsz ${hex(p.p_memsz)} page-rounded to ${hex(seg.memsz)}${arch === "riscv64" || shift !== 0n ? "" : " — exactly p_paddr"}`);
  }

  // The entry: riscv64 "image->start = ehdr->e_entry - lowest_vaddr + kbuf.mem;"; otherwise e_entry through the
  // PT_LOAD that maps it (a virtual e_entry, like ppc64's 0xc000000000000000, becomes that segment's load address
  // plus the offset — the kernel_load_addr powerpc's purgatory jumps to).
  let pc: bigint;
  if (arch === "riscv64") {
    pc = h.e_entry - lowestVaddr + lowestPaddr + shift;
  } else {
    const i = used.findIndex((p) => h.e_entry >= p.p_vaddr && h.e_entry < p.p_vaddr + p.p_memsz);
    const j = i >= 0 ? i : used.findIndex((p) => h.e_entry >= p.p_paddr && h.e_entry < p.p_paddr + p.p_memsz);
    const ph = used[i >= 0 ? i : j];
    const seg = segments[i >= 0 ? i : j];
    if (!ph || !seg) fail("plan-elf-entry", `e_entry ${hex(h.e_entry)} lies in no PT_LOAD segment (neither its p_vaddr nor its p_paddr range)`);
    pc = seg.mem + (h.e_entry - (i >= 0 ? ph.p_vaddr : ph.p_paddr));
  }
  notes.push(`entry: e_entry ${hex(h.e_entry)} is physical ${hex(pc)}`);

  const kernelEnd = segments.reduce((m, s) => (s.mem + s.memsz > m ? s.mem + s.memsz : m), 0n);
  if (input.initrd) {
    const last = used[used.length - 1] as ProgramHeader;
    const initrd =
      arch === "riscv64"
        ? // load_extra_segments(image, image->start, kernel_len, ...): "kbuf.buf_min = kernel_start + kernel_len;"
          // "kbuf.buf_align = PAGE_SIZE; kbuf.top_down = true;"
          addBuffer(input.memory, segments, { name: "initrd", bytes: input.initrd, bufAlign: page, bufMin: pc + kernelLen, bufMax: ULONG_MAX, topDown: true }, { pageSize: page, exclude })
        : // elf64_load: the kbuf kexec_elf_load left behind ("kbuf->buf_min = phdr->p_paddr;" of the last PT_LOAD,
          // ".buf_max = ppc64_rma_size"), then "kbuf.buf_align = PAGE_SIZE; kbuf.top_down = false;"
          addBuffer(
            input.memory,
            segments,
            { name: "initrd", bytes: input.initrd, bufAlign: page, bufMin: maxBig(last.p_paddr + shift, linkedEnd ?? 0n, input.loadAbove ?? 0n), bufMax: input.rmaSize !== undefined ? input.rmaSize - 1n : ULONG_MAX, topDown: false },
            { pageSize: page, exclude },
          );
    segments.push(initrd);
    notes.push(
      arch === "riscv64"
        ? `initrd at ${hex(initrd.mem)}: page-aligned, top-down above image->start + the file size (${hex(pc + kernelLen)})`
        : `initrd at ${hex(initrd.mem)}: page-aligned, bottom-up from the last PT_LOAD's p_paddr${input.rmaSize !== undefined ? `, below the RMA size ${hex(input.rmaSize)}` : ""}`,
    );
  }
  notes.push(arch === "riscv64" ? "no DTB or purgatory here: use planRiscv for a device tree plan" : "no DTB or purgatory here: the loader passes the device tree (powerpc: r3) and jumps to the entry");

  const violations = checkSegments(segments, input.memory, { pageSize: page });
  if (violations.length > 0) {
    const v = violations[0]!;
    const code: ErrorCode = v.code === "overlap" ? "plan-elf-overlap" : v.code === "outside-ram" ? "plan-elf-outside-ram" : v.code.startsWith("misaligned") ? "plan-elf-misaligned" : "plan-refused";
    fail(code, `the plan breaks kexec's segment rules: ${violations.map((x) => x.message).join("; ")}`);
  }
  return {
    arch,
    kind: "normal",
    segments,
    entry: { pc, registers: {} },
    cmdline: input.cmdline ?? "",
    bootParams: {
      e_entry: h.e_entry,
      e_machine: EM_NAMES[h.e_machine] ?? h.e_machine,
      lowestLoadAddr: segments.filter((s) => s.name.startsWith("PT_LOAD")).reduce((m, s) => (s.mem < m ? s.mem : m), ULONG_MAX),
      kernelEnd,
      ram: regionsOfType(input.memory, "ram"),
      ...(linkedEnd !== undefined ? { linkedEnd } : {}),
    },
    notes,
  };
}
