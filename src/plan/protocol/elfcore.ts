/**
 * The ELF core header a crash (kdump) kernel reads as `/proc/vmcore`'s
 * skeleton: kernel/crash_core.c `crash_prepare_elf64_headers`, as a pure
 * function.
 *
 * The kernel's layout, quoted:
 *
 * ```
 * nr_phdr = nr_cpus + 1;                 // "extra phdr for vmcoreinfo ELF note"
 * nr_phdr += mem->nr_ranges;
 * nr_phdr++;                             // the kernel-text PT_LOAD, counted even when !need_kernel_map
 * elf_sz = sizeof(Elf64_Ehdr) + nr_phdr * sizeof(Elf64_Phdr);
 * elf_sz = ALIGN(elf_sz, ELF_CORE_HEADER_ALIGN);
 * buf = vzalloc(elf_sz);
 * ehdr->e_ident[EI_CLASS] = ELFCLASS64; ehdr->e_ident[EI_DATA] = ELFDATA2LSB;
 * ehdr->e_ident[EI_VERSION] = EV_CURRENT; ehdr->e_ident[EI_OSABI] = ELF_OSABI;
 * ehdr->e_type = ET_CORE; ehdr->e_machine = ELF_ARCH; ehdr->e_version = EV_CURRENT;
 * ehdr->e_phoff = sizeof(Elf64_Ehdr); ehdr->e_ehsize = sizeof(Elf64_Ehdr);
 * ehdr->e_phentsize = sizeof(Elf64_Phdr);
 * for_each_possible_cpu(cpu) { phdr->p_type = PT_NOTE; ... p_offset = p_paddr = notes_addr;
 *                              p_filesz = p_memsz = sizeof(note_buf_t); }
 * phdr->p_type = PT_NOTE; p_offset = p_paddr = paddr_vmcoreinfo_note(); p_filesz = p_memsz = VMCOREINFO_NOTE_SIZE;
 * if (need_kernel_map) { p_type = PT_LOAD; p_flags = PF_R|PF_W|PF_X; p_vaddr = (unsigned long) _text;
 *                        p_filesz = p_memsz = _end - _text; p_offset = p_paddr = __pa_symbol(_text); }
 * for (i = 0; i < mem->nr_ranges; i++) { p_type = PT_LOAD; p_flags = PF_R|PF_W|PF_X; p_offset = mstart;
 *   p_paddr = mstart; p_vaddr = (unsigned long) __va(mstart); p_filesz = p_memsz = mend - mstart + 1; p_align = 0; }
 * ```
 *
 * Every field the kernel does not set stays zero (`vzalloc`): e_entry,
 * e_shoff, e_flags, e_shentsize, e_shnum, e_shstrndx, and p_vaddr, p_flags,
 * p_align of the notes. Pure: no `node:` import.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { PLAN_LAYER } from "../core/allocator.js";
import { ADDRESS_LIMIT, type Range } from "../core/memory.js";
import type { CrashArch } from "../core/crash.js";

/** `ET_CORE` (include/uapi/linux/elf.h). */
export const ET_CORE = 4;
/** `EM_X86_64`. */
export const EM_X86_64 = 62;
/** `EM_AARCH64`. */
export const EM_AARCH64 = 183;
/** `EM_RISCV`. */
export const EM_RISCV = 243;
/** `PT_LOAD`. */
export const PT_LOAD = 1;
/** `PT_NOTE`. */
export const PT_NOTE = 4;
/** `PF_X | PF_W | PF_R` = 7: the flags of every PT_LOAD ("p_flags = PF_R|PF_W|PF_X"). */
export const PF_RWX = 7;
/** `ELF_CORE_HEADER_ALIGN` (include/linux/crash_core.h): "#define ELF_CORE_HEADER_ALIGN   4096". */
export const ELF_CORE_HEADER_ALIGN = 4096n;
/** `sizeof(Elf64_Ehdr)`. */
export const ELF64_EHDR_SIZE = 64;
/** `sizeof(Elf64_Phdr)`. */
export const ELF64_PHDR_SIZE = 56;

/** `ELF_ARCH` per architecture (`e_machine`). */
export const CORE_MACHINE: Readonly<Record<CrashArch, number>> = { arm64: EM_AARCH64, riscv64: EM_RISCV, x86_64: EM_X86_64 };

/**
 * A default `PAGE_OFFSET` per architecture, for `p_vaddr = __va(paddr)`:
 * arm64 with 48-bit VAs ("PAGE_OFFSET = -(1 << VA_BITS)"), x86_64's
 * non-randomized `__PAGE_OFFSET_BASE_L4` 0xffff888000000000, riscv64 Sv39's
 * `PAGE_OFFSET_L3` 0xffffffd600000000. A real vmcore needs the first
 * kernel's actual value (KASLR randomizes it on x86_64; the VA size picks it
 * on arm64 and riscv64): pass `pageOffset`.
 */
export const DEFAULT_PAGE_OFFSET: Readonly<Record<CrashArch, bigint>> = {
  arm64: 0xffff000000000000n,
  riscv64: 0xffffffd600000000n,
  x86_64: 0xffff888000000000n,
};

/**
 * `sizeof(note_buf_t)`: the per-CPU `crash_notes` size each PT_NOTE states.
 * include/linux/crash_core.h: `CRASH_CORE_NOTE_BYTES = (CRASH_CORE_NOTE_HEAD_BYTES * 2) +
 * CRASH_CORE_NOTE_NAME_BYTES + CRASH_CORE_NOTE_DESC_BYTES` = 2 * 12 + 8 ("CORE\0" aligned)
 * + ALIGN(sizeof(struct elf_prstatus), 4); elf_prstatus is 112 bytes of
 * common fields + ELF_NGREG * 8 + `int pr_fpvalid`, padded to 8: arm64 34
 * registers (392), x86_64 27 (336), riscv64 32 (376).
 */
export const CRASH_NOTE_BYTES: Readonly<Record<CrashArch, bigint>> = { arm64: 424n, riscv64: 408n, x86_64: 368n };

/**
 * `VMCOREINFO_NOTE_SIZE` for a page size: "#define VMCOREINFO_NOTE_SIZE
 * ((CRASH_CORE_NOTE_HEAD_BYTES * 2) + VMCOREINFO_NOTE_NAME_BYTES +
 * VMCOREINFO_BYTES)" with `VMCOREINFO_BYTES = PAGE_SIZE` and the 12-byte
 * "VMCOREINFO\0" name aligned to 4: 4132 for 4 KiB pages.
 */
export function vmcoreinfoNoteSize(pageSize = 4096n): bigint {
  return 12n * 2n + 12n + pageSize;
}

/** A physical range the header points at. */
export interface CoreNoteRange {
  addr: bigint;
  size: bigint;
}

/** Inputs of {@link buildElfCoreHeaders}. */
export interface ElfCoreInput {
  /** The architecture (`e_machine`, default `PAGE_OFFSET`); default `arm64`. */
  arch?: CrashArch;
  /** One PT_NOTE per possible CPU: `per_cpu_ptr_to_phys(per_cpu_ptr(crash_notes, cpu))` and `sizeof(note_buf_t)`. */
  cpuNotes: readonly CoreNoteRange[];
  /** The vmcoreinfo note: `paddr_vmcoreinfo_note()` and `VMCOREINFO_NOTE_SIZE`. */
  vmcoreinfo: CoreNoteRange;
  /** The first kernel's RAM minus the crash region(s) (`cmem` after `crash_exclude_mem_range`), in the kernel's order. */
  ram: readonly Range[];
  /** The kernel-text PT_LOAD (`need_kernel_map`: arm64, riscv64 and x86_64 all pass true). */
  kernelText?: { vaddr: bigint; paddr: bigint; size: bigint };
  /** `PAGE_OFFSET` for `p_vaddr = __va(start)`; default {@link DEFAULT_PAGE_OFFSET}. */
  pageOffset?: bigint;
  /** The physical address `PAGE_OFFSET` maps (arm64 `PHYS_OFFSET`, riscv64 `phys_ram_base`); default 0: `__va(x) = x - physOffset + pageOffset`. */
  physOffset?: bigint;
  /** `ELF_OSABI` (e_ident[EI_OSABI]); default ELFOSABI_NONE (0), as on every Linux architecture. */
  osabi?: number;
}

function bad(message: string): never {
  throw new KimageError("bad-argument", message, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * The size `crash_prepare_elf64_headers` allocates (and returns as `*sz`):
 * `ALIGN(sizeof(Elf64_Ehdr) + (nr_cpus + 1 + nr_ranges + 1) * sizeof(Elf64_Phdr), ELF_CORE_HEADER_ALIGN)`.
 * The kernel-text slot is counted whether or not it is used.
 */
export function elfCoreHeaderSize(nrCpus: number, nrRanges: number): bigint {
  const nrPhdr = BigInt(nrCpus) + 1n + BigInt(nrRanges) + 1n;
  const sz = BigInt(ELF64_EHDR_SIZE) + nrPhdr * BigInt(ELF64_PHDR_SIZE);
  return ((sz + ELF_CORE_HEADER_ALIGN - 1n) / ELF_CORE_HEADER_ALIGN) * ELF_CORE_HEADER_ALIGN;
}

const U64 = ADDRESS_LIMIT - 1n;

/**
 * Builds the ELF core header as `crash_prepare_elf64_headers` does: ELF64
 * little-endian ET_CORE; one PT_NOTE per CPU note, the vmcoreinfo PT_NOTE,
 * the optional kernel-text PT_LOAD, then one PT_LOAD per RAM range with
 * `p_offset = p_paddr = start`, `p_vaddr = __va(start)`, `p_filesz =
 * p_memsz = size`; zero-padded to a multiple of ELF_CORE_HEADER_ALIGN.
 *
 * @throws KimageError `bad-argument` for an empty RAM range, a value past
 *   2^64, or more program headers than e_phnum holds (PN_XNUM, 0xffff).
 */
export function buildElfCoreHeaders(input: ElfCoreInput): Uint8Array {
  const arch = input.arch ?? "arm64";
  const pageOffset = input.pageOffset ?? DEFAULT_PAGE_OFFSET[arch];
  const physOffset = input.physOffset ?? 0n;
  const phnum = input.cpuNotes.length + 1 + (input.kernelText ? 1 : 0) + input.ram.length;
  if (phnum >= 0xffff) bad(`${phnum} program headers do not fit e_phnum (PN_XNUM is 0xffff)`);
  const size = elfCoreHeaderSize(input.cpuNotes.length, input.ram.length);
  const buf = new Uint8Array(Number(size));
  const dv = new DataView(buf.buffer);
  const u64 = (o: number, v: bigint, what: string) => {
    if (v < 0n || v > U64) bad(`${what} = ${hex(v)} is not a u64`);
    dv.setBigUint64(o, v, true);
  };
  // memcpy(ehdr->e_ident, ELFMAG, SELFMAG);
  buf.set([0x7f, 0x45, 0x4c, 0x46], 0);
  buf[4] = 2; // ehdr->e_ident[EI_CLASS] = ELFCLASS64;
  buf[5] = 1; // ehdr->e_ident[EI_DATA] = ELFDATA2LSB;
  buf[6] = 1; // ehdr->e_ident[EI_VERSION] = EV_CURRENT;
  buf[7] = input.osabi ?? 0; // ehdr->e_ident[EI_OSABI] = ELF_OSABI;
  dv.setUint16(16, ET_CORE, true); // ehdr->e_type = ET_CORE;
  dv.setUint16(18, CORE_MACHINE[arch], true); // ehdr->e_machine = ELF_ARCH;
  dv.setUint32(20, 1, true); // ehdr->e_version = EV_CURRENT;
  dv.setBigUint64(32, BigInt(ELF64_EHDR_SIZE), true); // ehdr->e_phoff = sizeof(Elf64_Ehdr);
  dv.setUint16(52, ELF64_EHDR_SIZE, true); // ehdr->e_ehsize = sizeof(Elf64_Ehdr);
  dv.setUint16(54, ELF64_PHDR_SIZE, true); // ehdr->e_phentsize = sizeof(Elf64_Phdr);
  dv.setUint16(56, phnum, true); // (ehdr->e_phnum)++ for each header below

  let at = ELF64_EHDR_SIZE;
  const phdr = (p: { type: number; flags: number; offset: bigint; vaddr: bigint; paddr: bigint; size: bigint }, what: string) => {
    dv.setUint32(at, p.type, true);
    dv.setUint32(at + 4, p.flags, true);
    u64(at + 8, p.offset, `${what} p_offset`);
    u64(at + 16, p.vaddr, `${what} p_vaddr`);
    u64(at + 24, p.paddr, `${what} p_paddr`);
    u64(at + 32, p.size, `${what} p_filesz`);
    u64(at + 40, p.size, `${what} p_memsz`);
    // p_align stays 0 ("phdr->p_align = 0;" for RAM; never set for the others).
    at += ELF64_PHDR_SIZE;
  };
  // "Prepare one phdr of type PT_NOTE for each possible CPU"
  input.cpuNotes.forEach((n, i) => phdr({ type: PT_NOTE, flags: 0, offset: n.addr, vaddr: 0n, paddr: n.addr, size: n.size }, `cpu ${i} note`));
  // "Prepare one PT_NOTE header for vmcoreinfo"
  phdr({ type: PT_NOTE, flags: 0, offset: input.vmcoreinfo.addr, vaddr: 0n, paddr: input.vmcoreinfo.addr, size: input.vmcoreinfo.size }, "vmcoreinfo note");
  // "Prepare PT_LOAD type program header for kernel text region"
  if (input.kernelText) {
    const k = input.kernelText;
    phdr({ type: PT_LOAD, flags: PF_RWX, offset: k.paddr, vaddr: k.vaddr, paddr: k.paddr, size: k.size }, "kernel text");
  }
  // "Go through all the ranges in mem->ranges[] and prepare phdr"
  input.ram.forEach((r, i) => {
    if (r.size <= 0n) bad(`RAM range ${i} (${hex(r.start)}) is empty`);
    // phdr->p_vaddr = (unsigned long) __va(mstart);  (unsigned long arithmetic: modulo 2^64)
    const vaddr = (r.start - physOffset + pageOffset) & U64;
    phdr({ type: PT_LOAD, flags: PF_RWX, offset: r.start, vaddr, paddr: r.start, size: r.size }, `RAM range ${i}`);
  });
  return buf;
}
