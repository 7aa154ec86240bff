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
 * This floor knows no architecture: each arch module (`plan/arch/`) names
 * its plan `PlanOf<"its-arch", ItsBootParams>`, and the plan table
 * (`plan/table.ts`) makes `Plan`, the union of the table's plans.
 *
 * @module
 */

import type { Segment } from "./memory.js";

/** The CPU state at entry. */
export interface EntryState {
  /** Program counter (arm64, riscv64) or rip/eip (x86). */
  pc: bigint;
  /** Register values by the architecture's names (`x0`, `a1`, `rsi`, …). */
  registers: Record<string, bigint>;
}

/**
 * The plan of one architecture: `A` is its `arch` (the discriminant of
 * `Plan`), `B` what it reports in `bootParams`.
 */
export interface PlanOf<A extends string, B> {
  arch: A;
  /** `normal`, or `crash` for a crash-kernel (kdump) plan. */
  kind: "normal" | "crash";
  /** Segments in the kernel's order. */
  segments: Segment[];
  /** How to enter the kernel. */
  entry: EntryState;
  /** The command line the second kernel gets. */
  cmdline: string;
  /** Architecture-specific boot parameters (the edited DTB, boot_params, …), JSON-ready where possible. */
  bootParams: B;
  /** One sentence per decision, in order. */
  notes: string[];
}

/** A plan of any architecture, as arch-blind code (the digest, the JSON view) reads it. */
export type AnyPlan = PlanOf<string, unknown>;
