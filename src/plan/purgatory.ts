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
 * s390x enters its purgatory as the kernel's kexec_file does
 * (arch/s390/kernel/machine_kexec_file.c `kexec_file_add_components`): "if
 * (data.kernel_mem == 0) { unsigned long restart_psw = 0x0008000080000000UL;
 * restart_psw += image->start; memcpy(data.kernel_buf, &restart_psw,
 * sizeof(restart_psw)); image->start = 0; }". The kernel segment's first 8
 * bytes become a restart PSW to the purgatory and `entry.pc` becomes 0, so
 * relocate_kernel.S leaves absolute 0 alone ("cghi %r3,0; je .diag") and its
 * "diag %r0,%r0,0x308" starts the purgatory; the digest covers the patched
 * PSW. The purgatory then writes the kernel's PSW (STARTUP_NORMAL_OFFSET) at
 * 0 and resets again. The PSW's address is 31 bits: the blob goes below
 * 2 GiB.
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
import { S390_RESTART_PSW_MASK } from "./arch/s390.js";
import { PPC64_PAGE_SIZE, type Ppc64BootParams } from "./arch/ppc64.js";

/** The highest last byte an s390x purgatory may have: the restart PSW's address field is 31 bits (`0x0008000080000000` + address). */
export const S390_PURGATORY_MAX = 0x7fffffffn;

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
    case "s390x":
      // s390.ts: "The s390 entry takes no register arguments: everything is in the parmarea."
      return { arg0: 0n, arg1: 0n };
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
 * `loadAbove` (machine_kexec_prepare's -ETXTBSY rule); s390x below 2 GiB
 * (the restart PSW's 31-bit address).
 */
function archLimits(plan: AnyPlan): { bufMin?: bigint; bufMax?: bigint } {
  if (plan.arch === "x86_64") return { bufMin: MIN_PURGATORY_ADDR };
  if (plan.arch === "s390x") return { bufMax: S390_PURGATORY_MAX };
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
  // every s390 machine has the SCLP; its ASCII console is what QEMU's -serial and the kernel's sclp_vt220 use
  if (plan.arch === "s390x") return { kind: "sclp", addr: 0n };
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
  const crash = plan.kind === "crash";
  const s390 = plan.arch === "s390x";
  // Placed first (the blob's size does not change when it is patched), so that s390x can point its restart PSW at it.
  const seg: Segment = addBuffer(
    map,
    plan.segments,
    { name: PURGATORY_SEGMENT, bytes: blob, memsz: header.image_memsz, bufAlign: 16n, topDown: true, ...archLimits(plan) },
    { exclude: o.exclude ?? [], ...(crash ? { crash: true } : {}), ...(plan.arch === "ppc64" ? { pageSize: PPC64_PAGE_SIZE } : {}) },
  );
  const pc = seg.mem + header.entry_offset;
  let segments = plan.segments;
  let s390Psw: bigint | null = null;
  if (s390) {
    if (crash) fail("an s390x crash plan cannot carry kimage's purgatory: the kernel's swaps the crash region with 0 first (head.S), kimage's does not");
    // "if (data.kernel_mem == 0) { ... restart_psw += image->start; memcpy(data.kernel_buf, &restart_psw, sizeof(restart_psw)); image->start = 0; }"
    const k = plan.segments.findIndex((s) => s.mem === 0n);
    const kernel = plan.segments[k];
    if (!kernel || kernel.bytes.length < 8) fail("an s390x plan needs its kernel segment at 0 (at least 8 bytes) to hold the restart PSW");
    s390Psw = S390_RESTART_PSW_MASK + pc;
    const bytes = kernel.bytes.slice();
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(0, s390Psw, false);
    segments = plan.segments.map((s, i) => (i === k ? { ...s, bytes } : s));
  }
  const digest = await planDigest({ ...plan, segments }, o.hash ? { hash: o.hash } : {});
  const console = chooseConsole(plan, o);
  const bytes = patchPurgatory(blob, {
    sha256: digest.digest,
    regions: digest.regions,
    entry: plan.entry.pc,
    arg0,
    arg1,
    ...(console ? { console } : {}),
  });
  const consoleNote = !console
    ? "no console (it stops silently)"
    : console.kind === "sclp"
      ? "the SCLP's ASCII console"
      : `${console.kind} at ${hex(console.addr)}${console.shift ? ` (reg-shift ${console.shift})` : ""}`;
  return {
    ...plan,
    segments: [...segments, { ...seg, bytes }],
    // s390x: "image->start = 0;" — the restart PSW at 0 is the entry
    entry: { pc: s390 ? 0n : pc, registers: {} },
    ...(s390Psw !== null ? { bootParams: { ...(plan.bootParams as object), restartPsw: s390Psw } } : {}),
    notes: [
      ...plan.notes,
      `purgatory: kimage's ${plan.arch} purgatory (${bytes.length} bytes, memsz ${hex(seg.memsz)}) at ${hex(seg.mem)}, top-down after the plan's segments; ${s390Psw !== null ? `restart PSW 0x${s390Psw.toString(16).padStart(16, "0")} written at 0 (entry.pc 0: relocate_kernel's diag 0x308 loads it)` : `entry.pc = ${hex(pc)}`}; it checks SHA-256 ${digest.hex} over ${digest.regions.length} region(s), then enters the kernel at ${hex(plan.entry.pc)}; on a mismatch it writes "kimage purgatory: digest mismatch" to ${consoleNote} and stops${s390 ? " in a disabled wait (PSW address 0x4b494d47)" : ""}`,
    ],
    purgatory: { mem: seg.mem, entryOffset: header.entry_offset, kernelEntry: plan.entry, console, digest },
  };
}
