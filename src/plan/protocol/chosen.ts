/**
 * The second kernel's device tree, edited the way drivers/of/kexec.c
 * `of_kexec_alloc_and_setup_fdt` edits the first kernel's, in its order.
 *
 * @module
 */

import {
  addressCells,
  cellsValue,
  deleteProp,
  ensureNode,
  getProp,
  getU64,
  parseFdt,
  serializeFdt,
  setProp,
  setString,
  setU64,
  sizeCells,
  type Fdt,
} from "../../fdt/index.js";
import type { MemoryMap, Range } from "../core/memory.js";
import { kaslrSeed, rngSeed, type Rng } from "../core/random.js";

/** What goes into /chosen. */
export interface ChosenEdits {
  /** The initrd as placed (absent: no initrd). */
  initrd?: { mem: bigint; size: bigint };
  /** The command line (`bootargs`); undefined deletes `bootargs`. */
  cmdline?: string;
  /** Crash kernel: the ELF core header as placed and the usable memory ranges (crashk_res, crashk_low_res). */
  crash?: { elfcorehdr: Range; usable: Range[] };
  /** Where the current DTB sits, to drop its /memreserve/ entry ("Remove memory reservation for the current device tree"). */
  currentDtb?: Range;
  /** The source of `kaslr-seed` and `rng-seed`; absent = "RNG is not initialised": both omitted. */
  rng?: Rng;
  /** Page size, for the kernel's second try at deleting an old initrd reservation. Default 4096. */
  pageSize?: bigint;
}

/**
 * The inputs every device-tree architecture's plan takes (arm64, riscv64,
 * arm, ppc64): the second kernel's tree is derived from the first kernel's.
 */
export interface DtbPlanInputBase {
  /** The kernel, in any wrapped form the arch's plan unwraps. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** The first kernel's device tree, as the firmware handed it over (required: the second kernel's is derived from it). */
  dtb: Uint8Array;
  /** Memory map; default: from the device tree (/memory, /reserved-memory, /memreserve/). */
  memory?: MemoryMap;
  /** Ranges no segment may touch (firmware, the current DTB, a loader's own code). */
  exclude?: Range[];
  /** Where the current DTB sits (its /memreserve/ entry is dropped from the new one). */
  currentDtb?: Range;
}

/** What a device-tree plan (arm64, riscv64) reports in its `bootParams`. */
export interface DtbBootParams {
  /** Where the edited device tree was placed, and its packed size. */
  dtb: { mem: bigint; size: number };
  /** The Image header's `text_offset` (arm64: added to the 2 MiB-aligned base; riscv64: the load alignment). */
  text_offset: bigint;
  /** The Image header's `image_size`. */
  image_size: bigint;
  /** The `ram` regions of the memory map the plan was made for. */
  ram: Range[];
  /** Crash plans: the ELF core header as placed (`linux,elfcorehdr`). */
  elfcorehdr?: { mem: bigint; size: bigint };
  /** Crash plans: `linux,usable-memory-range` (crashk_res, then crashk_low_res). */
  usableMemoryRange?: Range[];
}

/** Deletes the first reservation equal to (address, size); fdt_find_and_del_mem_rsv. */
function delMemRsv(fdt: Fdt, address: bigint, size: bigint): boolean {
  const i = fdt.reservations.findIndex((r) => r.address === address && r.size === size);
  if (i < 0) return false;
  fdt.reservations.splice(i, 1);
  return true;
}

/** fdt_appendprop_addrrange(fdt, 0, chosen, name, addr, size): cells per the root's #address-cells/#size-cells. */
function appendAddrRange(fdt: Fdt, name: string, r: Range): void {
  const chosen = ensureNode(fdt, "/chosen");
  const ac = addressCells(fdt.root);
  const sc = sizeCells(fdt.root);
  const add = new Uint8Array([...cellsValue([r.start], ac), ...cellsValue([r.size], sc)]);
  const old = getProp(chosen, name)?.value ?? new Uint8Array(0);
  setProp(chosen, name, new Uint8Array([...old, ...add]));
}

/**
 * Applies the kernel's /chosen edits to `fdt` (in place) and returns the
 * notes explaining them. Order, as of_kexec_alloc_and_setup_fdt:
 * drop the current DTB's reservation; delete `linux,elfcorehdr` and
 * `linux,usable-memory-range`; drop the old initrd's reservation (exact size,
 * then page-rounded); set or delete `linux,initrd-start`/`-end` (u64) and
 * reserve the new initrd; for a crash kernel add `linux,elfcorehdr` (and its
 * reservation) and `linux,usable-memory-range`; set or delete `bootargs`;
 * delete `kaslr-seed` then set a u64 one; set a 128-byte `rng-seed`; set
 * `linux,booted-from-kexec`.
 */
export function editChosen(fdt: Fdt, e: ChosenEdits): string[] {
  const notes: string[] = [];
  const page = e.pageSize ?? 4096n;
  if (e.currentDtb && delMemRsv(fdt, e.currentDtb.start, e.currentDtb.size)) notes.push("dropped the /memreserve/ of the current device tree");
  const chosen = ensureNode(fdt, "/chosen");
  deleteProp(chosen, "linux,elfcorehdr");
  deleteProp(chosen, "linux,usable-memory-range");

  // "Did we boot using an initrd?"
  const oldStart = getU64(chosen, "linux,initrd-start");
  const oldEnd = getU64(chosen, "linux,initrd-end");
  if (oldStart !== undefined && oldEnd !== undefined) {
    const size = oldEnd - oldStart;
    if (delMemRsv(fdt, oldStart, size) || delMemRsv(fdt, oldStart, ((size + page - 1n) / page) * page)) {
      notes.push(`dropped the old initrd's /memreserve/ at 0x${oldStart.toString(16)}`);
    }
  }
  if (e.initrd) {
    setU64(chosen, "linux,initrd-start", e.initrd.mem);
    setU64(chosen, "linux,initrd-end", e.initrd.mem + e.initrd.size);
    fdt.reservations.push({ address: e.initrd.mem, size: e.initrd.size });
    notes.push(`/chosen linux,initrd-start/-end = 0x${e.initrd.mem.toString(16)}..0x${(e.initrd.mem + e.initrd.size).toString(16)}, reserved with /memreserve/`);
  } else {
    deleteProp(chosen, "linux,initrd-start");
    deleteProp(chosen, "linux,initrd-end");
  }
  if (e.crash) {
    appendAddrRange(fdt, "linux,elfcorehdr", e.crash.elfcorehdr);
    fdt.reservations.push({ address: e.crash.elfcorehdr.start, size: e.crash.elfcorehdr.size });
    for (const r of e.crash.usable) appendAddrRange(fdt, "linux,usable-memory-range", r);
    notes.push("/chosen linux,elfcorehdr and linux,usable-memory-range set for the crash kernel");
  }
  if (e.cmdline !== undefined) setString(chosen, "bootargs", e.cmdline);
  else deleteProp(chosen, "bootargs");
  deleteProp(chosen, "kaslr-seed");
  if (e.rng) {
    setU64(chosen, "kaslr-seed", kaslrSeed(e.rng));
    setProp(chosen, "rng-seed", rngSeed(e.rng));
    notes.push("/chosen kaslr-seed (u64) and rng-seed (128 bytes) drawn from the caller's seed");
  } else {
    // The kernel leaves a stale rng-seed in place when its RNG is not ready; a plan never passes one on.
    deleteProp(chosen, "rng-seed");
    notes.push("no seed given: kaslr-seed and rng-seed omitted (as the kernel does when its RNG is not initialised)");
  }
  setProp(chosen, "linux,booted-from-kexec", new Uint8Array(0));
  return notes;
}

/** Parses `dtb`, applies {@link editChosen}, and packs the result like fdt_pack (a dtc layout). */
export function buildKexecDtb(dtb: Uint8Array, e: ChosenEdits): { bytes: Uint8Array; notes: string[] } {
  const fdt = parseFdt(dtb);
  const notes = editChosen(fdt, e);
  return { bytes: serializeFdt(fdt, { layout: "compact", compactStrings: true }), notes };
}
