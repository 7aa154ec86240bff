/**
 * The x86_64 crash (kdump) plan, composed as arch/x86/kernel/crash.c and
 * kexec-bzimage64.c compose it for a KEXEC_TYPE_CRASH image:
 *
 * 1. `crash_load_segments`: the ELF core header (crash_prepare_elf64_headers
 *    over System RAM minus the low 1 MiB and crashk_res), placed first,
 *    inside crashk_res ("kbuf.buf_align = ELF_CORE_HEADER_ALIGN", bottom-up);
 * 2. `crash_setup_memmap_entries`: the kdump kernel's e820 (the low 1 MiB,
 *    ACPI and NVS ranges, reserved ranges, the crash region minus the
 *    header);
 * 3. `bzImage64_load` with every segment confined to crashk_res and
 *    "elfcorehdr=0x%lx " written before the command line.
 *
 * Current kernels have no backup region: before 5.8 the first 640 KiB were
 * copied to a backup region in the crash area; since then the first kernel
 * never allocates from the low 1 MiB, so the kdump kernel gets it as RAM
 * (see `X86_KDUMP_LOW_MEMORY`).
 *
 * @module
 */

import { addBuffer } from "../core/allocator.js";
import { crashElfRam, x86CrashE820, X86_KDUMP_LOW_MEMORY } from "../core/crash.js";
import { buildElfCoreHeaders, ELF_CORE_HEADER_ALIGN } from "../protocol/elfcore.js";
import type { CrashInput } from "../protocol/kdump.js";
import { memoryMap, regionsOfType, type Range } from "../core/memory.js";
import { planX86_64, type X86Plan, type X86PlanInput } from "./x86.js";

/**
 * What an x86_64 crash plan needs besides a normal plan's inputs: the
 * shared {@link CrashInput}'s notes and kernel text (per-CPU crash_notes
 * from `/sys/devices/system/cpu/cpuN/crash_notes`, `/sys/kernel/vmcoreinfo`;
 * `pageOffset` defaults to the non-KASLR 4-level value), with the crash
 * regions named one by one.
 */
export interface X86CrashInput extends Pick<CrashInput, "cpuNotes" | "vmcoreinfo" | "kernelText" | "pageOffset"> {
  /** crashk_res. */
  region: Range;
  /** crashk_low_res, when reserved. */
  crashLow?: Range;
}

/**
 * Plans an x86_64 crash kernel: every segment inside `crash.region`, the ELF
 * core header first, the kdump e820, and `elfcorehdr=` on the command line.
 */
export async function planX86_64Crash(input: Omit<X86PlanInput, "crash"> & { crash: X86CrashInput }): Promise<X86Plan> {
  const { crash } = input;
  const page = input.pageSize ?? 4096n;
  const map = memoryMap([...input.memory.regions, { ...crash.region, type: "crash" as const }]);
  const ram = crashElfRam({ arch: "x86_64", ram: regionsOfType(input.memory, "ram"), crash: crash.region, ...(crash.crashLow ? { crashLow: crash.crashLow } : {}) });
  const headers = buildElfCoreHeaders({
    arch: "x86_64",
    cpuNotes: crash.cpuNotes,
    vmcoreinfo: crash.vmcoreinfo,
    ram,
    ...(crash.kernelText ? { kernelText: crash.kernelText } : {}),
    ...(crash.pageOffset !== undefined ? { pageOffset: crash.pageOffset } : {}),
  });
  // crash_load_segments: "kbuf.buf_align = ELF_CORE_HEADER_ALIGN; kbuf.top_down = false" in crashk_res.
  const elf = addBuffer(map, [], { name: "elfcorehdr", bytes: headers, bufAlign: BigInt(ELF_CORE_HEADER_ALIGN), bufMin: 0n, topDown: false }, { pageSize: page, crash: true, exclude: input.exclude ?? [] });
  const e820 = x86CrashE820({ map: input.memory, crash: crash.region, ...(crash.crashLow ? { crashLow: crash.crashLow } : {}), elfcorehdr: { start: elf.mem, size: BigInt(headers.length) }, pageSize: page });
  const plan = await planX86_64({
    ...input,
    memory: map,
    crash: { region: crash.region, segments: [elf], elfcorehdr: elf.mem, e820: e820.entries.map((e) => ({ addr: e.addr, size: e.size, type: e.type })) },
  });
  plan.notes.unshift(
    `ELF core header (${headers.length} bytes: ${crash.cpuNotes.length} CPU note(s), vmcoreinfo, ${ram.length} RAM range(s)) at 0x${elf.mem.toString(16)}, first, inside the crash region`,
    `kdump e820: ${e820.entries.length} entr${e820.entries.length === 1 ? "y" : "ies"} (crash_setup_memmap_entries)${e820.dropped.length ? `, ${e820.dropped.length} dropped` : ""}`,
    X86_KDUMP_LOW_MEMORY.note,
  );
  return plan;
}
