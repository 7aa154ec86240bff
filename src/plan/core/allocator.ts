/**
 * Where kexec_file_load would put a buffer: kernel/kexec_file.c
 * `kexec_add_buffer` / `kexec_locate_mem_hole` as a pure function over a
 * {@link MemoryMap}.
 *
 * The kernel's search, quoted:
 *
 * ```
 * kexec_add_buffer():
 *   kbuf->memsz = ALIGN(kbuf->memsz, PAGE_SIZE);
 *   kbuf->buf_align = max(kbuf->buf_align, PAGE_SIZE);
 * kexec_walk_resources():
 *   if (kbuf->image->type == KEXEC_TYPE_CRASH)
 *     return walk_iomem_res_desc(crashk_res.desc, ..., crashk_res.start, crashk_res.end, kbuf, func);
 *   if (kbuf->top_down) return walk_system_ram_res_rev(0, ULONG_MAX, kbuf, func);
 *   else                return walk_system_ram_res(0, ULONG_MAX, kbuf, func);
 * locate_mem_hole_callback(res):           // end = res->end is inclusive
 *   if (sz < kbuf->memsz) return 0;
 *   if (end < kbuf->buf_min || start > kbuf->buf_max) return 0;
 * locate_mem_hole_top_down(start, end):
 *   temp_end = min(end, kbuf->buf_max);
 *   temp_start = temp_end - kbuf->memsz + 1;
 *   do {
 *     temp_start = ALIGN_DOWN(temp_start, kbuf->buf_align);
 *     if (temp_start < start || temp_start < kbuf->buf_min) return 0;
 *     temp_end = temp_start + kbuf->memsz - 1;
 *     if (kimage_is_destination_range(image, temp_start, temp_end)) { temp_start = temp_start - PAGE_SIZE; continue; }
 *     if (arch_check_excluded_range(image, temp_start, temp_end)) { temp_start = temp_start - PAGE_SIZE; continue; }
 *     break;
 *   } while (1);
 *   kbuf->mem = temp_start; return 1;
 * locate_mem_hole_bottom_up(start, end):
 *   temp_start = max(start, kbuf->buf_min);
 *   do {
 *     temp_start = ALIGN(temp_start, kbuf->buf_align);
 *     temp_end = temp_start + kbuf->memsz - 1;
 *     if (temp_end > end || temp_end > kbuf->buf_max) return 0;
 *     ...conflicts: temp_start = temp_start + PAGE_SIZE; continue;
 *   } while (1);
 * kimage_is_destination_range(): mend = mstart + memsz - 1; if ((end >= mstart) && (start <= mend)) return 1;
 * ```
 *
 * **Arithmetic instead of page stepping.** Every candidate is a multiple of
 * `buf_align` (A), and A is a power of two >= PAGE_SIZE (P), so stepping by P
 * and re-aligning moves by exactly A: `ALIGN_DOWN(t - P, A) = t - A` and
 * `ALIGN(t + P, A) = t + A`. While a candidate window overlaps a conflict c,
 * every further candidate up to the first one clear of c overlaps it too
 * (top-down: all t' > c.start - memsz; bottom-up: all t' <= c.end), so this
 * module jumps straight to that first clear candidate: the largest
 * `t - k*A <= c.start - memsz` (top-down, with the lowest-starting
 * overlapping conflict) or the smallest `t + k*A > c.end` (bottom-up, with
 * the highest-ending one). Each jump passes a whole conflict, so a search
 * costs O(conflicts^2) per RAM range instead of O(range / PAGE_SIZE), and
 * lands on the kernel's answer (tests compare with the literal loop).
 *
 * **Where the kernel's unsigned arithmetic wraps**, the result is a segment
 * that `sanity_check_segment_list` then refuses (`mstart > mend`): top-down
 * when `min(end, buf_max) + 1 < memsz`, or when every candidate down to
 * address 0 conflicts (`temp_start - PAGE_SIZE` wraps to the top). Since the
 * kernel stops walking once the callback returns 1, the whole request fails
 * there; this module throws `plan-no-hole` saying so.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import {
  ADDRESS_LIMIT,
  DEFAULT_PAGE_SIZE,
  KEXEC_SEGMENT_MAX,
  alignDown,
  alignUpBig,
  crashRanges,
  formatRange,
  isPowerOfTwo,
  ramRanges,
  rangeEnd,
  subtractRanges,
  type MemoryMap,
  type Range,
  type Segment,
} from "./memory.js";
import { countAligned, type Rng } from "./random.js";

/** Format id used in errors raised by the planner. */
export const PLAN_LAYER = "plan";

/** `ULONG_MAX` on 64-bit: the default `buf_max`. */
export const ULONG_MAX = ADDRESS_LIMIT - 1n;

/**
 * A placement request: the fields of `struct kexec_buf`
 * (include/linux/kexec.h) that steer the search.
 */
export interface HoleRequest {
  /** For messages. */
  name?: string;
  /** `bufsz`: bytes of content (default 0; must be <= memsz). */
  bufsz?: bigint;
  /** `memsz`: bytes to reserve (> 0; rounded up to the page size). */
  memsz: bigint;
  /** `buf_align`: a power of two (default 1; raised to the page size). */
  bufAlign?: bigint;
  /** `buf_min`: lowest acceptable start (default 0). */
  bufMin?: bigint;
  /** `buf_max`: highest acceptable **last byte**, inclusive (default ULONG_MAX). */
  bufMax?: bigint;
  /** `top_down`: search from high addresses down (default false). */
  topDown?: boolean;
}

/** Context of a search: what the kernel knows besides the request. */
export interface LocateOptions {
  /** `PAGE_SIZE` (default 4096): a power of two. */
  pageSize?: bigint;
  /** Segments already added (`image->segment[]`), avoided as `kimage_is_destination_range` does. */
  placed?: readonly { mem: bigint; memsz: bigint }[];
  /** Ranges to avoid as well (`arch_check_excluded_range`, e.g. powerpc's exclude ranges). */
  exclude?: readonly Range[];
  /** `KEXEC_TYPE_CRASH`: search only the `crash` regions (crashk_res), always walked upward. */
  crash?: boolean;
  /** Which version of the search the loading kernel runs (default: the current one, {@link CURRENT_HOLE_SEARCH}). */
  search?: HoleSearch;
  /**
   * Draw the position uniformly among **all** valid aligned positions in
   * every eligible range, instead of the kernel's top-most / bottom-most
   * one. Deterministic for a given generator state.
   */
  random?: Rng;
}

/**
 * The two ways older kernels search differently, as measured by the
 * placement referee (test/plan/referee/: Debian's 6.1 against its 6.12 and
 * 7.x, on the same QEMU machine):
 *
 * - `topDownWalk`: "descending" is today's
 *   `if (kbuf->top_down) return walk_system_ram_res_rev(0, ULONG_MAX, kbuf, func);`;
 *   "ascending" is 6.1's `kexec_walk_resources`, which has only
 *   `walk_system_ram_res(0, ULONG_MAX, kbuf, func)`: a top-down buffer then
 *   goes to the top of the **lowest** System RAM range that takes it (6.1's
 *   purgatory and boot_params land below 640 KiB, at 0x9a000 and 0x98000).
 * - `topDownFirst`: "end-memsz+1" is today's
 *   `temp_start = temp_end - kbuf->memsz + 1;`; "end-memsz" is 6.1's
 *   `temp_start = temp_end - kbuf->memsz;`, one byte lower, which after
 *   `ALIGN_DOWN` leaves the top page of a range free when memsz is a
 *   multiple of the alignment (6.1's initrd: 0x3ffde000, not 0x3ffdf000).
 */
export interface HoleSearch {
  topDownWalk: "descending" | "ascending";
  topDownFirst: "end-memsz+1" | "end-memsz";
}

/** The search of current kernels (6.12, 7.x). */
export const CURRENT_HOLE_SEARCH: HoleSearch = { topDownWalk: "descending", topDownFirst: "end-memsz+1" };

/** The search of Debian bookworm's 6.1 kernels (see {@link HoleSearch}). */
export const LEGACY_HOLE_SEARCH: HoleSearch = { topDownWalk: "ascending", topDownFirst: "end-memsz" };

/** A found hole. */
export interface Hole {
  /** Start address (a multiple of `align`). */
  mem: bigint;
  /** The page-rounded memsz. */
  memsz: bigint;
  /** The effective alignment, max(bufAlign, pageSize). */
  align: bigint;
  /** The request's bufsz. */
  bufsz: bigint;
}

/** A request after kexec_add_buffer's adjustments (see {@link normalizeRequest}). */
export interface NormalizedRequest {
  name: string;
  bufsz: bigint;
  memsz: bigint;
  align: bigint;
  min: bigint;
  max: bigint;
  topDown: boolean;
  page: bigint;
}

function badArg(message: string): never {
  throw new KimageError("bad-argument", message, { layer: PLAN_LAYER, offset: -1 });
}

/** The request as kexec_add_buffer hands it to the search (page-rounded memsz, alignment >= page). */
export function normalizeRequest(req: HoleRequest, pageSize: bigint = DEFAULT_PAGE_SIZE): NormalizedRequest {
  const page = pageSize;
  if (!isPowerOfTwo(page)) badArg(`page size ${hex(page)} is not a power of two`);
  const bufAlign = req.bufAlign ?? 1n;
  // 0 is what the kernel's callers pass for "no alignment" (e.g. arm64's initrd: "kbuf.buf_align = 0");
  // kexec_add_buffer raises it to PAGE_SIZE like any other small value.
  if (bufAlign !== 0n && !isPowerOfTwo(bufAlign)) badArg(`buf_align ${hex(bufAlign)} is not a power of two`);
  if (req.memsz <= 0n || req.memsz >= ADDRESS_LIMIT) badArg(`memsz ${hex(req.memsz)} is not in (0, 2^64)`);
  const bufsz = req.bufsz ?? 0n;
  if (bufsz < 0n || bufsz > req.memsz) badArg(`bufsz ${hex(bufsz)} exceeds memsz ${hex(req.memsz)}`);
  const min = req.bufMin ?? 0n;
  const max = req.bufMax ?? ULONG_MAX;
  if (min < 0n || max < 0n || min > ULONG_MAX || max > ULONG_MAX) badArg(`buf_min/buf_max ${hex(min)}/${hex(max)} are not u64`);
  return {
    name: req.name ?? "buffer",
    bufsz,
    // kbuf->memsz = ALIGN(kbuf->memsz, PAGE_SIZE);
    memsz: alignUpBig(req.memsz, page),
    // kbuf->buf_align = max(kbuf->buf_align, PAGE_SIZE);
    align: bufAlign > page ? bufAlign : page,
    min,
    max,
    topDown: req.topDown ?? false,
    page,
  };
}

/** Inclusive conflict intervals (segments, then exclusions). */
interface Conflict {
  start: bigint;
  last: bigint;
}

function conflictsOf(opts: LocateOptions): Conflict[] {
  const out: Conflict[] = [];
  for (const s of opts.placed ?? []) if (s.memsz > 0n) out.push({ start: s.mem, last: s.mem + s.memsz - 1n });
  for (const r of opts.exclude ?? []) if (r.size > 0n) out.push({ start: r.start, last: rangeEnd(r) - 1n });
  return out;
}

type Outcome = { kind: "found"; mem: bigint } | { kind: "next" } | { kind: "wrap"; why: string };

/** locate_mem_hole_top_down over one resource [start, end] (end inclusive), arithmetically. */
function topDown(start: bigint, end: bigint, k: NormalizedRequest, cs: readonly Conflict[], search: HoleSearch): Outcome {
  const tempEnd = end < k.max ? end : k.max;
  // temp_start = temp_end - kbuf->memsz + 1;   (6.1: temp_start = temp_end - kbuf->memsz;)
  const x = tempEnd - k.memsz + (search.topDownFirst === "end-memsz" ? 0n : 1n);
  if (x < 0n) return { kind: "wrap", why: `min(end ${hex(end)}, buf_max ${hex(k.max)}) - memsz + 1 is negative` };
  const lower = start > k.min ? start : k.min;
  let t = alignDown(x, k.align);
  for (;;) {
    if (t < start || t < k.min) return { kind: "next" };
    const last = t + k.memsz - 1n;
    let low: Conflict | undefined;
    for (const c of cs) if (last >= c.start && t <= c.last && (!low || c.start < low.start)) low = c;
    if (!low) return { kind: "found", mem: t };
    const target = low.start - k.memsz; // the first clear candidate is <= target
    if (target < 0n) {
      // Every candidate down to 0 overlaps `low`; with a lower bound of 0 the
      // kernel then steps below 0 and wraps.
      return lower > 0n ? { kind: "next" } : { kind: "wrap", why: "every candidate down to address 0 conflicts, and temp_start - PAGE_SIZE wraps" };
    }
    t -= k.align * ((t - target + k.align - 1n) / k.align);
  }
}

/** locate_mem_hole_bottom_up over one resource [start, end] (end inclusive), arithmetically. */
function bottomUp(start: bigint, end: bigint, k: NormalizedRequest, cs: readonly Conflict[]): Outcome {
  let t = alignUpBig(start > k.min ? start : k.min, k.align);
  for (;;) {
    const last = t + k.memsz - 1n;
    if (last > end || last > k.max) return { kind: "next" };
    let high: Conflict | undefined;
    for (const c of cs) if (last >= c.start && t <= c.last && (!high || c.last > high.last)) high = c;
    if (!high) return { kind: "found", mem: t };
    t += k.align * ((high.last - t) / k.align + 1n);
  }
}

/** The resources the kernel walks, in its order, as [start, end-inclusive]. */
function walkOrder(map: MemoryMap, k: NormalizedRequest, opts: LocateOptions): Range[] {
  if (opts.crash) return crashRanges(map);
  const ram = ramRanges(map);
  return k.topDown && (opts.search ?? CURRENT_HOLE_SEARCH).topDownWalk === "descending" ? ram.reverse() : ram;
}

/** locate_mem_hole_callback's filter. */
function eligible(r: Range, k: NormalizedRequest): boolean {
  const end = rangeEnd(r) - 1n;
  if (r.size < k.memsz) return false;
  if (end < k.min || r.start > k.max) return false;
  return true;
}

/** The free pieces of the walked ranges inside [buf_min, buf_max], conflicts removed. */
export function freeSpans(map: MemoryMap, req: HoleRequest, opts: LocateOptions = {}): Range[] {
  const k = normalizeRequest(req, opts.pageSize);
  return freeOf(map, k, opts, false);
}

function freeOf(map: MemoryMap, k: NormalizedRequest, opts: LocateOptions, onlyEligible: boolean): Range[] {
  const window: Range = { start: k.min, size: k.max + 1n - k.min };
  const holes: Range[] = conflictsOf(opts).map((c) => ({ start: c.start, size: c.last - c.start + 1n }));
  const out: Range[] = [];
  for (const r of walkOrder(map, k, opts)) {
    if (onlyEligible && !eligible(r, k)) continue;
    const s = r.start > window.start ? r.start : window.start;
    const e = rangeEnd(r) < rangeEnd(window) ? rangeEnd(r) : rangeEnd(window);
    if (e <= s) continue;
    out.push(...subtractRanges([{ start: s, size: e - s }], holes));
  }
  return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** The largest free span {@link freeSpans} finds, or undefined. */
export function largestFreeSpan(map: MemoryMap, req: HoleRequest, opts: LocateOptions = {}): Range | undefined {
  let best: Range | undefined;
  for (const r of freeSpans(map, req, opts)) if (!best || r.size > best.size) best = r;
  return best;
}

function noHole(map: MemoryMap, k: NormalizedRequest, opts: LocateOptions, why?: string): never {
  let best: Range | undefined;
  for (const r of freeOf(map, k, opts, false)) if (!best || r.size > best.size) best = r;
  const where = opts.crash ? "the crash kernel region" : "RAM";
  const req = `memsz ${hex(k.memsz)} (bufsz ${hex(k.bufsz)}), align ${hex(k.align)}, min ${hex(k.min)}, max ${hex(k.max)}, ${k.topDown ? "top-down" : "bottom-up"}`;
  const largest = best ? `the largest free hole in ${where} within [min, max] is ${formatRange(best)} (${hex(best.size)} bytes)` : `there is no free memory in ${where} within [min, max]`;
  throw new KimageError("plan-no-hole", `no hole for ${k.name}: ${req}; ${why ? why + "; " : ""}${largest}`, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * kexec_locate_mem_hole: the start address the kernel would choose for
 * `req` (after kexec_add_buffer's rounding), or a uniformly random valid one
 * with `options.random`.
 *
 * @throws KimageError `plan-no-hole` (message: the request, and the largest
 *   free hole) when no range has room, or the kernel's arithmetic would wrap;
 *   `bad-argument` for an invalid request.
 */
export function locateMemHole(map: MemoryMap, req: HoleRequest, options: LocateOptions = {}): Hole {
  const k = normalizeRequest(req, options.pageSize);
  const cs = conflictsOf(options);
  const hole = (mem: bigint): Hole => ({ mem, memsz: k.memsz, align: k.align, bufsz: k.bufsz });
  if (options.random) {
    const spans = freeOf(map, k, options, true);
    const counts = spans.map((s) => countAligned(s, k.memsz, k.align));
    const total = counts.reduce((a, b) => a + b, 0n);
    if (total === 0n) noHole(map, k, options);
    let i = options.random.below(total);
    for (let j = 0; j < spans.length; j++) {
      const n = counts[j]!;
      if (i < n) return hole(alignUpBig(spans[j]!.start, k.align) + i * k.align);
      i -= n;
    }
  }
  for (const r of walkOrder(map, k, options)) {
    if (!eligible(r, k)) continue;
    const end = rangeEnd(r) - 1n;
    const o = k.topDown ? topDown(r.start, end, k, cs, options.search ?? CURRENT_HOLE_SEARCH) : bottomUp(r.start, end, k, cs);
    if (o.kind === "found") return hole(o.mem);
    if (o.kind === "wrap") noHole(map, k, options, `in ${formatRange(r)} the kernel's arithmetic wraps (${o.why}) and sanity_check_segment_list would refuse the result`);
  }
  return noHole(map, k, options);
}

/** A buffer to add: its contents and the request fields. */
export interface BufferRequest extends Omit<HoleRequest, "bufsz" | "memsz" | "name"> {
  name: string;
  bytes: Uint8Array;
  /** Bytes to reserve; default `bytes.length`. */
  memsz?: bigint;
}

/**
 * kexec_add_buffer: places `buf` avoiding `segments` and returns the new
 * {@link Segment} (with `bytes` the caller's view, `memsz` page-rounded,
 * `align` the effective alignment). Pure: `segments` is not modified.
 *
 * @throws KimageError `limit` beyond KEXEC_SEGMENT_MAX ("if
 *   (kbuf->image->nr_segments >= KEXEC_SEGMENT_MAX) return -EINVAL;"),
 *   `plan-no-hole`, `bad-argument`.
 */
export function addBuffer(map: MemoryMap, segments: readonly Segment[], buf: BufferRequest, options: Omit<LocateOptions, "placed"> = {}): Segment {
  if (segments.length >= KEXEC_SEGMENT_MAX) {
    throw new KimageError("limit", `${buf.name}: already ${segments.length} segments (KEXEC_SEGMENT_MAX is ${KEXEC_SEGMENT_MAX})`, { layer: PLAN_LAYER, offset: -1 });
  }
  const bufsz = BigInt(buf.bytes.length);
  const h = locateMemHole(
    map,
    { ...buf, bufsz, memsz: buf.memsz ?? (bufsz > 0n ? bufsz : 1n) },
    { ...options, placed: segments },
  );
  return { name: buf.name, bytes: buf.bytes, mem: h.mem, memsz: h.memsz, align: h.align };
}
