/**
 * A placement plan: where every byte goes and how to enter the kernel, as
 * kexec_file_load would decide it, plus the reasons for each decision.
 *
 * Invariants of a plan returned by kimage: segments are in the order the
 * kernel adds them, page-aligned, pairwise disjoint and inside the RAM of
 * the memory map the plan was made for (checked with `checkSegments` before
 * a plan is returned); `bytes.length <= memsz`; the rest of `memsz` is zero
 * fill.
 *
 * @module
 */

import type { Segment } from "./memory.js";

/** Architectures kimage plans for. */
export type PlanArch = "arm64" | "riscv64" | "x86_64";

/** The CPU state at entry. */
export interface EntryState {
  /** Program counter (arm64, riscv64) or rip/eip (x86). */
  pc: bigint;
  /** Register values by the architecture's names (`x0`, `a1`, `rsi`, …). */
  registers: Record<string, bigint>;
}

/** A plan. */
export interface Plan {
  arch: PlanArch;
  /** `normal`, or `crash` for a crash-kernel (kdump) plan. */
  kind: "normal" | "crash";
  /** Segments in the kernel's order. */
  segments: Segment[];
  /** How to enter the kernel. */
  entry: EntryState;
  /** The command line the second kernel gets. */
  cmdline: string;
  /** Architecture-specific boot parameters (the edited DTB, boot_params, …), JSON-ready where possible. */
  bootParams: Record<string, unknown>;
  /** One sentence per decision, in order. */
  notes: string[];
}
