/**
 * The x86_64 plan: what arch/x86/kernel/kexec-bzimage64.c `bzImage64_probe`
 * and `bzImage64_load` decide, as a pure function.
 *
 * - probe: the kernel's checks and messages (`kexecBzImage64Checks`), plus
 *   the host-dependent "bzImage cannot handle 5-level paging mode." when the
 *   target uses 5-level paging;
 * - the command line: "Kernel command line too long" when `cmdline_len >
 *   header->cmdline_size`, and "Appending elfcorehdr=<addr> to command line
 *   exceeds maximum allowed length" when `cmdline_len +
 *   MAX_ELFCOREHDR_STR_LEN > header->cmdline_size` — for every image, crash
 *   or not;
 * - segments, in the kernel's order: (the purgatory: kimage has none), the
 *   bootparams buffer (boot_params + command line + setup_data, one
 *   segment; `buf_min = MIN_BOOTPARAM_ADDR` 0x3000, `buf_align = 16`,
 *   top-down), the kernel's protected-mode part (`memsz =
 *   PAGE_ALIGN(init_size)`, `buf_align = kernel_alignment`, `buf_min =
 *   max(pref_address, MIN_KERNEL_LOAD_ADDR)`, top-down), the initrd
 *   (`buf_min = MIN_INITRD_LOAD_ADDR` 16 MiB, page-aligned, top-down), all
 *   with `buf_max = ULONG_MAX`;
 * - entry: the registers bzImage64_load gives the purgatory (`regs64.rbx =
 *   0; regs64.rsi = bootparam_load_addr; regs64.rip = kernel_load_addr +
 *   0x200;`), and the 32-bit protocol's entry for loaders that start the
 *   kernel in protected mode.
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import { BZIMAGE_LAYER, XLF_5LEVEL, kexecBzImage64Checks } from "../../formats/bzimage/header.js";
import { KimageError } from "../../core/errors.js";
import { addBuffer, CURRENT_HOLE_SEARCH, LEGACY_HOLE_SEARCH, PLAN_LAYER, ULONG_MAX, type HoleSearch } from "../core/allocator.js";
import {
  bootParamsLayout,
  buildBootParams,
  e820FromMemoryMap,
  kexecCmdlineBytes,
  E820_MAX_ENTRIES_ZEROPAGE,
  MAX_DMCRYPTKEYS_STR_LEN,
  MAX_ELFCOREHDR_STR_LEN,
  RNG_SEED_LENGTH,
  type BootE820Entry,
  type BootParamsConfig,
  type BootParamsLayout,
  type BuiltBootParams,
} from "../protocol/bootparams.js";
import { checkSegments, isPowerOfTwo, memoryMap, type MemoryMap, type Range, type Segment } from "../core/memory.js";
import { MAX_PLACEMENT_TRIES, placeWithRetries, type PlacementOptions } from "../core/placement.js";
import { createRng, type Seed } from "../core/random.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

/** kexec-bzimage64.c: `#define MIN_PURGATORY_ADDR 0x3000`. */
export const MIN_PURGATORY_ADDR = 0x3000n;
/** kexec-bzimage64.c: `#define MIN_BOOTPARAM_ADDR 0x3000`. */
export const MIN_BOOTPARAM_ADDR = 0x3000n;
/** kexec-bzimage64.c: `#define MIN_KERNEL_LOAD_ADDR 0x100000`. */
export const MIN_KERNEL_LOAD_ADDR = 0x100000n;
/** kexec-bzimage64.c: `#define MIN_INITRD_LOAD_ADDR 0x1000000`. */
export const MIN_INITRD_LOAD_ADDR = 0x1000000n;
/** boot.rst: "the 64-bit kernel entry point, which is the start address of loaded 64-bit kernel plus 0x200". */
export const X86_64_ENTRY_OFFSET = 0x200n;
/** How many randomized draws a seeded x86_64 plan makes before giving up: {@link MAX_PLACEMENT_TRIES}, shared by every arch. */
export const MAX_X86_PLACEMENT_TRIES = MAX_PLACEMENT_TRIES;

/**
 * Hooks for a crash (kdump) plan, so the crash planner composes this one
 * instead of copying it. With them, every segment is placed in the `crash`
 * regions (kexec_walk_resources walks crashk_res for KEXEC_TYPE_CRASH) and
 * the plan's kind is `crash`.
 */
export interface X86CrashHooks {
  /** The crash kernel region (crashk_res); added to the memory map as type `crash`. Optional when the map already has one. */
  region?: Range;
  /** Segments crash_load_segments / crash_load_dm_crypt_keys placed first (the ELF core header, the keys), in order. */
  segments?: Segment[];
  /** `image->elf_load_addr`: setup_cmdline writes "elfcorehdr=0x%lx " before the command line. */
  elfcorehdr: bigint;
  /** `image->dm_crypt_keys_addr` (0 or absent: none): "dmcryptkeys=0x%lx " follows. */
  dmCryptKeys?: bigint;
  /** The e820 table crash_setup_memmap_entries builds; default: the memory map's. */
  e820?: BootE820Entry[];
}

/** Inputs of an x86_64 plan. */
export interface X86PlanInput {
  /** The kernel in any wrapped form (PE stub, compressed file): unwrapped to the bzImage layer first. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  /** The command line (absent: `cmdline_len` 0, an empty command line). */
  cmdline?: string;
  /** The memory map the first kernel's e820_table_kexec describes; its e820 table is passed on. */
  memory: MemoryMap;
  /** Ranges no segment may touch (firmware, a loader's own code and data). */
  exclude?: Range[];
  /** Seed for randomized placement and for the SETUP_RNG_SEED setup_data. Without it: the kernel's deterministic placement, no seed. */
  seed?: Seed;
  /** The target runs with 5-level paging (`pgtable_l5_enabled()`). */
  fiveLevel?: boolean;
  pageSize?: bigint;
  /** The first kernel's `boot_params.acpi_rsdp_addr` (default 0). */
  acpiRsdpAddr?: bigint;
  /** The first kernel's `hardware_subarch` (default 0, X86_SUBARCH_PC). */
  hardwareSubarch?: number;
  /** Which setup_data slots the loading kernel reserves (default: CONFIG_EFI only). */
  bootParamsConfig?: BootParamsConfig;
  /** Make a crash (kdump) plan. */
  crash?: X86CrashHooks;
  /**
   * The loading kernel's own purgatory, to mirror where `kexec_file_load`
   * puts the other segments: bzImage64_load places it first ("Load
   * purgatory. For 64bit entry point, purgatory code can be anywhere.":
   * `struct kexec_buf pbuf = { .image = image, .buf_min = MIN_PURGATORY_ADDR,
   * .buf_max = ULONG_MAX, .top_down = true };`). It is not a segment of the
   * plan (a kexec_load plan brings kimage's purgatory instead): its place is
   * reported in `bootParams.kernelPurgatory` and kept free. Debian's values
   * are in `X86_RUNNING_KERNELS`.
   */
  kernelPurgatory?: X86KernelPurgatory;
  /** The loading kernel's version of the hole search (6.1 differs; see `HoleSearch`). Default: the current one. */
  search?: HoleSearch;
}

/** The running kernel's purgatory as kexec_load_purgatory sizes it (the "Loading segment 0" line of a referee recording). */
export interface X86KernelPurgatory {
  /** `bufsz`: the purgatory's loaded sections. */
  bufsz: bigint;
  /** `memsz`: with its bss (rounded up to the page size by kexec_add_buffer). */
  memsz: bigint;
  /** `buf_align`: the largest section alignment (raised to the page size; default 16). */
  align?: bigint;
}

/**
 * What the x86_64 kernels of Debian do differently in kexec_file_load, by
 * series, as the placement referee recorded them (test/plan/referee/,
 * `npm run referee`): their purgatory's size and their hole search. Only
 * these inputs differ; the bzImage64_load rules are the same.
 */
export const X86_RUNNING_KERNELS: Readonly<Record<"6.1" | "6.12" | "7.x", { kernelPurgatory: X86KernelPurgatory; search: HoleSearch }>> = {
  // bookworm: "Loading segment 0: … bufsz=0x4000 mem=0x9a000 memsz=0x5000"
  "6.1": { kernelPurgatory: { bufsz: 0x4000n, memsz: 0x5000n }, search: LEGACY_HOLE_SEARCH },
  // trixie: "segment[0]: … bufsz=0x4000 mem=0x3ffdb000 memsz=0x5000"
  "6.12": { kernelPurgatory: { bufsz: 0x4000n, memsz: 0x5000n }, search: CURRENT_HOLE_SEARCH },
  // sid: "segment[0]: … bufsz=0x4000 mem=0x3ffdb000 memsz=0x5000"
  "7.x": { kernelPurgatory: { bufsz: 0x4000n, memsz: 0x5000n }, search: CURRENT_HOLE_SEARCH },
};

/** The raw header fields bzImage64_load reads (from the struct, whatever the protocol version). */
export interface X86LoadFields {
  /** `setup_sects` (0 means 4). */
  setupSects: number;
  /** `(setup_sects + 1) * 512`: the real-mode part, not loaded. */
  kern16Size: number;
  cmdlineSize: number;
  kernelAlignment: number;
  prefAddress: bigint;
  initSize: number;
  xloadflags: number;
}

function refuse(message: string, offset = -1): never {
  throw new KimageError("plan-refused", message, { layer: PLAN_LAYER, offset });
}

/** Reads the fields bzImage64_load uses, as the kernel does (raw little-endian struct reads); never throws. */
export function x86LoadFields(bz: Uint8Array): X86LoadFields {
  const dv = new DataView(bz.buffer, bz.byteOffset, bz.byteLength);
  const u8 = (o: number) => (o < bz.length ? bz[o]! : 0);
  const u16 = (o: number) => (o + 2 <= bz.length ? dv.getUint16(o, true) : 0);
  const u32 = (o: number) => (o + 4 <= bz.length ? dv.getUint32(o, true) : 0);
  const u64 = (o: number) => (o + 8 <= bz.length ? dv.getBigUint64(o, true) : 0n);
  // setup_sects = header->setup_sects; if (setup_sects == 0) setup_sects = 4;
  const raw = u8(0x1f1);
  const setupSects = raw === 0 ? 4 : raw;
  return {
    setupSects,
    kern16Size: (setupSects + 1) * 512,
    cmdlineSize: u32(0x238),
    kernelAlignment: u32(0x230),
    prefAddress: u64(0x258),
    initSize: u32(0x260),
    xloadflags: u16(0x236),
  };
}

/**
 * The layer an x86_64 plan boots, and where it reads the setup header
 * fields bzImage64_load uses ({@link x86LoadFields}).
 */
export const X86_KERNEL: KernelLayer<X86LoadFields> = { format: BZIMAGE_LAYER, header: x86LoadFields };

/**
 * bzImage64_probe, then bzImage64_load's own refusals, in the kernel's
 * order, with its messages. Throws the first one. `fields`: the header as
 * {@link x86LoadFields} reads it (read here when not given).
 *
 * @throws KimageError `plan-refused` with the kernel's message verbatim.
 */
export function x86ProbeAndLoadChecks(bz: Uint8Array, o: { cmdlineLen: number; fiveLevel?: boolean; crash?: X86CrashHooks }, fields?: X86LoadFields): X86LoadFields {
  const first = kexecBzImage64Checks(new ByteView(bz, BZIMAGE_LAYER))[0];
  if (first) refuse(first.message, first.offset);
  const f = fields ?? x86LoadFields(bz);
  // if (!(header->xloadflags & XLF_5LEVEL) && pgtable_l5_enabled()) { pr_err("bzImage cannot handle 5-level paging mode.\n");
  if (o.fiveLevel && !(f.xloadflags & XLF_5LEVEL)) refuse("bzImage cannot handle 5-level paging mode.", 0x236);
  // kern16_size = (setup_sects + 1) * 512; if (kernel_len < kern16_size) { pr_err("bzImage truncated\n");
  if (bz.length < f.kern16Size) refuse("bzImage truncated", 0x1f1);
  // if (cmdline_len > header->cmdline_size) { pr_err("Kernel command line too long\n");
  if (o.cmdlineLen > f.cmdlineSize) refuse("Kernel command line too long", 0x238);
  // if (cmdline_len + MAX_ELFCOREHDR_STR_LEN > header->cmdline_size) { pr_err("Appending elfcorehdr=<addr> to command line exceeds maximum allowed length\n");
  if (o.cmdlineLen + MAX_ELFCOREHDR_STR_LEN > f.cmdlineSize) refuse("Appending elfcorehdr=<addr> to command line exceeds maximum allowed length", 0x238);
  // if (image->dm_crypt_keys_addr && cmdline_len + MAX_ELFCOREHDR_STR_LEN + MAX_DMCRYPTKEYS_STR_LEN > header->cmdline_size)
  if (o.crash?.dmCryptKeys && o.cmdlineLen + MAX_ELFCOREHDR_STR_LEN + MAX_DMCRYPTKEYS_STR_LEN > f.cmdlineSize) {
    refuse("Appending dmcryptkeys=<addr> to command line exceeds maximum allowed length", 0x238);
  }
  return f;
}

/** The 32-bit protocol's entry state for the plan (boot.rst, "32-bit Boot Protocol"). */
export interface X86Entry32 {
  /** "the start address of loaded 32/64-bit kernel": the kernel segment's address. */
  eip: bigint;
  /** "%esi must hold the base address of the struct boot_params". */
  esi: bigint;
  /** "%ebp, %edi and %ebx must be zero". */
  ebp: bigint;
  /** Zero. */
  edi: bigint;
  /** Zero. */
  ebx: bigint;
  /** "CS must be __BOOT_CS" (0x10): "4G flat segment" with "execute/read permission". */
  cs: number;
  /** "DS, ES, SS must be __BOOT_DS" (0x18): "4G flat segment" with "read/write permission". */
  ds: number;
}

/** What an x86_64 plan reports in `bootParams`. */
export interface X86BootParams {
  /** Where the bootparams segment (boot_params + command line + setup_data) was placed, and its bufsz. */
  bootParams: { mem: bigint; size: number };
  /** Bytes of the setup header copied from the image. */
  setupHeaderSize: number;
  /** Physical address of the command line. */
  cmdlinePhys: bigint;
  /** The e820 entries written (at most 128). */
  e820: BootE820Entry[];
  /** How many entries beyond 128 were dropped. */
  e820Dropped: number;
  /** Physical address of the SETUP_RNG_SEED setup_data, or null without a seed. */
  rngSeed: bigint | null;
  /** screen_info.ext_mem_k as setup_boot_parameters computes it. */
  extMemK: number;
  /** screen_info.alt_mem_k as setup_boot_parameters computes it. */
  altMemK: number;
  /** The layout of the bootparams buffer. */
  layout: BootParamsLayout;
  /** The kernel segment and the header fields that placed it. */
  kernel: { mem: bigint; memsz: bigint; init_size: number; kernel_alignment: number; pref_address: bigint; kern16_size: number };
  /** The initrd as placed, or null. */
  initrd: { mem: bigint; size: number } | null;
  /** The 32-bit protocol's entry state, or null when a segment lies above 4 GiB. */
  entry32: X86Entry32 | null;
  /** Where the loading kernel's own purgatory goes (`X86PlanInput.kernelPurgatory`), or null. */
  kernelPurgatory: { mem: bigint; memsz: bigint; bufsz: bigint } | null;
}

/** An x86_64 plan (normal or crash). */
export type X86Plan = PlanOf<"x86_64", X86BootParams>;

/**
 * Plans an x86_64 kexec load.
 *
 * @throws KimageError `plan-refused` with the kernel's message when
 *   bzImage64_probe or bzImage64_load would refuse, `plan-no-hole` when a
 *   segment does not fit, `bad-argument` for a command line with a NUL or
 *   an empty initrd, or the parse errors of the kernel's layers.
 */
export async function planX86_64(input: X86PlanInput): Promise<X86Plan> {
  const notes: string[] = [];
  const image = await unwrapKernel(input.kernel, X86_KERNEL);
  const bz = image.bytes;
  notes.push(`kernel: ${image.chain.join(" → ")}; the bzImage is ${bz.length} bytes`);
  const cmdlineBytes = kexecCmdlineBytes(input.cmdline);
  const crash = input.crash;
  const f = x86ProbeAndLoadChecks(bz, { cmdlineLen: cmdlineBytes.length, ...(input.fiveLevel !== undefined ? { fiveLevel: input.fiveLevel } : {}), ...(crash ? { crash } : {}) }, image.header);
  notes.push(
    `bzImage64_probe accepts it${input.fiveLevel ? " (XLF_5LEVEL set, the target uses 5-level paging)" : ""}; the command line is ${cmdlineBytes.length} bytes with its NUL, ` +
      `cmdline_size ${f.cmdlineSize} leaves room for the ${MAX_ELFCOREHDR_STR_LEN}-byte elfcorehdr=<addr> the kernel always reserves`,
  );
  if (f.initSize === 0) refuse("init_size is 0: the kernel segment would have memsz 0", 0x260);
  if (f.kernelAlignment !== 0 && !isPowerOfTwo(BigInt(f.kernelAlignment))) refuse(`kernel_alignment ${hex(f.kernelAlignment)} is not a power of two: the kernel's ALIGN_DOWN would not align the kernel`, 0x230);
  if (input.initrd && input.initrd.length === 0) {
    throw new KimageError("bad-argument", "the initrd is empty: pass none instead", { layer: PLAN_LAYER, offset: -1 });
  }
  const page = input.pageSize ?? 4096n;
  const kernelBytes = bz.subarray(f.kern16Size);
  const kernelMemsz = ((BigInt(f.initSize) + page - 1n) / page) * page;
  if (BigInt(kernelBytes.length) > kernelMemsz) {
    refuse(`the kernel's protected-mode part (${kernelBytes.length} bytes) exceeds PAGE_ALIGN(init_size) ${hex(kernelMemsz)}: sanity_check_segment_list refuses bufsz > memsz`, 0x260);
  }

  let map = input.memory;
  if (crash?.region) map = memoryMap([...map.regions, { ...crash.region, type: "crash" as const }]);
  const rng = input.seed === undefined ? undefined : createRng(input.seed);
  const opts: PlacementOptions = { pageSize: page, exclude: input.exclude ?? [], ...(crash ? { crash: true } : {}), ...(rng ? { random: rng } : {}), ...(input.search ? { search: input.search } : {}) };
  if (rng) notes.push("seed given: every segment position is drawn from the valid aligned positions");
  if (input.search && input.search !== CURRENT_HOLE_SEARCH) {
    notes.push(`the loading kernel's hole search: top-down buffers walk System RAM ${input.search.topDownWalk}, first candidate temp_end - memsz${input.search.topDownFirst === "end-memsz" ? "" : " + 1"}`);
  }
  let kernelPurgatory: { mem: bigint; memsz: bigint; bufsz: bigint } | null = null;
  if (input.kernelPurgatory) {
    const kp = input.kernelPurgatory;
    // kexec_load_purgatory(image, &pbuf) with pbuf = { .buf_min = MIN_PURGATORY_ADDR, .buf_max = ULONG_MAX, .top_down = true }, after crash_load_segments.
    const seg = addBuffer(map, crash?.segments ?? [], { name: "kernel-purgatory", bytes: new Uint8Array(0), memsz: kp.memsz, bufAlign: kp.align ?? 16n, bufMin: MIN_PURGATORY_ADDR, bufMax: ULONG_MAX, topDown: true }, opts);
    kernelPurgatory = { mem: seg.mem, memsz: seg.memsz, bufsz: kp.bufsz };
    opts.exclude = [...opts.exclude, { start: seg.mem, size: seg.memsz }];
    notes.push(
      `the loading kernel's own purgatory (bufsz ${hex(kp.bufsz)}, memsz ${hex(seg.memsz)}) goes first, at ${hex(seg.mem)} (buf_min MIN_PURGATORY_ADDR ${hex(MIN_PURGATORY_ADDR)}, top-down): ` +
        "kept free here, not a segment of this plan",
    );
  } else {
    notes.push(
      `no purgatory: the kernel first places its purgatory (buf_min MIN_PURGATORY_ADDR ${hex(MIN_PURGATORY_ADDR)}, top-down) and enters the kernel through it; ` +
        "a plan has none, so the later segments may take the place the purgatory would have had (--kernel-purgatory keeps it free), and the entry state is what the purgatory hands over",
    );
  }
  const layout = bootParamsLayout(cmdlineBytes.length, { ...(crash?.dmCryptKeys ? { dmCryptKeys: true } : {}), ...(input.bootParamsConfig ? { config: input.bootParamsConfig } : {}) });

  const pre = crash?.segments ?? [];
  const { value: placed, attempts } = placeWithRetries(rng, () =>
    placeX86({ map, pre, paramsBufsz: layout.bufsz, kernel: kernelBytes, kernelMemsz, fields: f, ...(input.initrd ? { initrd: input.initrd } : {}), opts }),
  );
  if (attempts > 1) notes.push(`placement drawn ${attempts} times: earlier draws left no room for a later segment`);
  notes.push(...placed.notes);

  const e820 = crash?.e820 ?? e820FromMemoryMap(map);
  const built: BuiltBootParams = buildBootParams({
    kernel: bz,
    loadAddr: placed.params.mem,
    cmdline: cmdlineBytes,
    layout,
    ...(placed.initrd ? { initrd: { addr: placed.initrd.mem, size: BigInt(placed.initrd.bytes.length) } } : {}),
    e820,
    ...(rng ? { rngSeed: rng.bytes(RNG_SEED_LENGTH) } : {}),
    ...(crash ? { crash: { elfcorehdr: crash.elfcorehdr, ...(crash.dmCryptKeys ? { dmCryptKeys: crash.dmCryptKeys } : {}) } } : {}),
    ...(input.acpiRsdpAddr !== undefined ? { acpiRsdpAddr: input.acpiRsdpAddr } : {}),
    ...(input.hardwareSubarch !== undefined ? { hardwareSubarch: input.hardwareSubarch } : {}),
  });
  notes.push(
    `boot_params: the ${built.setupHeaderSize}-byte setup header (0x0202 + kernel[0x0201] - 0x1f1) copied from the image, type_of_loader 0xd0, loadflags 0, ` +
      `command line at ${hex(built.cmdlinePhys)}, ${built.e820.length} e820 entries`,
  );
  if (built.e820Dropped > 0) {
    notes.push(`the memory map has ${e820.length} e820 entries: the kernel passes only the first ${E820_MAX_ENTRIES_ZEROPAGE} (E820_MAX_ENTRIES_ZEROPAGE) and drops ${built.e820Dropped}`);
  }
  notes.push(rng ? `SETUP_RNG_SEED setup_data (32 bytes from the seed) at ${hex(built.rngSeedPhys ?? 0n)}, linked from hdr.setup_data` : "no seed: no SETUP_RNG_SEED setup_data (the kernel adds one only when its RNG is initialized)");

  const params: Segment = { ...placed.params, bytes: built.bytes };
  const segments: Segment[] = [...pre, params, placed.kernel, ...(placed.initrd ? [placed.initrd] : [])];
  const violations = checkSegments(segments, map, { pageSize: page, ...(crash ? { crash: true } : {}) });
  // sanity_check_segment_list: "Verify that no more than half of memory will be consumed" (-EINVAL): the kernel's rule, not a bug.
  const half = violations.filter((v) => v.code === "exceeds-half-ram");
  if (half.length > 0 && half.length === violations.length) {
    refuse(`sanity_check_segment_list refuses the load: no more than half of memory may be consumed (${half.map((v) => v.message).join("; ")})`);
  }
  if (violations.length > 0) refuse(`internal: the plan breaks its invariants: ${violations.map((v) => v.message).join("; ")}`);

  const kernelAddr = placed.kernel.mem;
  const rip = kernelAddr + X86_64_ENTRY_OFFSET;
  const below4g = (s: Segment) => s.mem + s.memsz <= 1n << 32n;
  const entry32: X86Entry32 | null =
    below4g(params) && below4g(placed.kernel) && (!placed.initrd || below4g(placed.initrd))
      ? { eip: kernelAddr, esi: params.mem, ebp: 0n, edi: 0n, ebx: 0n, cs: 0x10, ds: 0x18 }
      : null;
  notes.push(
    `entry: 64-bit at rip ${hex(rip)} (kernel + 0x200) with rsi = boot_params ${hex(params.mem)}, rbx = 0; ` +
      (entry32 ? `32-bit at eip ${hex(kernelAddr)} (the kernel's load address) with esi = boot_params, ebp = edi = ebx = 0` : "no 32-bit entry: a segment lies above 4 GiB"),
  );
  notes.push("rsp: the kernel's purgatory passes its own stack_end; the kernel's entry code loads its own stack before using one, so a plan states none");

  // regs64 = the purgatory's entry64_regs (all zero in entry64.S) with rbx, rsi, rip (and rsp) set.
  const zero = ["rax", "rcx", "rdx", "rbx", "rbp", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
  const registers: Record<string, bigint> = Object.fromEntries(zero.map((r) => [r, 0n]));
  registers.rsi = params.mem;
  registers.rip = rip;
  return {
    arch: "x86_64",
    kind: crash ? "crash" : "normal",
    segments,
    entry: { pc: rip, registers },
    cmdline: built.cmdline,
    bootParams: {
      bootParams: { mem: params.mem, size: params.bytes.length },
      setupHeaderSize: built.setupHeaderSize,
      cmdlinePhys: built.cmdlinePhys,
      e820: built.e820,
      e820Dropped: built.e820Dropped,
      rngSeed: built.rngSeedPhys,
      extMemK: built.extMemK,
      altMemK: built.altMemK,
      layout,
      kernel: { mem: kernelAddr, memsz: placed.kernel.memsz, init_size: f.initSize, kernel_alignment: f.kernelAlignment, pref_address: f.prefAddress, kern16_size: f.kern16Size },
      initrd: placed.initrd ? { mem: placed.initrd.mem, size: placed.initrd.bytes.length } : null,
      entry32,
      kernelPurgatory,
    },
    notes,
  };
}

interface Placed {
  params: Segment;
  kernel: Segment;
  initrd?: Segment;
  notes: string[];
}

/** One placement attempt's inputs. */
interface X86Placement {
  /** The memory map (with the crash region for a crash plan). */
  map: MemoryMap;
  /** Segments placed before (a crash plan's ELF core header). */
  pre: readonly Segment[];
  /** The bootparams buffer's size (`kbuf.bufsz`). */
  paramsBufsz: number;
  /** The kernel's protected-mode part (the bytes after the real-mode setup). */
  kernel: Uint8Array;
  /** `PAGE_ALIGN(init_size)`. */
  kernelMemsz: bigint;
  /** The setup header fields. */
  fields: X86LoadFields;
  initrd?: Uint8Array;
  /** Page size, exclusions, the generator of a seeded plan, crash. */
  opts: PlacementOptions;
}

/** One placement attempt: bootparams, kernel, initrd, in bzImage64_load's order. */
function placeX86(p: X86Placement): Placed {
  const { map, pre, paramsBufsz, kernel: kernelBytes, kernelMemsz, fields: f, initrd, opts } = p;
  const notes: string[] = [];
  // kbuf = { .buf_max = ULONG_MAX, .top_down = true }; kbuf.memsz = kbuf.bufsz; kbuf.buf_align = 16; kbuf.buf_min = MIN_BOOTPARAM_ADDR;
  const params = addBuffer(map, pre, { name: "bootparams", bytes: new Uint8Array(paramsBufsz), bufAlign: 16n, bufMin: MIN_BOOTPARAM_ADDR, bufMax: ULONG_MAX, topDown: true }, opts);
  notes.push(`bootparams (boot_params + command line + setup_data, ${paramsBufsz} bytes) at ${hex(params.mem)}: buf_min MIN_BOOTPARAM_ADDR ${hex(MIN_BOOTPARAM_ADDR)}, top-down`);
  // kbuf.memsz = PAGE_ALIGN(header->init_size); kbuf.buf_align = header->kernel_alignment;
  // if (header->pref_address < MIN_KERNEL_LOAD_ADDR) kbuf.buf_min = MIN_KERNEL_LOAD_ADDR; else kbuf.buf_min = header->pref_address;
  const kmin = f.prefAddress < MIN_KERNEL_LOAD_ADDR ? MIN_KERNEL_LOAD_ADDR : f.prefAddress;
  const kernel = addBuffer(map, [...pre, params], { name: "kernel", bytes: kernelBytes, memsz: kernelMemsz, bufAlign: BigInt(f.kernelAlignment), bufMin: kmin, bufMax: ULONG_MAX, topDown: true }, opts);
  notes.push(
    `kernel (the ${kernelBytes.length} bytes after the ${f.kern16Size}-byte real-mode setup) at ${hex(kernel.mem)}: memsz PAGE_ALIGN(init_size ${hex(f.initSize)}), ` +
      `aligned to kernel_alignment ${hex(f.kernelAlignment)}, at or above ${hex(kmin)} (max(pref_address ${hex(f.prefAddress)}, MIN_KERNEL_LOAD_ADDR)), top-down`,
  );
  const out: Placed = { params, kernel, notes };
  if (initrd) {
    // kbuf.bufsz = kbuf.memsz = initrd_len; kbuf.buf_align = PAGE_SIZE; kbuf.buf_min = MIN_INITRD_LOAD_ADDR; (buf_max still ULONG_MAX)
    const seg = addBuffer(map, [...pre, params, kernel], { name: "initrd", bytes: initrd, bufAlign: opts.pageSize, bufMin: MIN_INITRD_LOAD_ADDR, bufMax: ULONG_MAX, topDown: true }, opts);
    notes.push(
      `initrd at ${hex(seg.mem)}: buf_min MIN_INITRD_LOAD_ADDR ${hex(MIN_INITRD_LOAD_ADDR)}, page-aligned, top-down, buf_max ULONG_MAX ` +
        "(bzImage64_probe already required XLF_CAN_BE_LOADED_ABOVE_4G, so the kernel never applies initrd_addr_max)",
    );
    out.initrd = seg;
  }
  return out;
}
