/**
 * The plan table: one row per architecture kimage plans kexec loads for,
 * `{ arch, layer, needs, plan, crash }`. The CLI (`kimage plan --arch`)
 * dispatches through it, and `Plan` / `PlanArch` are derived from it.
 *
 * A new architecture is one module in `plan/arch/` (its `planX`, its
 * `KernelLayer`, its `XPlan = PlanOf<"x", XBootParams>`) and one row here.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { PLAN_LAYER, type HoleSearch } from "./core/allocator.js";
import type { MemoryMap, Range } from "./core/memory.js";
import type { Seed } from "./core/random.js";
import type { AnyPlan } from "./core/types.js";
import type { CrashInput } from "./protocol/kdump.js";
import { ARM_KERNEL, planArm, type ArmPlan } from "./arch/arm.js";
import { LOONGARCH_KERNEL, planLoongarch, type LoongarchPlan } from "./arch/loongarch.js";
import { ARM64_KERNEL, planArm64, type Arm64Plan } from "./arch/arm64.js";
import { planRiscv, RISCV_KERNEL, type RiscvPlan } from "./arch/riscv.js";
import { planX86_64, X86_KERNEL, type X86KernelPurgatory, type X86Plan } from "./arch/x86.js";
import { planX86_64Crash, type X86CrashInput } from "./arch/x86-crash.js";
import { planS390, S390_KERNEL, type S390Plan } from "./arch/s390.js";
import { planPpc64, PPC64_KERNEL, type Ppc64Plan } from "./arch/ppc64.js";

/** What a caller (the CLI) hands any row: the union of what the rows read. */
export interface PlanRequest {
  /** The kernel in any wrapped form: each row unwraps it to its `layer`. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** Ranges no segment may touch. */
  exclude?: Range[];
  /** Seed for randomized placement and the arch's seeds. */
  seed?: Seed;
  /** The first kernel's device tree (rows that need `"dtb"`). */
  dtb?: Uint8Array;
  /** The memory map (required by rows that need `"memory"`; a device-tree row derives it from the tree when absent). */
  memory?: MemoryMap;
  /** The hart that enters the kernel (rows with `hartId`). */
  hartId?: bigint;
  /** x86_64: the loading kernel's own purgatory, kept free where kexec_file_load would put it (`X86PlanInput.kernelPurgatory`). */
  kernelPurgatory?: X86KernelPurgatory;
  /** x86_64: the loading kernel's version of the hole search (`X86PlanInput.search`). */
  search?: HoleSearch;
  /** arm64: the loading kernel's RNG is ready, so the DTB carries kaslr-seed and rng-seed drawn from this seed; the placement stays deterministic (`Arm64PlanInput.dtbSeed`). */
  dtbSeed?: Seed;
  /** x86_64: `efi_get_runtime_map_size()` of an EFI-booted loading kernel (boot_params grows by it; `BootParamsConfig.efiMapSize`). */
  efiMapSize?: number;
  /** ppc64: the running kernel's `__pa(_end)`; every segment goes above it, for `kexec_load(2)` (`Ppc64PlanInput.loadAbove`). */
  loadAbove?: bigint;
}

/** One row of the plan table. */
export interface PlanTableRow<P extends AnyPlan = AnyPlan> {
  /** The architecture: `--arch`, and the plan's `arch`. */
  arch: P["arch"];
  /** The format id of the layer the plan boots (the kernel is unwrapped to it). */
  layer: string;
  /**
   * What the plan needs besides the kernel, and why (for the usage
   * message): the first kernel's device tree, or a memory map.
   */
  needs: { input: "dtb" | "memory"; why: string };
  /** The plan reads `PlanRequest.hartId` (`--hart-id`). */
  hartId?: boolean;
  /**
   * A normal plan.
   * @throws KimageError `bad-argument` when the request lacks what `needs` names, or the arch plan's errors.
   */
  plan(request: PlanRequest): Promise<P>;
  /**
   * A crash (kdump) plan; absent when the arch has none.
   * @throws KimageError `bad-argument` when the request lacks what `needs` names, or the arch plan's errors.
   */
  crash?(request: PlanRequest, crash: CrashInput): Promise<P>;
}

function need<T>(value: T | undefined, arch: string, what: string): T {
  if (value === undefined) throw new KimageError("bad-argument", `a ${arch} plan needs ${what}`, { layer: PLAN_LAYER, offset: -1 });
  return value;
}

/** The x86_64 crash regions from the shared crash input: crashk_res, then crashk_low_res. */
function x86CrashRegions(c: CrashInput): Pick<X86CrashInput, "region" | "crashLow"> {
  if (c.region !== undefined && !Array.isArray(c.region)) return { region: c.region };
  const [region, crashLow, ...more] = c.region ?? [];
  if (!region || more.length > 0) throw new KimageError("bad-argument", "an x86_64 crash plan needs crashk_res (and at most crashk_low_res)", { layer: PLAN_LAYER, offset: -1 });
  return { region, ...(crashLow ? { crashLow } : {}) };
}

const ARM64_ROW: PlanTableRow<Arm64Plan> = {
  arch: "arm64",
  layer: ARM64_KERNEL.format,
  needs: { input: "dtb", why: "the first kernel's device tree" },
  plan: (r) => planArm64({ ...r, dtb: need(r.dtb, "arm64", "the first kernel's device tree") }),
  crash: (r, crash) => planArm64({ ...r, dtb: need(r.dtb, "arm64", "the first kernel's device tree"), crash }),
};

const RISCV_ROW: PlanTableRow<RiscvPlan> = {
  arch: "riscv64",
  layer: RISCV_KERNEL.format,
  needs: { input: "dtb", why: "the first kernel's device tree" },
  hartId: true,
  plan: (r) => planRiscv({ ...r, dtb: need(r.dtb, "riscv64", "the first kernel's device tree") }),
  crash: (r, crash) => planRiscv({ ...r, dtb: need(r.dtb, "riscv64", "the first kernel's device tree"), crash }),
};

const X86_ROW: PlanTableRow<X86Plan> = {
  arch: "x86_64",
  layer: X86_KERNEL.format,
  needs: { input: "memory", why: "its e820 comes from it" },
  plan: (r) => planX86_64({ ...r, memory: need(r.memory, "x86_64", "a memory map"), ...(r.efiMapSize ? { bootParamsConfig: { efiMapSize: r.efiMapSize } } : {}) }),
  crash: (r, c) =>
    planX86_64Crash({
      ...r,
      memory: need(r.memory, "x86_64", "a memory map"),
      crash: {
        ...x86CrashRegions(c),
        vmcoreinfo: c.vmcoreinfo,
        cpuNotes: c.cpuNotes,
        ...(c.kernelText ? { kernelText: c.kernelText } : {}),
        ...(c.pageOffset !== undefined ? { pageOffset: c.pageOffset } : {}),
      },
    }),
};

const ARM_ROW: PlanTableRow<ArmPlan> = {
  arch: "arm",
  layer: ARM_KERNEL.format,
  needs: { input: "dtb", why: "the first kernel's device tree" },
  plan: (r) => planArm({ ...r, dtb: need(r.dtb, "arm", "the first kernel's device tree") }),
};

const LOONGARCH_ROW: PlanTableRow<LoongarchPlan> = {
  arch: "loongarch64",
  layer: LOONGARCH_KERNEL.format,
  needs: { input: "memory", why: "the first kernel's memory map" },
  plan: (r) => planLoongarch({ ...r, memory: need(r.memory, "loongarch64", "a memory map") }),
};

const S390_ROW: PlanTableRow<S390Plan> = {
  arch: "s390x",
  layer: S390_KERNEL.format,
  needs: { input: "memory", why: "its RAM, from 0" },
  plan: (r) => planS390({ ...r, memory: need(r.memory, "s390x", "a memory map") }),
};

const PPC64_ROW: PlanTableRow<Ppc64Plan> = {
  arch: "ppc64",
  layer: PPC64_KERNEL.format,
  needs: { input: "dtb", why: "the first kernel's device tree" },
  plan: (r) => planPpc64({ ...r, dtb: need(r.dtb, "ppc64", "the first kernel's device tree") }),
};

/** The plan table, in `--arch` order. */
export const PLAN_TABLE = [ARM64_ROW, RISCV_ROW, X86_ROW, ARM_ROW, LOONGARCH_ROW, S390_ROW, PPC64_ROW] as const;

/** A plan of one of the table's architectures, discriminated by `arch` (its `bootParams` typed per arch). */
export type Plan = Awaited<ReturnType<(typeof PLAN_TABLE)[number]["plan"]>>;

/** The architectures of the plan table. */
export type PlanArch = Plan["arch"];

/** The row for `arch` (the first one when several match), or undefined. */
export function planTableRow(arch: string): (typeof PLAN_TABLE)[number] | undefined {
  return PLAN_TABLE.find((row) => row.arch === arch);
}
