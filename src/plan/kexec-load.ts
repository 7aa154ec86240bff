/**
 * What `kexec_load(2)` takes, from a plan:
 *
 * ```
 * long kexec_load(unsigned long entry, unsigned long nr_segments,
 *                 struct kexec_segment *segments, unsigned long flags);
 * struct kexec_segment { const void *buf; size_t bufsz; const void *mem; size_t memsz; };
 * ```
 *
 * The kernel's checks (kernel/kexec_core.c `sanity_check_segment_list`):
 * "if ((mstart & ~PAGE_MASK) || (mend & ~PAGE_MASK)) return -EADDRNOTAVAIL;"
 * (mem and mem + memsz page-aligned), "if (image->segment[i].bufsz >
 * image->segment[i].memsz) return -EINVAL;", no overlap, at most
 * KEXEC_SEGMENT_MAX (16); kernel/kexec.c: "if ((flags & KEXEC_ARCH_MASK) !=
 * KEXEC_ARCH && ((flags & KEXEC_ARCH_MASK) != KEXEC_ARCH_DEFAULT)) return
 * -EINVAL;". The flags (include/uapi/linux/kexec.h): `KEXEC_ON_CRASH
 * 0x00000001`, `KEXEC_ARCH_X86_64 (62 << 16)`, `KEXEC_ARCH_AARCH64 (183 <<
 * 16)`, `KEXEC_ARCH_RISCV (243 << 16)`, `KEXEC_ARCH_ARM (40 << 16)`,
 * `KEXEC_ARCH_LOONGARCH (258 << 16)`, `KEXEC_ARCH_S390 (22 << 16)`,
 * `KEXEC_ARCH_PPC64 (21 << 16)`.
 *
 * @module
 */

import { hex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { PLAN_LAYER } from "./core/allocator.js";
import { DEFAULT_PAGE_SIZE, KEXEC_SEGMENT_MAX } from "./core/memory.js";
import type { AnyPlan } from "./core/types.js";

/** include/uapi/linux/kexec.h: `#define KEXEC_ON_CRASH 0x00000001`. */
export const KEXEC_ON_CRASH = 0x00000001;
/** include/uapi/linux/kexec.h: `#define KEXEC_ARCH_MASK 0xffff0000`. */
export const KEXEC_ARCH_MASK = 0xffff0000;
/** include/uapi/linux/kexec.h: the `KEXEC_ARCH_*` values (`EM_*` << 16) of the plan table's arches. */
export const KEXEC_ARCH: Readonly<Record<string, { name: string; value: number }>> = {
  x86_64: { name: "KEXEC_ARCH_X86_64", value: 62 << 16 },
  arm64: { name: "KEXEC_ARCH_AARCH64", value: 183 << 16 },
  riscv64: { name: "KEXEC_ARCH_RISCV", value: 243 << 16 },
  arm: { name: "KEXEC_ARCH_ARM", value: 40 << 16 },
  loongarch64: { name: "KEXEC_ARCH_LOONGARCH", value: 258 << 16 },
  s390x: { name: "KEXEC_ARCH_S390", value: 22 << 16 },
  ppc64: { name: "KEXEC_ARCH_PPC64", value: 21 << 16 },
};

/** One `struct kexec_segment`, with the file that holds `buf`. */
export interface KexecLoadSegment {
  /** The segment's name in the plan. */
  name: string;
  /** The file holding `buf` (relative to plan.json), when written. */
  file?: string;
  bufsz: bigint;
  mem: bigint;
  memsz: bigint;
}

/** The arguments of one `kexec_load(2)` call. */
export interface KexecLoadCall {
  entry: bigint;
  nr_segments: number;
  segments: KexecLoadSegment[];
  /** `KEXEC_ARCH_* | (crash ? KEXEC_ON_CRASH : 0)`. */
  flags: number;
  /** The flags by name, e.g. `["KEXEC_ARCH_X86_64", "KEXEC_ON_CRASH"]`. */
  flagNames: string[];
}

/**
 * The `kexec_load(2)` arguments for `plan` (its segments in order,
 * `entry.pc` as the entry). The plan should carry a purgatory
 * (`withPurgatory`): without one the entry is the kernel's and nobody sets
 * its registers.
 *
 * @throws KimageError `bad-argument` when a segment breaks a
 *   `sanity_check_segment_list` rule (unaligned mem/memsz, bufsz > memsz),
 *   `limit` beyond 16 segments, `unsupported` for an arch with no
 *   `KEXEC_ARCH_*` here.
 */
export function kexecLoadCall(plan: AnyPlan, files?: readonly string[], pageSize: bigint = DEFAULT_PAGE_SIZE): KexecLoadCall {
  const arch = KEXEC_ARCH[plan.arch];
  if (!arch) throw new KimageError("unsupported", `no KEXEC_ARCH_* value for ${plan.arch}`, { layer: PLAN_LAYER, offset: -1 });
  if (plan.segments.length > KEXEC_SEGMENT_MAX) {
    throw new KimageError("limit", `${plan.segments.length} segments exceed KEXEC_SEGMENT_MAX (${KEXEC_SEGMENT_MAX})`, { layer: PLAN_LAYER, offset: -1 });
  }
  const segments = plan.segments.map((s, i) => {
    const bufsz = BigInt(s.bytes.length);
    if (s.mem % pageSize !== 0n || s.memsz % pageSize !== 0n) {
      throw new KimageError("bad-argument", `${s.name}: mem ${hex(s.mem)} / memsz ${hex(s.memsz)} not page-aligned (kexec_load: -EADDRNOTAVAIL)`, { layer: PLAN_LAYER, offset: -1 });
    }
    if (bufsz > s.memsz) throw new KimageError("bad-argument", `${s.name}: bufsz ${hex(bufsz)} > memsz ${hex(s.memsz)} (kexec_load: -EINVAL)`, { layer: PLAN_LAYER, offset: -1 });
    return { name: s.name, ...(files?.[i] !== undefined ? { file: files[i] } : {}), bufsz, mem: s.mem, memsz: s.memsz };
  });
  const crash = plan.kind === "crash";
  return {
    entry: plan.entry.pc,
    nr_segments: segments.length,
    segments,
    flags: (arch.value | (crash ? KEXEC_ON_CRASH : 0)) >>> 0,
    flagNames: [arch.name, ...(crash ? ["KEXEC_ON_CRASH"] : [])],
  };
}
