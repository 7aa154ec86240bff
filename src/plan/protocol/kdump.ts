/**
 * The crash (kdump) input of the device-tree plans (arm64, riscv64) and the
 * preparation they share before placing anything: the crash region(s), the
 * first kernel's RAM, and the ELF core header `prepare_elf_headers` builds
 * ("ret = crash_prepare_elf64_headers(cmem, true, addr, sz);": both pass
 * `need_kernel_map = true`).
 *
 * What differs per architecture stays a parameter of
 * {@link prepareCrash}: which ranges leave the header (`crashElfRam`), where
 * the first kernel's RAM defaults from, and the `__va` base.
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import { PLAN_LAYER } from "../core/allocator.js";
import { crashElfRam, resolveCrashRegions, type CrashArch } from "../core/crash.js";
import { memoryMap, regionsOfType, type MemoryMap, type Range } from "../core/memory.js";
import { buildElfCoreHeaders, type CoreNoteRange } from "./elfcore.js";

/** What makes a plan a crash (kdump) plan: the same shape for arm64 and riscv64. */
export interface CrashInput {
  /**
   * The crash region(s): `crashk_res`, or `[crashk_res, crashk_low_res]`
   * (`crashkernel=X,high` with `,low`). Default: the memory map's `crash`
   * regions, highest first. Segments go into `crashk_res` only; both are
   * passed on as `linux,usable-memory-range`.
   */
  region?: Range | Range[];
  /** Per-CPU `crash_notes` (physical address, `sizeof(note_buf_t)`: elfcore.ts `CRASH_NOTE_BYTES[arch]`). */
  cpuNotes: CoreNoteRange[];
  /** The vmcoreinfo note (`paddr_vmcoreinfo_note()`, `VMCOREINFO_NOTE_SIZE`). */
  vmcoreinfo: CoreNoteRange;
  /**
   * The first kernel's text PT_LOAD (both pass `need_kernel_map = true`;
   * riscv: `_text`, `__pa_symbol(_text)`, `_end - _text`); omitted when
   * unknown.
   */
  kernelText?: { vaddr: bigint; paddr: bigint; size: bigint };
  /** The first kernel's `PAGE_OFFSET` for `p_vaddr = __va(paddr)`; default elfcore.ts `DEFAULT_PAGE_OFFSET[arch]`. */
  pageOffset?: bigint;
  /**
   * The physical address `PAGE_OFFSET` maps: arm64 `PHYS_OFFSET` (default
   * 0); riscv64 `phys_ram_base` (`__va(x) = x - phys_ram_base +
   * PAGE_OFFSET`), default the lowest first-kernel RAM address rounded down
   * to 2 MiB (6.12's setup_bootmem: "phys_ram_base =
   * memblock_start_of_DRAM() & PMD_MASK;").
   */
  physOffset?: bigint;
  /**
   * The first kernel's RAM, crash regions included: arm64 its memblock
   * memory (`for_each_mem_range`; a reserved range without no-map is still
   * memblock memory: pass this to be exact), riscv64 its "System RAM"
   * (`walk_system_ram_res`). Default: the map's `ram` and `crash` regions
   * merged.
   */
  firstKernelRam?: Range[];
  /** A prebuilt core header to place instead of building one. */
  elfcorehdr?: Uint8Array;
}

/** The per-architecture choices of {@link prepareCrash}. */
export interface CrashPreparation {
  /** Whose rules: `crashElfRam`'s exclusions, the header's `e_machine` and default `PAGE_OFFSET`. */
  arch: CrashArch;
  /**
   * Where the first kernel's RAM defaults from: `"given"` the memory map as
   * passed (arm64), `"resolved"` the map with the crash regions added
   * (riscv64).
   */
  ramFrom: "given" | "resolved";
  /** The `__va` base when the caller gives none (riscv64); absent: the header builder's default. */
  defaultPhysOffset?: (firstKernelRam: readonly Range[]) => bigint;
}

/** The crash part of a plan, ready to place. */
export interface PreparedCrash {
  /** `linux,usable-memory-range`: crashk_res, then crashk_low_res. */
  usable: Range[];
  /** The memory map with the crash region(s) typed `crash`. */
  map: MemoryMap;
  /** The RAM ranges the header describes (the first kernel's RAM minus the excluded crash region(s)). */
  ram: Range[];
  /** The ELF core header bytes (the caller's `elfcorehdr`, or built). */
  headers: Uint8Array;
  /** The `__va` base the header was built with, when one was passed to the builder. */
  physOffset?: bigint;
}

/**
 * Resolves the crash region(s) (at most two: crashk_res, crashk_low_res),
 * computes the RAM the ELF core header describes and builds the header, as
 * prepare_elf_headers does before load_other_segments / load_extra_segments
 * place anything.
 *
 * @throws KimageError `crash-no-region` when there is no crash region,
 *   `bad-argument` for more than two, or the header builder's errors.
 */
export function prepareCrash(map: MemoryMap, c: CrashInput, how: CrashPreparation): PreparedCrash {
  const cr = resolveCrashRegions(map, c.region);
  if (cr.regions.length > 2) throw new KimageError("bad-argument", `${how.arch} has at most two crash regions (crashk_res, crashk_low_res), got ${cr.regions.length}`, { layer: PLAN_LAYER, offset: -1 });
  const crashk = cr.regions[0]!;
  const low = cr.regions[1];
  const from = how.ramFrom === "given" ? map : cr.map;
  const firstRam = c.firstKernelRam ?? regionsOfType(memoryMap(from.regions.filter((r) => r.type === "ram" || r.type === "crash").map((r) => ({ ...r, type: "ram" as const }))), "ram");
  // prepare_elf_headers: the first kernel's RAM, then "Exclude crashkernel region" (per arch: crashElfRam).
  const ram = crashElfRam({ arch: how.arch, ram: firstRam, crash: crashk, ...(low ? { crashLow: low } : {}) });
  const physOffset = c.physOffset ?? how.defaultPhysOffset?.(firstRam);
  const headers =
    c.elfcorehdr ??
    buildElfCoreHeaders({
      arch: how.arch,
      cpuNotes: c.cpuNotes,
      vmcoreinfo: c.vmcoreinfo,
      ram,
      ...(c.kernelText ? { kernelText: c.kernelText } : {}),
      ...(c.pageOffset !== undefined ? { pageOffset: c.pageOffset } : {}),
      ...(physOffset !== undefined ? { physOffset } : {}),
    });
  return { usable: cr.regions, map: cr.map, ram, headers, ...(physOffset !== undefined ? { physOffset } : {}) };
}
