/**
 * memblock's view of memory, as the kernel prints it in
 * /sys/kernel/debug/memblock/{memory,reserved}: the map `kexec_file_load`
 * walks on architectures that keep memblock (arm64, riscv64:
 * `CONFIG_ARCH_KEEP_MEMBLOCK`), instead of /proc/iomem.
 *
 * kernel/kexec_file.c `kexec_walk_memblock`:
 *
 * ```
 * if (kbuf->top_down) {
 *   for_each_free_mem_range_reverse(i, NUMA_NO_NODE, MEMBLOCK_NONE, &mstart, &mend, NULL) {
 *     // In memblock, end points to the first byte after the range while in kexec, end points to the last byte in the range.
 *     res.start = mstart; res.end = mend - 1;
 * ```
 *
 * A free range is memory minus reserved. With `MEMBLOCK_NONE`,
 * mm/memblock.c `should_skip_region` skips memory flagged `NOMAP` ("skip
 * nomap memory unless we were asked for it explicitly") and
 * `DRIVER_MANAGED`; `HOTPLUG` is skipped only with `movable_node`, which a
 * caller states. The difference from /proc/iomem is what moves placements:
 * the running kernel's image is reserved here (iomem shows it as System
 * RAM), while the first kernel's initramfs, still "reserved" in iomem, is
 * already free here once it was unpacked.
 *
 * The lines (mm/memblock.c `memblock_debug_show`): `seq_printf(m, "%4d: ",
 * i); seq_printf(m, "%pa..%pa ", &reg->base, &end);` with `end = reg->base +
 * reg->size - 1`, then (6.3+) the node (`"%4d "`, or `x`) and the first flag
 * name or `NONE`. 6.1 prints only index and range.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { ADDRESS_LIMIT, MEMORY_LAYER, memoryMap, type MemoryMap } from "./memory.js";

/** One line of a memblock debugfs file. */
export interface MemblockRegion {
  base: bigint;
  /** Inclusive end, as printed. */
  end: bigint;
  /** The node (undefined when not printed, or `x`). */
  nid?: number;
  /** The flag name (`NONE`, `HOTPLUG`, `MIRROR`, `NOMAP`, `DRV_MNG`, `RSRV_NOINIT`, …); `NONE` when not printed. */
  flags: string;
}

/** Limits of {@link parseMemblock}. */
export interface MemblockLimits {
  /** Most lines (default 100 000; memblock's own arrays start at 128 entries and grow). */
  maxLines: number;
  /** Longest line (default 256). */
  maxLineLength: number;
}

const LINE = /^\s*(\d+): 0x([0-9a-fA-F]{1,16})\.\.0x([0-9a-fA-F]{1,16})(?:\s+(\d+|x))?(?:\s+([A-Z_]+))?\s*$/;

/**
 * Parses one memblock debugfs file.
 *
 * @throws KimageError `memory-bad-syntax` (a line that is not memblock's, at
 *   its byte offset), `memory-bad-range` (end before base), `limit`.
 */
export function parseMemblock(text: string, limits: Partial<MemblockLimits> = {}): MemblockRegion[] {
  const lim: MemblockLimits = { maxLines: 100_000, maxLineLength: 256, ...limits };
  const out: MemblockRegion[] = [];
  let pos = 0;
  let lines = 0;
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const at = pos;
    const raw = text.slice(pos, Math.min(nl, pos + lim.maxLineLength + 1));
    pos = nl + 1;
    if (raw.trim() === "") continue;
    if (++lines > lim.maxLines) throw new KimageError("limit", `memblock: more than ${lim.maxLines} lines`, { layer: MEMORY_LAYER, offset: at });
    if (raw.length > lim.maxLineLength) throw new KimageError("limit", `memblock: a line longer than ${lim.maxLineLength} characters`, { layer: MEMORY_LAYER, offset: at });
    const m = LINE.exec(raw);
    if (!m) throw new KimageError("memory-bad-syntax", `memblock: not "N: 0xBASE..0xEND [NID FLAGS]": ${JSON.stringify(raw.slice(0, 80))}`, { layer: MEMORY_LAYER, offset: at });
    const base = BigInt(`0x${m[2]!}`);
    const end = BigInt(`0x${m[3]!}`);
    if (end < base) throw new KimageError("memory-bad-range", `memblock: end ${hex(end)} before base ${hex(base)}`, { layer: MEMORY_LAYER, offset: at });
    out.push({ base, end, ...(m[4] !== undefined && m[4] !== "x" ? { nid: Number(m[4]) } : {}), flags: m[5] ?? "NONE" });
  }
  return out;
}

/** Options of {@link memoryMapFromMemblock}. */
export interface MemblockMapOptions {
  /** The running kernel was booted with `movable_node`: `HOTPLUG` memory is skipped too. */
  movableNode?: boolean;
  /** Limits for each file. */
  limits?: Partial<MemblockLimits>;
}

/**
 * The memory map `kexec_walk_memblock` offers a normal image: memblock's
 * `memory` regions it does not skip, as `ram`, with every `reserved` region
 * (and skipped memory) as `reserved`. Its `ram` ranges are then exactly
 * `for_each_free_mem_range(…, MEMBLOCK_NONE, …)`.
 *
 * @throws KimageError as {@link parseMemblock}.
 */
export function memoryMapFromMemblock(memory: string, reserved: string, options: MemblockMapOptions = {}): MemoryMap {
  const skip = (flags: string) => flags === "NOMAP" || flags === "DRV_MNG" || (flags === "HOTPLUG" && options.movableNode === true);
  const size = (r: MemblockRegion) => (r.end + 1n > ADDRESS_LIMIT ? ADDRESS_LIMIT - r.base : r.end + 1n - r.base);
  const entries = [
    ...parseMemblock(memory, options.limits).map((r) => ({ start: r.base, size: size(r), type: skip(r.flags) ? ("reserved" as const) : ("ram" as const) })),
    ...parseMemblock(reserved, options.limits).map((r) => ({ start: r.base, size: size(r), type: "reserved" as const })),
  ];
  return memoryMap(entries);
}
