/**
 * Crash-kernel (kdump) plans: what the kernel adds to a `KEXEC_FILE_ON_CRASH`
 * load, as pure functions shared by the architecture planners.
 *
 * - the crash region(s) (`crashk_res`, `crashk_low_res`): every segment must
 *   lie inside them (kexec_walk_resources: "if (kbuf->image->type ==
 *   KEXEC_TYPE_CRASH) return walk_iomem_res_desc(crashk_res.desc, ...,
 *   crashk_res.start, crashk_res.end, kbuf, func);");
 * - the RAM the ELF core header describes: the first kernel's RAM minus the
 *   crash region(s), per architecture (`prepare_elf_headers`), with
 *   `crash_exclude_mem_range`;
 * - how the second kernel learns where the header is: a `/chosen`
 *   `linux,elfcorehdr` property (arm64, riscv64: drivers/of/kexec.c) and an
 *   `elfcorehdr=0x…` word **prepended** to the command line (riscv64, x86_64);
 * - x86_64's e820 for the kdump kernel (`crash_setup_memmap_entries`) and its
 *   low-memory rule (no backup region any more: see
 *   {@link X86_KDUMP_LOW_MEMORY}).
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import type { E820Entry } from "./memory-parse.js";
import { PLAN_LAYER } from "./allocator.js";
import { crashRanges, memoryMap, rangeEnd, regionsOfType, type MemoryMap, type Range } from "./memory.js";

/** The architectures whose kdump rules kimage knows (the ELF core header, the RAM it describes, the crash regions). */
export type CrashArch = "arm64" | "riscv64" | "x86_64";

const SZ_1M = 0x100000n;

/** The crash region(s) of a plan and the memory map that marks them. */
export interface CrashRegions {
  /** The map with every crash range typed `crash` (what the allocator's `crash: true` walks). */
  map: MemoryMap;
  /** The regions in the kernel's order: `crashk_res` first, then `crashk_low_res`. */
  regions: Range[];
}

/**
 * Resolves the crash region(s): `crash` when given (one range, or
 * `[crashk_res, crashk_low_res]`), laid over `map` as type `crash` (a
 * reserved range inside it stays reserved); otherwise the map's own `crash`
 * regions, highest first (with `crashkernel=X,high` plus `,low`,
 * `crashk_res` is the high one).
 *
 * @throws KimageError `crash-no-region` when neither names a non-empty crash region.
 */
export function resolveCrashRegions(map: MemoryMap, crash?: Range | readonly Range[]): CrashRegions {
  if (crash !== undefined) {
    const list = (Array.isArray(crash) ? crash : [crash]) as readonly Range[];
    const regions = list.filter((r) => r.size > 0n).map((r) => ({ start: r.start, size: r.size }));
    if (regions.length === 0) throw new KimageError("crash-no-region", "the crash region given is empty", { layer: PLAN_LAYER, offset: -1 });
    const m = memoryMap([...map.regions, ...regions.map((r) => ({ ...r, type: "crash" as const }))]);
    return { map: m, regions };
  }
  const regions = crashRanges(map).sort((a, b) => (a.start > b.start ? -1 : a.start < b.start ? 1 : 0));
  if (regions.length === 0) {
    throw new KimageError("crash-no-region", "a crash plan needs a crash kernel region: the memory map has no `crash` range and none was given", { layer: PLAN_LAYER, offset: -1 });
  }
  return { map, regions };
}

/**
 * kernel/crash_core.c `crash_exclude_mem_range(mem, mstart, mend)` over
 * half-open ranges sorted ascending: a range wholly inside the excluded one
 * is removed ("Found completely overlapping range"), one strictly containing
 * it is split ("Split original range"), one overlapping an end is trimmed.
 * `maxRanges` models `mem->max_nr_ranges` ("if (mem->nr_ranges >=
 * mem->max_nr_ranges) return -ENOMEM;").
 *
 * @throws KimageError `limit` when a split needs more than `maxRanges` slots.
 */
export function crashExcludeMemRange(ranges: readonly Range[], exclude: Range, maxRanges = Infinity): Range[] {
  if (exclude.size <= 0n) return ranges.slice();
  const pStart = exclude.start;
  const pEnd = rangeEnd(exclude) - 1n;
  const out: Range[] = [];
  let count = ranges.length;
  for (const r of ranges) {
    const start = r.start;
    const end = rangeEnd(r) - 1n;
    // "if (p_start > end) continue;" / "if (p_end < start) break;" (kept: the rest is untouched)
    if (pEnd < start || pStart > end) {
      out.push(r);
    } else if (pStart <= start && pEnd >= end) {
      // "Truncate any area outside of range" then "if (p_start == start && p_end == end)"
      count--; // "Found completely overlapping range"
    } else if (pStart > start && pEnd < end) {
      // "Split original range"
      if (count >= maxRanges) throw new KimageError("limit", `crash_exclude_mem_range: splitting ${hex(start)}-${hex(end)} needs more than ${maxRanges} ranges (-ENOMEM)`, { layer: PLAN_LAYER, offset: -1 });
      count++;
      out.push({ start, size: pStart - start }, { start: pEnd + 1n, size: end - pEnd });
    } else if (pStart > start) {
      // "else if (p_start != start)", p_start truncated to the range: it starts inside
      out.push({ start, size: pStart - start }); // "mem->ranges[i].end = p_start - 1;"
    } else {
      out.push({ start: pEnd + 1n, size: end - pEnd }); // "mem->ranges[i].start = p_end + 1;"
    }
  }
  return out;
}

/** Inputs of {@link crashElfRam}. */
export interface CrashElfRamInput {
  arch: CrashArch;
  /** The first kernel's RAM as its `prepare_elf_headers` walks it (arm64: memblock memory; riscv64, x86_64: "System RAM"), ascending. */
  ram: readonly Range[];
  /** `crashk_res`. */
  crash: Range;
  /** `crashk_low_res`, if reserved. */
  crashLow?: Range;
  /** x86_64 `crashk_cma_ranges` (Linux 6.16+). */
  cma?: readonly Range[];
}

/**
 * The RAM ranges the ELF core header describes, as each architecture's
 * `prepare_elf_headers` computes them:
 *
 * - arm64: "Exclude crashkernel region" `crashk_res`, then `crashk_low_res`
 *   "if (crashk_low_res.end)";
 * - riscv64: `crashk_res` only ("ret = crash_exclude_mem_range(cmem,
 *   crashk_res.start, crashk_res.end);");
 * - x86_64 (`elf_header_exclude_ranges`): "Exclude the low 1M because it is
 *   always reserved" (`crash_exclude_mem_range(cmem, 0, SZ_1M - 1)`), then
 *   `crashk_res`, `crashk_low_res` and the CMA ranges.
 */
export function crashElfRam(input: CrashElfRamInput): Range[] {
  let ranges = input.ram.filter((r) => r.size > 0n).slice().sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const ex = (r: Range | undefined) => {
    if (r && r.size > 0n) ranges = crashExcludeMemRange(ranges, r);
  };
  if (input.arch === "x86_64") ex({ start: 0n, size: SZ_1M });
  ex(input.crash);
  if (input.arch !== "riscv64") ex(input.crashLow);
  if (input.arch === "x86_64") for (const r of input.cma ?? []) ex(r);
  return ranges;
}

/** `MAX_ELFCOREHDR_STR_LEN` (arch/x86/kernel/kexec-bzimage64.c): "#define MAX_ELFCOREHDR_STR_LEN 30", commented "elfcorehdr=0x<64bit-value>". */
export const MAX_ELFCOREHDR_STR_LEN = 30;
/** `MAX_DMCRYPTKEYS_STR_LEN` (kexec-bzimage64.c, Linux 6.16+): "#define MAX_DMCRYPTKEYS_STR_LEN 31", commented "dmcryptkeys=0x<64bit-value>". */
export const MAX_DMCRYPTKEYS_STR_LEN = 31;
/** riscv64 `COMMAND_LINE_SIZE` (arch/riscv/include/uapi/asm/setup.h): 1024. */
export const RISCV_COMMAND_LINE_SIZE = 1024;

/** The word the kernel writes: `sprintf(cmdline_ptr, "elfcorehdr=0x%lx ", image->elf_load_addr)` — lowercase hex, one trailing space. */
export function elfcorehdrParam(elfLoadAddr: bigint): string {
  return `elfcorehdr=0x${elfLoadAddr.toString(16)} `;
}

function tooLong(message: string): never {
  throw new KimageError("plan-refused", message, { layer: PLAN_LAYER, offset: -1 });
}

/** Bytes of a command line as the kernel counts `cmdline_len`: UTF-8 plus the NUL (kexec_file_load passes the length including it). */
function cmdlineLen(cmdline: string): number {
  return new TextEncoder().encode(cmdline).length + 1;
}

/**
 * riscv64 `setup_kdump_cmdline`: the kdump kernel's command line is
 * `"elfcorehdr=0x<addr> "` **followed by** the caller's (it is prepended,
 * not appended):
 *
 * ```
 * elfcorehdr_strlen = sprintf(cmdline_ptr, "elfcorehdr=0x%lx ", image->elf_load_addr);
 * if (elfcorehdr_strlen + cmdline_len > COMMAND_LINE_SIZE) {
 *     pr_err("Appending elfcorehdr=<addr> exceeds cmdline size\n"); ...
 * memcpy(cmdline_ptr + elfcorehdr_strlen, cmdline, cmdline_len);
 * ```
 * The result goes into /chosen `bootargs` (and `linux,elfcorehdr` is set
 * there too, by drivers/of/kexec.c).
 *
 * @throws KimageError `plan-refused` with the kernel's message when the
 *   result exceeds COMMAND_LINE_SIZE (`cmdline_len` counts the NUL).
 */
export function riscvKdumpCmdline(cmdline: string, elfLoadAddr: bigint, commandLineSize = RISCV_COMMAND_LINE_SIZE): string {
  const word = elfcorehdrParam(elfLoadAddr);
  if (word.length + cmdlineLen(cmdline) > commandLineSize) tooLong(`Appending elfcorehdr=<addr> exceeds cmdline size (${word.length} + ${cmdlineLen(cmdline)} > ${commandLineSize})`);
  return word + cmdline;
}

/** Options of {@link x86KdumpCmdline}. */
export interface X86KdumpCmdlineOptions {
  /** The bzImage header's `cmdline_size` (setup_header at 0x238; 2047 when absent, protocol < 2.06 is refused anyway). */
  cmdlineSize: number;
  /** `image->dm_crypt_keys_addr` (Linux 6.16+ with dm-crypt keys), or undefined. */
  dmCryptKeys?: bigint;
}

/**
 * x86_64 `setup_cmdline` for a crash image: `"elfcorehdr=0x<addr> "` (and
 * `"dmcryptkeys=0x<addr> "`) **before** the caller's command line:
 *
 * ```
 * if (cmdline_len + MAX_ELFCOREHDR_STR_LEN > header->cmdline_size) {
 *     pr_err("Appending elfcorehdr=<addr> to command line exceeds maximum allowed length\n");
 * ...
 * if (image->type == KEXEC_TYPE_CRASH) {
 *     len = sprintf(cmdline_ptr, "elfcorehdr=0x%lx ", image->elf_load_addr);
 *     if (image->dm_crypt_keys_addr != 0)
 *         len += sprintf(cmdline_ptr + len, "dmcryptkeys=0x%lx ", image->dm_crypt_keys_addr);
 * }
 * memcpy(cmdline_ptr + len, cmdline, cmdline_len);
 * ```
 * Note that bzImage64_load makes the `MAX_ELFCOREHDR_STR_LEN` check for
 * **every** image, crash or not; the x86 planner should apply
 * {@link x86CmdlineFits} to normal plans too.
 *
 * @throws KimageError `plan-refused` with the kernel's message when the command line is too long.
 */
export function x86KdumpCmdline(cmdline: string, elfLoadAddr: bigint, options: X86KdumpCmdlineOptions): string {
  const fit = x86CmdlineFits(cmdline, options.cmdlineSize, options.dmCryptKeys !== undefined && options.dmCryptKeys !== 0n);
  if (!fit.ok) tooLong(fit.message);
  let prefix = elfcorehdrParam(elfLoadAddr);
  if (options.dmCryptKeys !== undefined && options.dmCryptKeys !== 0n) prefix += `dmcryptkeys=0x${options.dmCryptKeys.toString(16)} `;
  return prefix + cmdline;
}

/**
 * bzImage64_load's command-line length checks: "Kernel command line too
 * long" (`cmdline_len > header->cmdline_size`), then "Appending
 * elfcorehdr=<addr> to command line exceeds maximum allowed length"
 * (`cmdline_len + MAX_ELFCOREHDR_STR_LEN > header->cmdline_size`, for every
 * image), then, with dm-crypt keys, "Appending dmcryptkeys=<addr> to command
 * line exceeds maximum allowed length". `cmdline_len` includes the NUL.
 */
export function x86CmdlineFits(cmdline: string, cmdlineSize: number, dmCryptKeys = false): { ok: true } | { ok: false; message: string } {
  const len = cmdlineLen(cmdline);
  if (len > cmdlineSize) return { ok: false, message: `Kernel command line too long (${len} > cmdline_size ${cmdlineSize})` };
  if (len + MAX_ELFCOREHDR_STR_LEN > cmdlineSize) return { ok: false, message: `Appending elfcorehdr=<addr> to command line exceeds maximum allowed length (${len} + ${MAX_ELFCOREHDR_STR_LEN} > ${cmdlineSize})` };
  if (dmCryptKeys && len + MAX_ELFCOREHDR_STR_LEN + MAX_DMCRYPTKEYS_STR_LEN > cmdlineSize) {
    return { ok: false, message: `Appending dmcryptkeys=<addr> to command line exceeds maximum allowed length` };
  }
  return { ok: true };
}

/** e820 type numbers used by {@link x86CrashE820}. */
export const E820_TYPE = { RAM: 1, RESERVED: 2, ACPI: 3, NVS: 4 } as const;
/** `E820_MAX_ENTRIES_ZEROPAGE`: the boot_params table holds 128 entries; add_e820_entry drops the rest silently. */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

/** Inputs of {@link x86CrashE820}. */
export interface X86CrashE820Input {
  /** The first kernel's memory map (its /proc/iomem or e820): `ram`, `acpi`, `nvs`, `reserved` regions are read. */
  map: MemoryMap;
  /** `crashk_res`. */
  crash: Range;
  /** `crashk_low_res`, if reserved. */
  crashLow?: Range;
  /** The elfcorehdr as placed: `image->elf_load_addr`, `image->elf_headers_sz`. */
  elfcorehdr: Range;
  /** The dm-crypt keys buffer (Linux 6.16+), excluded like the header. */
  dmCryptKeys?: Range;
  /** `crashk_cma_ranges` (Linux 6.16+), passed as RAM. */
  cma?: readonly Range[];
  pageSize?: bigint;
}

/** One e820 entry with its reason. */
export interface X86CrashE820Entry extends E820Entry {
  addr: bigint;
  size: bigint;
  /** Which step of crash_setup_memmap_entries added it. */
  why: string;
}

/**
 * arch/x86/kernel/crash.c `crash_setup_memmap_entries`: the kdump kernel's
 * e820 is **not** the first kernel's; it is limited to what the crash kernel
 * may use or must know about, in this order (entries are appended, never
 * sorted; the second kernel sanitizes):
 *
 * 1. "Add the low 1M": System RAM inside [0, 1 MiB) as E820_TYPE_RAM
 *    (`walk_iomem_res_desc(IORES_DESC_NONE, IORESOURCE_SYSTEM_RAM |
 *    IORESOURCE_BUSY, 0, (1<<20)-1, ...)`, clipped to the window);
 * 2. "Add ACPI tables" (E820_TYPE_ACPI), 3. "Add ACPI Non-volatile Storage"
 *    (E820_TYPE_NVS), 4. "Add e820 reserved ranges" (E820_TYPE_RESERVED);
 * 5. "Add crashk_low_res region" as RAM;
 * 6. "Exclude some ranges from crashk_res and add rest to memmap":
 *    crashk_res minus the elfcorehdr ("Exclude elf header region") and the
 *    dm-crypt keys, each piece as RAM unless "less than a page, skip it";
 * 7. the CMA ranges as RAM.
 *
 * At most E820_MAX_ENTRIES_ZEROPAGE (128) entries: `add_e820_entry` drops
 * the rest, and so does this function (reported in `dropped`).
 */
export function x86CrashE820(input: X86CrashE820Input): { entries: X86CrashE820Entry[]; dropped: X86CrashE820Entry[] } {
  const page = input.pageSize ?? 4096n;
  const all: X86CrashE820Entry[] = [];
  const add = (r: Range, type: number, why: string) => all.push({ addr: r.start, size: r.size, type, why });
  for (const r of regionsOfType(input.map, "ram")) {
    const s = r.start;
    const e = rangeEnd(r) < SZ_1M ? rangeEnd(r) : SZ_1M;
    if (e > s) add({ start: s, size: e - s }, E820_TYPE.RAM, "the low 1M (System RAM below 1 MiB)");
  }
  for (const r of regionsOfType(input.map, "acpi")) add(r, E820_TYPE.ACPI, "ACPI tables");
  for (const r of regionsOfType(input.map, "nvs")) add(r, E820_TYPE.NVS, "ACPI Non-volatile Storage");
  for (const r of regionsOfType(input.map, "reserved")) add(r, E820_TYPE.RESERVED, "e820 reserved range");
  if (input.crashLow && input.crashLow.size > 0n) add(input.crashLow, E820_TYPE.RAM, "crashk_low_res");
  // memmap_exclude_ranges: cmem->max_nr_ranges = 3 ("add an extra slot" twice)
  let pieces = crashExcludeMemRange([input.crash], input.elfcorehdr, 3);
  if (input.dmCryptKeys) pieces = crashExcludeMemRange(pieces, input.dmCryptKeys, 3);
  for (const p of pieces) {
    // "If entry is less than a page, skip it"
    if (p.size < page) continue;
    add(p, E820_TYPE.RAM, "crashk_res minus the elfcorehdr");
  }
  for (const r of input.cma ?? []) add(r, E820_TYPE.RAM, "crashk_cma range");
  return { entries: all.slice(0, E820_MAX_ENTRIES_ZEROPAGE), dropped: all.slice(E820_MAX_ENTRIES_ZEROPAGE) };
}

/**
 * What x86_64 does with the first 640 KiB / 1 MiB for a kdump kernel today,
 * and what an x86 crash plan must state.
 *
 * Older kernels (through 5.7) and kexec-tools' kexec_load path copied the
 * first 640 KiB of RAM to a "backup region" inside the crash reservation
 * (`crash_setup_backup_region`, purgatory's `copy_backup_region` with
 * `purgatory_backup_src/dest/sz`, kexec-tools' `BACKUP_SRC_END 0x9ffff`)
 * because the kdump kernel needs low memory to boot and would otherwise
 * overwrite the first kernel's. The kexec_file path no longer does: the
 * first kernel keeps the low 1 MiB out of its own allocations (5.8: reserved
 * when crashkernel= is given; from 5.14 "The entire memory range under 1M is
 * unconditionally reserved at setup_arch()", and `crash_reserve_low_1M()`
 * was removed). So today's plan has **no backup segment** and no backup
 * fields in purgatory: the kdump kernel's e820 simply contains the low 1 MiB
 * System RAM as usable RAM ("Add the low 1M"), and the ELF core header
 * excludes [0, 1 MiB) ("Exclude the low 1M because it is always reserved"),
 * so /proc/vmcore never claims to contain it.
 */
export const X86_KDUMP_LOW_MEMORY = {
  /** The range the kdump kernel gets as RAM and the vmcore omits. */
  lowMemory: { start: 0n, size: SZ_1M } as Range,
  /** No backup region: no segment copies the first 640 KiB. */
  backupRegion: null,
  /** One sentence for a plan's notes. */
  note:
    "x86_64 kdump: no backup region (the first 640 KiB are not copied, as kernels before 5.8 did); the first kernel never allocates the low 1 MiB, so the kdump e820 passes its System RAM as usable and the ELF core header excludes [0, 1 MiB)",
} as const;

/**
 * x86_64 with `CONFIG_CRASH_HOTPLUG`: `crash_load_segments` reserves room
 * for later header rewrites instead of the built size:
 * `pnum = 2 + CONFIG_NR_CPUS_DEFAULT + CONFIG_CRASH_MAX_MEMORY_RANGES` with
 * memory hotplug, else `pnum += 2 + CONFIG_NR_CPUS_DEFAULT` (pnum = the RAM
 * ranges); "if (pnum < (unsigned long)PN_XNUM) { kbuf.memsz = pnum *
 * sizeof(Elf64_Phdr); kbuf.memsz += sizeof(Elf64_Ehdr); ... image->elf_headers_sz
 * = kbuf.memsz; }" — and the elfcorehdr segment is then **excluded from the
 * purgatory digest** (kexec_calculate_store_digests: "if (i ==
 * image->elfcorehdr_index) continue;"). Returns the memsz, or undefined when
 * pnum reaches PN_XNUM (the kernel keeps the built size and logs "number of
 * Phdrs %lu exceeds max").
 */
export function x86HotplugElfcorehdrMemsz(o: { ramRanges: number; nrCpusDefault: number; memoryHotplug: boolean; maxMemoryRanges?: number }): bigint | undefined {
  const pnum = o.memoryHotplug ? 2 + o.nrCpusDefault + (o.maxMemoryRanges ?? 8192) : o.ramRanges + 2 + o.nrCpusDefault;
  if (pnum >= 0xffff) return undefined;
  return BigInt(pnum) * 56n + 64n;
}
