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
 * A crash (kdump) plan (`crash` given) follows the same code with
 * `image->type == KEXEC_TYPE_CRASH`: every buffer is searched only inside the
 * crash region(s) (kexec_walk_resources walks `crashk_res`); before the
 * initrd, load_other_segments adds the ELF core header ("load elf core
 * header": `kbuf.buf_align = SZ_64K;` ("largest supported page size"),
 * `kbuf.top_down = true`, `buf_min` = the kernel's end), and
 * of_kexec_alloc_and_setup_fdt adds /chosen `linux,elfcorehdr` (with a
 * /memreserve/) and `linux,usable-memory-range` = crashk_res (then
 * crashk_low_res).
 *
 * @module
 */

import { arm64Loadability, parseArm64Header, type Arm64Header, type Arm64Host } from "../../formats/arm64/image.js";
import { KimageError } from "../../core/errors.js";
import { parseFdt } from "../../fdt/index.js";
import { buildKexecDtb, type DtbBootParams, type DtbPlanInputBase } from "../protocol/chosen.js";
import { prepareCrash, type CrashInput, type PreparedCrash } from "../protocol/kdump.js";
import { addBuffer, PLAN_LAYER, ULONG_MAX } from "../core/allocator.js";
import { checkSegments, memoryMap, regionsOfType, type MemoryMap, type Segment } from "../core/memory.js";
import { memoryMapFromFdt } from "../core/memory-parse.js";
import { placeWithRetries, type PlacementOptions } from "../core/placement.js";
import { createRng, type Rng, type Seed } from "../core/random.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

/** MIN_KIMG_ALIGN (arch/arm64/include/asm/boot.h): 2 MiB. */
export const MIN_KIMG_ALIGN = 0x200000n;
const SZ_1G = 0x40000000n;
const SZ_2M = 0x200000n;
/** The elfcorehdr alignment on arm64: "kbuf.buf_align = SZ_64K;", commented "largest supported page size". */
export const ARM64_ELFCOREHDR_ALIGN = 0x10000n;

/** The layer an arm64 plan boots, and where it reads the Image header (image_load's `h`). */
export const ARM64_KERNEL: KernelLayer<Arm64Header> = { format: "arm64-image", header: parseArm64Header };

/** What makes an arm64 plan a crash (kdump) plan: the shared {@link CrashInput}. */
export type Arm64CrashInput = CrashInput;

/**
 * Inputs of an arm64 plan. `kernel`: the kernel in any wrapped form (PE stub, zboot, compressed): unwrapped to the arm64 Image first.
 */
export interface Arm64PlanInput extends DtbPlanInputBase {
  /** Seed for randomized placement and for kaslr-seed / rng-seed. Without it: the kernel's deterministic placement, no seeds. */
  seed?: Seed;
  /** Host facts for the kernel's header checks; default a little-endian CPU with every granule. */
  host?: Arm64Host;
  /** Accept a header the host would refuse (big-endian, unsupported page size) because the target supports it. */
  force?: boolean;
  pageSize?: bigint;
  /** Plan a crash (kdump) kernel instead of a normal one. */
  crash?: Arm64CrashInput;
  /**
   * The loading kernel's RNG is ready, so the DTB it builds carries
   * `kaslr-seed` and `rng-seed` (of_kexec_alloc_and_setup_fdt: "if
   * (rng_is_initialized())"; 0xe0 bytes more, measured on 6.12): their values
   * are drawn from this seed while the placement stays the kernel's
   * deterministic one (`seed` draws both). Absent: no seeds, as when the RNG
   * is not ready.
   */
  dtbSeed?: Seed;
}

/** What an arm64 plan reports in `bootParams`. */
export type Arm64BootParams = DtbBootParams;

/** An arm64 plan. */
export type Arm64Plan = PlanOf<"arm64", Arm64BootParams>;

/** The crash part of a placement: the header bytes and the usable ranges. */
type CrashPlacement = Pick<PreparedCrash, "headers" | "usable">;

/**
 * Plans an arm64 kexec load (`kind: "normal"`), or with `input.crash` a
 * kdump load (`kind: "crash"`): segments kernel, elfcorehdr, initrd, dtb, all
 * inside the crash region(s).
 *
 * @throws KimageError `plan-refused` with the kernel's reason when image_load
 *   would refuse the image, `plan-no-hole` when a segment does not fit, or
 *   the parse errors of the kernel's layers.
 */
export async function planArm64(input: Arm64PlanInput): Promise<Arm64Plan> {
  const notes: string[] = [];
  const image = await unwrapKernel(input.kernel, ARM64_KERNEL);
  notes.push(`kernel: ${image.chain.join(" → ")}; the arm64 Image is ${image.bytes.length} bytes`);
  const h = image.header;
  const ok = arm64Loadability(h, input.host);
  if (!ok.loadable) {
    if (!input.force) throw new KimageError("plan-refused", `image_load refuses this Image: ${ok.reasons.join("; ")}`, { layer: PLAN_LAYER, offset: -1 });
    notes.push(`the caller says the target supports it: ${ok.reasons.join("; ")}`);
  }
  const page = input.pageSize ?? 4096n;
  const fdt = parseFdt(input.dtb);
  let map = input.memory ?? memoryMapFromFdt(fdt);
  let crash: CrashPlacement | undefined;
  if (input.crash) {
    const c = input.crash;
    // prepare_elf_headers: for_each_mem_range, then "Exclude crashkernel region" (crashk_res, crashk_low_res)
    const prepared = prepareCrash(map, c, { arch: "arm64", ramFrom: "given" });
    const { headers, ram, usable } = prepared;
    map = prepared.map;
    crash = { headers, usable };
    notes.push(
      `crash kernel: every segment inside ${usable.map((r) => `[0x${r.start.toString(16)}, 0x${(r.start + r.size).toString(16)})`).join(" and ")} (crashk_res${usable.length > 1 ? ", crashk_low_res" : ""}); ` +
        `the ELF core header (${headers.length} bytes) describes ${c.cpuNotes.length} CPU note(s), vmcoreinfo${c.kernelText ? ", the kernel text" : ""} and ${ram.length} RAM range(s) outside the crash region`,
    );
  }
  const rng = input.seed === undefined ? undefined : createRng(input.seed);
  // kexec_walk_resources: "if (image->type == KEXEC_TYPE_CRASH) return walk_iomem_res_desc(crashk_res.desc, ...,
  // crashk_res.start, crashk_res.end, ...)": segments go in crashk_res only; crashk_low_res is only
  // named in linux,usable-memory-range.
  const exclude = [...(input.exclude ?? []), ...(crash ? crash.usable.slice(1) : [])];
  const opts: PlacementOptions = { pageSize: page, exclude, ...(rng ? { random: rng } : {}), ...(crash ? { crash: true } : {}) };
  if (rng) notes.push(`seed given: every segment position is drawn from the valid aligned positions`);

  // With a seed the kernel may be drawn so high that the initrd and the DTB (both above it:
  // "not allocate anything below the kernel") no longer fit: draw again (placeWithRetries).
  const dtbRng = rng ?? (input.dtbSeed !== undefined ? createRng(input.dtbSeed) : undefined);
  if (!rng && dtbRng) notes.push("dtbSeed given: /chosen gets kaslr-seed and rng-seed (the loading kernel's RNG is ready); the placement stays deterministic");
  const { value: placed, attempts } = placeWithRetries(rng, () => placeArm64({ map, image: image.bytes, header: h, input, opts, ...(dtbRng ? { dtbRng } : {}), ...(crash ? { crash } : {}) }));
  if (attempts > 1) notes.push(`placement drawn ${attempts} times: earlier draws left no room above the kernel for the initrd and the DTB`);
  notes.push(...placed.notes);
  const { segments, kernel } = placed;
  const dseg = placed.dtb;
  const violations = checkSegments(segments, map, { pageSize: page, crash: crash !== undefined });
  if (violations.length > 0) {
    throw new KimageError("plan-refused", `internal: the plan breaks its invariants: ${violations.map((v) => v.message).join("; ")}`, { layer: PLAN_LAYER, offset: -1 });
  }
  const elf = segments.find((s) => s.name === "elfcorehdr");
  return {
    arch: "arm64",
    kind: crash ? "crash" : "normal",
    segments,
    entry: { pc: kernel.mem, registers: { x0: dseg.mem, x1: 0n, x2: 0n, x3: 0n } },
    cmdline: input.cmdline ?? "",
    bootParams: {
      dtb: { mem: dseg.mem, size: dseg.bytes.length },
      text_offset: h.text_offset,
      image_size: h.image_size,
      ram: regionsOfType(map, "ram"),
      ...(crash && elf ? { elfcorehdr: { mem: elf.mem, size: BigInt(elf.bytes.length) }, usableMemoryRange: crash.usable } : {}),
    },
    notes,
  };
}

/** One placement attempt's inputs. */
interface Arm64Placement {
  /** The memory map (crash regions typed `crash` for a crash plan). */
  map: MemoryMap;
  /** The arm64 Image's bytes. */
  image: Uint8Array;
  /** Its header: `image_size`, `text_offset`. */
  header: Pick<Arm64Header, "image_size" | "text_offset">;
  /** The plan's inputs (initrd, dtb, cmdline, currentDtb). */
  input: Arm64PlanInput;
  /** Page size, exclusions, the generator of a seeded plan, crash. */
  opts: PlacementOptions;
  /** A crash plan's header and usable ranges. */
  crash?: CrashPlacement;
  /** The source of the DTB's kaslr-seed and rng-seed (the plan's generator, or `dtbSeed`'s). */
  dtbRng?: Rng;
}

/** One placement attempt: kernel, initrd, DTB, in the kernel's order. */
function placeArm64(p: Arm64Placement): { segments: Segment[]; kernel: Segment; dtb: Segment; notes: string[] } {
  const { map, image: imageBytes, input, opts, crash } = p;
  const { image_size: imageSize, text_offset: textOffset } = p.header;
  const page = opts.pageSize;
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

  let elf: Segment | undefined;
  if (crash) {
    // "kbuf.memsz = headers_sz; kbuf.buf_align = SZ_64K; kbuf.buf_max = ULONG_MAX; kbuf.top_down = true;"
    elf = addBuffer(map, segments, { name: "elfcorehdr", bytes: crash.headers, bufAlign: ARM64_ELFCOREHDR_ALIGN, bufMin: kernelEnd, bufMax: ULONG_MAX, topDown: true }, opts);
    segments.push(elf);
    notes.push(`elfcorehdr at 0x${elf.mem.toString(16)}: 64 KiB-aligned (the largest page size), top-down in the crash region, above the kernel`);
  }

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
    // fdt_appendprop_addrrange(..., "linux,elfcorehdr", image->elf_load_addr, image->elf_headers_sz)
    ...(crash && elf ? { crash: { elfcorehdr: { start: elf.mem, size: BigInt(crash.headers.length) }, usable: crash.usable } } : {}),
    ...(p.dtbRng ? { rng: p.dtbRng } : {}),
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
