/**
 * A plan that a `kexec_load(2)` loader can carry out as it stands: the plan's
 * segments plus kimage's purgatory, whose parameter block holds the plan's
 * digest ({@link planDigest}), its regions, the kernel entry and a console.
 * `entry.pc` becomes the purgatory's entry; the kernel's own entry state
 * (what the purgatory will set) is kept in `purgatory.kernelEntry`.
 *
 * Placement: the purgatory goes after the plan's segments (their addresses
 * and the digest do not change), top-down in RAM (kexec_load_purgatory:
 * `kbuf.buf_max = ULONG_MAX; kbuf.top_down = true;`), above 0x3000 on x86
 * (kexec-bzimage64.c `#define MIN_PURGATORY_ADDR 0x3000`), on ppc64 below
 * the RMA (it runs in real mode) and at or above the plan's `loadAbove`, in
 * 64 KiB pages, inside the crash region for a crash plan; `memsz` is the
 * blob's `image_memsz` (its stack) page-rounded.
 *
 * @module
 */

import { hex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { parseFdt } from "../fdt/parse.js";
import type { HashProvider } from "../hash/index.js";
import { addBuffer, PLAN_LAYER } from "./core/allocator.js";
import { planDigest, type PlanDigest } from "./core/digest.js";
import type { MemoryMap, Range, Segment } from "./core/memory.js";
import { memoryMapFromFdt } from "./core/memory-parse.js";
import type { AnyPlan, EntryState } from "./core/types.js";
import { parsePurgatoryHeader, patchPurgatory, purgatoryBlob, type PurgatoryConsole } from "./protocol/purgatory.js";
import { purgatoryConsoleFromDtb, X86_COM1_PORT } from "./protocol/purgatory-console.js";
import { MIN_PURGATORY_ADDR } from "./arch/x86.js";
import { PPC64_PAGE_SIZE, type Ppc64BootParams } from "./arch/ppc64.js";

/** The segment name of the purgatory ({@link planDigest} skips it, as the kernel does). */
export const PURGATORY_SEGMENT = "purgatory";

/** Options of {@link withPurgatory}. */
export interface PurgatoryOptions {
  /** The memory map the plan was made for (x86_64); a device-tree arch derives it from `dtb` when absent. */
  memory?: MemoryMap;
  /** The first kernel's device tree (arm64, riscv64, ppc64): the memory map and the console's `stdout-path`. */
  dtb?: Uint8Array;
  /** Ranges the purgatory must not touch (the plan's `exclude`). */
  exclude?: readonly Range[];
  /**
   * Where the mismatch line goes: `"auto"` (default: COM1 0x3f8 on x86_64,
   * the DTB's `stdout-path` on arm64/riscv64/ppc64, none if it names no known
   * UART or hvterm), `"none"`, or an explicit console.
   */
  console?: PurgatoryConsole | "auto" | "none";
  /** Hash provider for the digest. */
  hash?: HashProvider;
}

/** What {@link withPurgatory} adds to a plan. */
export interface PurgatoryInfo {
  /** The purgatory segment's address. */
  mem: bigint;
  /** Its `entry_offset`: `entry.pc = mem + entryOffset`. */
  entryOffset: bigint;
  /** The entry state the purgatory sets before it jumps to the kernel (the plan's entry without purgatory). */
  kernelEntry: EntryState;
  /** The console it writes the mismatch line to, or null. */
  console: PurgatoryConsole | null;
  /** The digest and regions it checks. */
  digest: PlanDigest;
}

/** A plan with kimage's purgatory as its last segment. */
export type PurgatoryPlan<P extends AnyPlan = AnyPlan> = P & { purgatory: PurgatoryInfo };

function fail(message: string): never {
  throw new KimageError("bad-argument", message, { layer: PLAN_LAYER, offset: -1 });
}

/** The entry registers the purgatory sets, per architecture (`arg0`, `arg1`). */
function entryArgs(plan: AnyPlan): { arg0: bigint; arg1: bigint } {
  const r = plan.entry.registers;
  const need = (name: string): bigint => r[name] ?? fail(`${plan.arch} plan: the entry state has no ${name}`);
  switch (plan.arch) {
    case "x86_64":
      // kexec-bzimage64.c: "regs64.rsi = bootparam_load_addr;" "regs64.rbx = 0;"
      return { arg0: need("rsi"), arg1: 0n };
    case "arm64":
      // booting.rst: "x0 = physical address of device tree blob (dtb) in system RAM", x1..x3 = 0
      return { arg0: need("x0"), arg1: 0n };
    case "riscv64":
      // kexec_relocate.S: "mv a0, s3" (hart id), "mv a1, s2" (the DTB)
      return { arg0: need("a0"), arg1: need("a1") };
    case "ppc64":
      // kexec-tools v2wrap.S: "kernel(device-tree, phys-offset, 0)"; the blob sets r5 = 0 itself, so the plan's must be 0.
      if (need("r5") !== 0n) fail("ppc64 plan: r5 must be 0 (no Open Firmware client interface)");
      return { arg0: need("r3"), arg1: need("r4") };
    default:
      return fail(`kimage has no purgatory for ${plan.arch}`);
  }
}

/**
 * Where an arch's purgatory may go: x86 above 0x3000 (kexec-bzimage64.c
 * `#define MIN_PURGATORY_ADDR 0x3000`); ppc64 below the RMA (it runs in real
 * mode: elf64_load's ".buf_max = ppc64_rma_size") and at or above the plan's
 * `loadAbove` (machine_kexec_prepare's -ETXTBSY rule).
 */
function archLimits(plan: AnyPlan): { bufMin?: bigint; bufMax?: bigint } {
  if (plan.arch === "x86_64") return { bufMin: MIN_PURGATORY_ADDR };
  if (plan.arch === "ppc64") {
    const b = plan.bootParams as Partial<Ppc64BootParams>;
    return { ...(b.loadAbove !== undefined ? { bufMin: b.loadAbove } : {}), ...(b.rmaSize !== undefined ? { bufMax: b.rmaSize - 1n } : {}) };
  }
  return {};
}

function chooseConsole(plan: AnyPlan, o: PurgatoryOptions): PurgatoryConsole | null {
  const c = o.console ?? "auto";
  if (c === "none") return null;
  if (c !== "auto") return c;
  if (plan.arch === "x86_64") return { kind: "x86-pio", addr: X86_COM1_PORT };
  return o.dtb ? (purgatoryConsoleFromDtb(o.dtb) ?? null) : null;
}

/**
 * Adds kimage's purgatory to `plan`: computes the plan's digest, patches a
 * copy of the arch's blob with it, places the blob and makes it the entry.
 *
 * @throws KimageError `bad-argument` when the plan already has a purgatory,
 *   has no memory map to place it in, or lacks an entry register;
 *   `unsupported` for an arch without a blob; `plan-no-hole` / `limit` from
 *   the allocator.
 */
export async function withPurgatory<P extends AnyPlan>(plan: P, o: PurgatoryOptions = {}): Promise<PurgatoryPlan<P>> {
  if (plan.segments.some((s) => s.name === PURGATORY_SEGMENT)) fail(`the plan already has a "${PURGATORY_SEGMENT}" segment`);
  const { arg0, arg1 } = entryArgs(plan);
  const blob = purgatoryBlob(plan.arch);
  const header = parsePurgatoryHeader(blob);
  const map = o.memory ?? (o.dtb ? memoryMapFromFdt(parseFdt(o.dtb)) : fail(`a ${plan.arch} purgatory needs the plan's memory map or device tree`));
  const digest = await planDigest(plan, o.hash ? { hash: o.hash } : {});
  const console = chooseConsole(plan, o);
  const bytes = patchPurgatory(blob, {
    sha256: digest.digest,
    regions: digest.regions,
    entry: plan.entry.pc,
    arg0,
    arg1,
    ...(console ? { console } : {}),
  });
  const crash = plan.kind === "crash";
  const seg: Segment = addBuffer(
    map,
    plan.segments,
    { name: PURGATORY_SEGMENT, bytes, memsz: header.image_memsz, bufAlign: 16n, topDown: true, ...archLimits(plan) },
    { exclude: o.exclude ?? [], ...(crash ? { crash: true } : {}), ...(plan.arch === "ppc64" ? { pageSize: PPC64_PAGE_SIZE } : {}) },
  );
  const pc = seg.mem + header.entry_offset;
  const consoleNote = console ? `${console.kind} at ${hex(console.addr)}${console.shift ? ` (reg-shift ${console.shift})` : ""}` : "no console (it stops silently)";
  return {
    ...plan,
    segments: [...plan.segments, seg],
    entry: { pc, registers: {} },
    notes: [
      ...plan.notes,
      `purgatory: kimage's ${plan.arch} purgatory (${bytes.length} bytes, memsz ${hex(seg.memsz)}) at ${hex(seg.mem)}, top-down after the plan's segments; entry.pc = ${hex(pc)}; it checks SHA-256 ${digest.hex} over ${digest.regions.length} region(s), then enters the kernel at ${hex(plan.entry.pc)}; on a mismatch it writes "kimage purgatory: digest mismatch" to ${consoleNote} and stops`,
    ],
    purgatory: { mem: seg.mem, entryOffset: header.entry_offset, kernelEntry: plan.entry, console, digest },
  };
}
