/**
 * The arm64 plan: what arch/arm64/kernel/kexec_image.c `image_load` and
 * machine_kexec_file.c `load_other_segments` decide, as a pure function.
 *
 * - kernel: `kbuf.memsz = image_size + text_offset`, `buf_align =
 *   MIN_KIMG_ALIGN` (2 MiB), bottom-up from 0; then "Adjust kernel segment
 *   with TEXT_OFFSET": `mem += text_offset; memsz -= text_offset`;
 *   `image->start = mem`;
 * - initrd: "not allocate anything below the kernel" (`buf_min = kernel end`),
 *   "within 1GB-aligned window of up to 32GB in size", bottom-up;
 * - dtb: the first kernel's tree with /chosen edited, packed; `buf_align =
 *   SZ_2M` ("not across 2MB boundary"), top-down;
 * - entry (Documentation/arch/arm64/booting.rst): "x0 = physical address of
 *   device tree blob (dtb) in system RAM; x1 = 0; x2 = 0; x3 = 0", PC = the
 *   kernel image's first byte.
 *
 * @module
 */

import { arm64Loadability, parseArm64Header, type Arm64Host } from "../arm64/image.js";
import { KimageError } from "../errors.js";
import { parseFdt } from "../fdt/index.js";
import { buildKexecDtb } from "./chosen.js";
import { addBuffer, PLAN_LAYER, ULONG_MAX } from "./allocator.js";
import { checkSegments, memoryMap, regionsOfType, type MemoryMap, type Range, type Segment } from "./memory.js";
import { memoryMapFromFdt } from "./memory-parse.js";
import { createRng, type Rng, type Seed } from "./random.js";
import type { Plan } from "./types.js";
import { innermostImage } from "./unwrap.js";

/** MIN_KIMG_ALIGN (arch/arm64/include/asm/boot.h): 2 MiB. */
export const MIN_KIMG_ALIGN = 0x200000n;
const SZ_1G = 0x40000000n;
const SZ_2M = 0x200000n;

/** Inputs of an arm64 plan. */
export interface Arm64PlanInput {
  /** The kernel in any wrapped form (PE stub, zboot, compressed): unwrapped to the arm64 Image first. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** The first kernel's device tree (required: the second kernel's is derived from it). */
  dtb: Uint8Array;
  /** Memory map; default: from the device tree (/memory, /reserved-memory, /memreserve/). */
  memory?: MemoryMap;
  /** Ranges no segment may touch (firmware, the current DTB, a loader's own code). */
  exclude?: Range[];
  /** Where the current DTB sits (its /memreserve/ entry is dropped from the new one). */
  currentDtb?: Range;
  /** Seed for randomized placement and for kaslr-seed / rng-seed. Without it: the kernel's deterministic placement, no seeds. */
  seed?: Seed;
  /** Host facts for the kernel's header checks; default a little-endian CPU with every granule. */
  host?: Arm64Host;
  /** Accept a header the host would refuse (big-endian, unsupported page size) because the target supports it. */
  force?: boolean;
  pageSize?: bigint;
}

/**
 * Plans an arm64 kexec load.
 *
 * @throws KimageError `plan-refused` with the kernel's reason when image_load
 *   would refuse the image, `plan-no-hole` when a segment does not fit, or
 *   the parse errors of the kernel's layers.
 */
export async function planArm64(input: Arm64PlanInput): Promise<Plan> {
  const notes: string[] = [];
  const image = await innermostImage(input.kernel, "arm64-image");
  notes.push(`kernel: ${image.chain.join(" → ")}; the arm64 Image is ${image.bytes.length} bytes`);
  const h = parseArm64Header(image.bytes);
  const ok = arm64Loadability(h, input.host);
  if (!ok.loadable) {
    if (!input.force) throw new KimageError("plan-refused", `image_load refuses this Image: ${ok.reasons.join("; ")}`, { layer: PLAN_LAYER, offset: -1 });
    notes.push(`the caller says the target supports it: ${ok.reasons.join("; ")}`);
  }
  const page = input.pageSize ?? 4096n;
  const fdt = parseFdt(input.dtb);
  const map = input.memory ?? memoryMapFromFdt(fdt);
  const rng: Rng | undefined = input.seed === undefined ? undefined : createRng(input.seed);
  const opts = { pageSize: page, exclude: input.exclude ?? [], ...(rng ? { random: rng } : {}) };
  if (rng) notes.push(`seed given: every segment position is drawn from the valid aligned positions`);

  // With a seed the kernel may be drawn so high that the initrd and the DTB (both above it:
  // "not allocate anything below the kernel") no longer fit: draw again, at most
  // MAX_PLACEMENT_TRIES times (the same seed always makes the same draws).
  const tries = rng ? MAX_PLACEMENT_TRIES : 1;
  let placed: { segments: Segment[]; kernel: Segment; dtb: Segment; notes: string[] } | undefined;
  for (let attempt = 1; placed === undefined; attempt++) {
    try {
      placed = placeArm64(map, image.bytes, h.image_size, h.text_offset, input, opts, rng, page);
      if (attempt > 1) notes.push(`placement drawn ${attempt} times: earlier draws left no room above the kernel for the initrd and the DTB`);
    } catch (e) {
      if (!(e instanceof KimageError && e.code === "plan-no-hole") || attempt >= tries) throw e;
    }
  }
  notes.push(...placed.notes);
  const { segments, kernel } = placed;
  const dseg = placed.dtb;
  const violations = checkSegments(segments, map, { pageSize: page });
  if (violations.length > 0) {
    throw new KimageError("plan-refused", `internal: the plan breaks its invariants: ${violations.map((v) => v.message).join("; ")}`, { layer: PLAN_LAYER, offset: -1 });
  }
  return {
    arch: "arm64",
    kind: "normal",
    segments,
    entry: { pc: kernel.mem, registers: { x0: dseg.mem, x1: 0n, x2: 0n, x3: 0n } },
    cmdline: input.cmdline ?? "",
    bootParams: { dtb: { mem: dseg.mem, size: dseg.bytes.length }, text_offset: h.text_offset, image_size: h.image_size, ram: regionsOfType(map, "ram") },
    notes,
  };
}

/** How many randomized draws a seeded plan makes before giving up. */
export const MAX_PLACEMENT_TRIES = 64;

/** One placement attempt: kernel, initrd, DTB, in the kernel's order. */
function placeArm64(
  map: MemoryMap,
  imageBytes: Uint8Array,
  imageSize: bigint,
  textOffset: bigint,
  input: Arm64PlanInput,
  opts: { pageSize: bigint; exclude: Range[]; random?: Rng },
  rng: Rng | undefined,
  page: bigint,
): { segments: Segment[]; kernel: Segment; dtb: Segment; notes: string[] } {
  const notes: string[] = [];
  // "kbuf.memsz = le64_to_cpu(h->image_size); ... kbuf.memsz += text_offset; kbuf.buf_align = MIN_KIMG_ALIGN"
  const kseg = addBuffer(map, [], {
    name: "kernel",
    bytes: imageBytes,
    memsz: imageSize + textOffset,
    bufAlign: MIN_KIMG_ALIGN,
    bufMin: 0n,
    bufMax: ULONG_MAX,
    topDown: false,
  }, opts);
  // "kernel_segment->mem += text_offset; kernel_segment->memsz -= text_offset;"
  const kernel: Segment = { name: "kernel", bytes: imageBytes, mem: kseg.mem + textOffset, memsz: kseg.memsz - textOffset, align: MIN_KIMG_ALIGN };
  notes.push(`kernel at 0x${kernel.mem.toString(16)}: a 2 MiB-aligned base 0x${kseg.mem.toString(16)} + text_offset 0x${textOffset.toString(16)}, memsz image_size 0x${imageSize.toString(16)} page-rounded`);
  const segments: Segment[] = [kernel];
  const kernelEnd = kernel.mem + kernel.memsz;

  let initrd: Segment | undefined;
  if (input.initrd) {
    // "within 1GB-aligned window of up to 32GB in size"
    const bufMax = (kernel.mem / SZ_1G) * SZ_1G + SZ_1G * 32n;
    initrd = addBuffer(map, segments, { name: "initrd", bytes: input.initrd, bufAlign: 0n, bufMin: kernelEnd, bufMax, topDown: false }, opts);
    segments.push(initrd);
    notes.push(`initrd at 0x${initrd.mem.toString(16)}: above the kernel, below 0x${bufMax.toString(16)} (the 32 GiB window above the kernel's 1 GiB-rounded base)`);
  }

  const dtb = buildKexecDtb(input.dtb, {
    ...(initrd ? { initrd: { mem: initrd.mem, size: BigInt(initrd.bytes.length) } } : {}),
    ...(input.cmdline !== undefined ? { cmdline: input.cmdline } : {}),
    ...(input.currentDtb ? { currentDtb: input.currentDtb } : {}),
    ...(rng ? { rng } : {}),
    pageSize: page,
  });
  notes.push(...dtb.notes);
  // "kbuf.buf_align = SZ_2M; /* not across 2MB boundary */ ... kbuf.top_down = true"
  if (BigInt(dtb.bytes.length) > SZ_2M) throw new KimageError("plan-refused", `the device tree is ${dtb.bytes.length} bytes, more than 2 MiB`, { layer: PLAN_LAYER, offset: -1 });
  const dseg = addBuffer(map, segments, { name: "dtb", bytes: dtb.bytes, bufAlign: SZ_2M, bufMin: kernelEnd, bufMax: ULONG_MAX, topDown: true }, opts);
  segments.push(dseg);
  notes.push(`dtb at 0x${dseg.mem.toString(16)}: 2 MiB-aligned so it never straddles a 2 MiB boundary, top-down`);

  return { segments, kernel, dtb: dseg, notes };
}

/** A memory map of one RAM range, e.g. QEMU virt's `-m`: a convenience for tests and the CLI. */
export function ramMap(start: bigint, size: bigint): MemoryMap {
  return memoryMap([{ start, size, type: "ram" }]);
}
