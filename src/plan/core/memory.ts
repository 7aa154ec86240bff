/**
 * The memory model of placement plans: ranges, typed memory maps, segments,
 * and the checks the kernel applies to a segment list.
 *
 * All addresses and sizes are `bigint` physical byte addresses in
 * [0, 2^64]. Values are plain readonly objects (easy to print, compare and
 * build in tests); the functions never mutate their arguments.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";

/** Format id used in errors raised by the memory model. */
export const MEMORY_LAYER = "memory";

/** 2^64: one past the largest physical address. */
export const ADDRESS_LIMIT = 1n << 64n;

/** The page size kexec uses unless told otherwise (4 KiB). */
export const DEFAULT_PAGE_SIZE = 4096n;

/**
 * A half-open byte range `[start, start + size)`.
 *
 * Invariants (checked by {@link range}): `0 <= start`, `0 <= size`,
 * `start + size <= 2^64`.
 */
export interface Range {
  readonly start: bigint;
  readonly size: bigint;
}

/** A checked {@link Range}; throws `memory-bad-range` when it breaks the invariants. */
export function range(start: bigint, size: bigint): Range {
  if (start < 0n || size < 0n || start + size > ADDRESS_LIMIT) {
    throw new KimageError("memory-bad-range", `range ${hex(start)}+${hex(size)} is not inside [0, 2^64]`, {
      layer: MEMORY_LAYER,
      offset: -1,
    });
  }
  return { start, size };
}

/** The range `[start, end)` (end exclusive). */
export function rangeFromTo(start: bigint, end: bigint): Range {
  return range(start, end - start);
}

/** One past the last byte: `start + size`. */
export function rangeEnd(r: Range): bigint {
  return r.start + r.size;
}

/** True when `x` (an address, or a whole range) lies inside `r`. An empty range is inside `r` when its start is in `[start, end]`. */
export function rangeContains(r: Range, x: bigint | Range): boolean {
  if (typeof x === "bigint") return x >= r.start && x < rangeEnd(r);
  return x.start >= r.start && rangeEnd(x) <= rangeEnd(r);
}

/** True when the ranges share at least one byte (empty ranges overlap nothing). */
export function rangesOverlap(a: Range, b: Range): boolean {
  return a.size > 0n && b.size > 0n && a.start < rangeEnd(b) && b.start < rangeEnd(a);
}

/** The common bytes of `a` and `b`, or undefined when they share none. */
export function rangeIntersect(a: Range, b: Range): Range | undefined {
  const s = a.start > b.start ? a.start : b.start;
  const ea = rangeEnd(a);
  const eb = rangeEnd(b);
  const e = ea < eb ? ea : eb;
  return e > s ? { start: s, size: e - s } : undefined;
}

/** Rounds `x` down to a multiple of `align` (the kernel's ALIGN_DOWN). */
export function alignDown(x: bigint, align: bigint): bigint {
  return x - (((x % align) + align) % align);
}

/** Rounds `x` up to a multiple of `align` (the kernel's ALIGN). */
export function alignUpBig(x: bigint, align: bigint): bigint {
  return alignDown(x + align - 1n, align);
}

/** True for 1, 2, 4, 8, … */
export function isPowerOfTwo(x: bigint): boolean {
  return x > 0n && (x & (x - 1n)) === 0n;
}

/**
 * The largest sub-range of `r` whose start and end are multiples of `align`
 * (start rounded up, end rounded down), or undefined when none is left.
 */
export function alignRange(r: Range, align: bigint): Range | undefined {
  if (align <= 0n) throw new KimageError("bad-argument", `alignment ${align} is not positive`, { layer: MEMORY_LAYER, offset: -1 });
  const s = alignUpBig(r.start, align);
  const e = alignDown(rangeEnd(r), align);
  return e > s ? { start: s, size: e - s } : undefined;
}

/** `[start, end)` as `0xstart-0xend` (end exclusive, like u-root's String()). */
export function formatRange(r: Range): string {
  return `[${hex(r.start)}, ${hex(rangeEnd(r))})`;
}

/**
 * What a stretch of physical memory is, in the vocabulary of e820 and
 * /proc/iomem:
 *
 * - `ram`: usable System RAM (e820 type 1);
 * - `reserved`: firmware- or kernel-reserved (e820 2, iomem "Reserved"/"reserved",
 *   /reserved-memory, /memreserve/);
 * - `acpi`: ACPI tables, reclaimable (e820 3, "ACPI Tables");
 * - `nvs`: ACPI non-volatile storage (e820 4, "ACPI Non-volatile Storage");
 * - `unusable`: bad memory (e820 5, "Unusable memory");
 * - `pmem`: persistent memory (e820 7 and 12, "Persistent Memory");
 * - `crash`: RAM reserved for a crash kernel ("Crash kernel", crashk_res);
 * - `soft-reserved`: specific-purpose memory (e820 0xefffffff, "Soft Reserved").
 */
export type MemoryType = "ram" | "reserved" | "acpi" | "nvs" | "unusable" | "pmem" | "crash" | "soft-reserved";

/** All {@link MemoryType}s, in increasing precedence (a later type wins an overlap). */
export const MEMORY_TYPES: readonly MemoryType[] = ["ram", "crash", "soft-reserved", "pmem", "acpi", "nvs", "reserved", "unusable"];

/** True when `s` names a {@link MemoryType}. */
export function isMemoryType(s: string): s is MemoryType {
  return (MEMORY_TYPES as readonly string[]).includes(s);
}

/** A typed range of a {@link MemoryMap}. */
export interface MemoryRegion extends Range {
  readonly type: MemoryType;
}

/**
 * A physical memory map.
 *
 * Invariants (established by {@link memoryMap}): regions are sorted by
 * start, non-empty, pairwise disjoint, and two adjacent regions never have
 * the same type (they are merged).
 */
export interface MemoryMap {
  readonly regions: readonly MemoryRegion[];
}

/**
 * Normalizes any list of typed ranges into a {@link MemoryMap}: where
 * ranges overlap, the type of higher precedence ({@link MEMORY_TYPES}: the
 * more restrictive) wins — so a "reserved" range inside "ram" splits it, as
 * a /reserved-memory node or a nested iomem "Crash kernel" carves System RAM;
 * adjacent same-type ranges merge; empty ranges vanish.
 */
export function memoryMap(input: Iterable<{ start: bigint; size: bigint; type: MemoryType }>): MemoryMap {
  const items: MemoryRegion[] = [];
  for (const r of input) {
    range(r.start, r.size);
    if (!isMemoryType(r.type)) throw new KimageError("bad-argument", `unknown memory type "${String(r.type)}"`, { layer: MEMORY_LAYER, offset: -1 });
    if (r.size > 0n) items.push({ start: r.start, size: r.size, type: r.type });
  }
  // Sweep over the boundaries; at each elementary interval the winning type
  // is the highest-precedence type among the covering inputs.
  const points = [...new Set(items.flatMap((r) => [r.start, rangeEnd(r)]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rank = (t: MemoryType) => MEMORY_TYPES.indexOf(t);
  const events = new Map<bigint, { add: number[]; del: number[] }>();
  for (const r of items) {
    const k = rank(r.type);
    const s = events.get(r.start) ?? { add: [], del: [] };
    s.add.push(k);
    events.set(r.start, s);
    const e = events.get(rangeEnd(r)) ?? { add: [], del: [] };
    e.del.push(k);
    events.set(rangeEnd(r), e);
  }
  const counts = new Array<number>(MEMORY_TYPES.length).fill(0);
  const out: MemoryRegion[] = [];
  for (let i = 0; i < points.length - 1; i++) {
    const p = points[i]!;
    const ev = events.get(p)!;
    for (const k of ev.add) counts[k]!++;
    for (const k of ev.del) counts[k]!--;
    let top = -1;
    for (let k = counts.length - 1; k >= 0; k--) {
      if (counts[k]! > 0) {
        top = k;
        break;
      }
    }
    if (top < 0) continue;
    const type = MEMORY_TYPES[top]!;
    const next = points[i + 1]!;
    const last = out[out.length - 1];
    if (last && last.type === type && rangeEnd(last) === p) {
      out[out.length - 1] = { start: last.start, size: next - last.start, type };
    } else {
      out.push({ start: p, size: next - p, type });
    }
  }
  return { regions: out };
}

/** The regions of one type, in address order. */
export function regionsOfType(map: MemoryMap, type: MemoryType): Range[] {
  return map.regions.filter((r) => r.type === type).map((r) => ({ start: r.start, size: r.size }));
}

/**
 * Usable RAM: the `ram` regions, i.e. System RAM minus everything reserved,
 * firmware-owned or set aside for a crash kernel (normalization already
 * removed those). These are the ranges kexec's walk offers to a normal
 * image.
 */
export function ramRanges(map: MemoryMap): Range[] {
  return regionsOfType(map, "ram");
}

/** The crash kernel region(s) (`crashk_res`), where a crash image must live. */
export function crashRanges(map: MemoryMap): Range[] {
  return regionsOfType(map, "crash");
}

/** Total bytes of the given ranges. */
export function totalSize(ranges: readonly Range[]): bigint {
  return ranges.reduce((n, r) => n + r.size, 0n);
}

/**
 * `ranges` minus `holes`: sorted, disjoint pieces of the input ranges that
 * overlap no hole. Inputs need not be sorted.
 */
export function subtractRanges(ranges: readonly Range[], holes: readonly Range[]): Range[] {
  const hs = holes.filter((h) => h.size > 0n).slice().sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range[] = [];
  for (const r of ranges.slice().sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    let s = r.start;
    const e = rangeEnd(r);
    for (const h of hs) {
      const he = rangeEnd(h);
      if (he <= s || h.start >= e) continue;
      if (h.start > s) out.push({ start: s, size: h.start - s });
      if (he > s) s = he;
      if (s >= e) break;
    }
    if (e > s) out.push({ start: s, size: e - s });
  }
  return out;
}

/**
 * One kexec segment: bytes copied to physical address `mem`, followed by
 * zeros up to `memsz` (`struct kexec_segment { buf, bufsz, mem, memsz }`).
 *
 * Invariants the kernel enforces (kernel/kexec_core.c
 * `sanity_check_segment_list`), checked by {@link checkSegments}:
 * `bytes.length <= memsz` ("Ensure our buffer sizes are strictly less than
 * our memory sizes"), `mem` and `mem + memsz` page-aligned ("Since the kernel
 * does everything in page size chunks ensure the destination addresses are
 * page aligned"), no overlap between segments.
 */
export interface Segment {
  /** A name for messages and plans, e.g. `"kernel"`, `"initrd"`, `"dtb"`. */
  readonly name: string;
  /** The contents: a zero-copy view of the caller's buffer. */
  readonly bytes: Uint8Array;
  /** Physical load address. */
  readonly mem: bigint;
  /** Bytes reserved at `mem` (contents then zeros). */
  readonly memsz: bigint;
  /** Alignment the segment was placed with, when it matters to the plan. */
  readonly align?: bigint;
}

/** The range a segment occupies: `[mem, mem + memsz)`. */
export function segmentRange(s: { mem: bigint; memsz: bigint }): Range {
  return { start: s.mem, size: s.memsz };
}

/** Why a segment list would be refused (or misplaced). */
export type SegmentViolationCode =
  | "bytes-exceed-memsz"
  | "misaligned-mem"
  | "misaligned-memsz"
  | "misaligned-to-request"
  | "wraps"
  | "overlap"
  | "outside-ram"
  | "outside-crash"
  | "too-many-segments"
  | "exceeds-half-ram";

/** One named problem of a segment list. */
export interface SegmentViolation {
  code: SegmentViolationCode;
  /** The segment's name (the first one for `overlap`). */
  segment: string;
  /** The other segment, for `overlap`. */
  other?: string;
  message: string;
}

/** Options of {@link checkSegments}. */
export interface CheckSegmentsOptions {
  /** Page size (default 4096). */
  pageSize?: bigint;
  /** A crash image: every segment must lie inside a `crash` region instead of RAM. */
  crash?: boolean;
  /** Check `KEXEC_SEGMENT_MAX` (16 in include/linux/kexec.h). Default true. */
  checkCount?: boolean;
  /**
   * Check "Verify that no more than half of memory will be consumed", with
   * the `ram` + `crash` bytes of the map standing in for totalram_pages().
   * Default true.
   */
  checkHalfRam?: boolean;
}

/** `KEXEC_SEGMENT_MAX` from include/linux/kexec.h. */
export const KEXEC_SEGMENT_MAX = 16;

/**
 * Checks a segment list against a memory map the way the kernel would, and
 * more: returns every violation (an empty list means the list is good).
 *
 * From kernel/kexec_core.c `sanity_check_segment_list`:
 * ```
 * mstart = image->segment[i].mem;
 * mend   = mstart + image->segment[i].memsz;
 * if (mstart > mend)                                  -> "wraps"
 * if ((mstart & ~PAGE_MASK) || (mend & ~PAGE_MASK))   -> "misaligned-mem" / "misaligned-memsz"
 * if ((mend > pstart) && (mstart < pend)) return -EINVAL;  -> "overlap"
 * if (image->segment[i].bufsz > image->segment[i].memsz)   -> "bytes-exceed-memsz"
 * if (PAGE_COUNT(image->segment[i].memsz) > nr_pages / 2)  -> "exceeds-half-ram"
 * if (image->type == KEXEC_TYPE_CRASH) ... mstart < crashk_res.start || mend > crashk_res.end -> "outside-crash"
 * ```
 * Beyond the kernel (which trusts kexec_locate_mem_hole for this): every
 * segment must lie inside one `ram` region ("outside-ram"), and a segment
 * with an `align` must start at a multiple of it ("misaligned-to-request").
 */
export function checkSegments(segments: readonly Segment[], map: MemoryMap, options: CheckSegmentsOptions = {}): SegmentViolation[] {
  const page = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const out: SegmentViolation[] = [];
  const add = (code: SegmentViolationCode, s: Segment, message: string, other?: string) =>
    out.push(other === undefined ? { code, segment: s.name, message } : { code, segment: s.name, other, message });
  if ((options.checkCount ?? true) && segments.length > KEXEC_SEGMENT_MAX) {
    out.push({ code: "too-many-segments", segment: segments[KEXEC_SEGMENT_MAX]!.name, message: `${segments.length} segments exceed KEXEC_SEGMENT_MAX (${KEXEC_SEGMENT_MAX})` });
  }
  const allowed = options.crash ? crashRanges(map) : ramRanges(map);
  const where = options.crash ? "the crash kernel region" : "one RAM region";
  for (const s of segments) {
    const end = s.mem + s.memsz;
    // mend = mstart + memsz in unsigned long: reaching 2^64 wraps to 0 (mstart > mend).
    if (s.mem < 0n || s.memsz < 0n || end >= ADDRESS_LIMIT) {
      add("wraps", s, `${s.name}: ${hex(s.mem)}+${hex(s.memsz)} reaches 2^64 (mem + memsz wraps)`);
      continue;
    }
    if (BigInt(s.bytes.length) > s.memsz) add("bytes-exceed-memsz", s, `${s.name}: ${s.bytes.length} bytes exceed memsz ${hex(s.memsz)}`);
    if (s.mem % page !== 0n) add("misaligned-mem", s, `${s.name}: mem ${hex(s.mem)} is not a multiple of the page size ${hex(page)}`);
    if (end % page !== 0n) add("misaligned-memsz", s, `${s.name}: mem + memsz = ${hex(end)} is not a multiple of the page size ${hex(page)}`);
    if (s.align !== undefined && s.align > 0n && s.mem % s.align !== 0n) {
      add("misaligned-to-request", s, `${s.name}: mem ${hex(s.mem)} is not a multiple of its alignment ${hex(s.align)}`);
    }
    if (s.memsz > 0n && !allowed.some((r) => rangeContains(r, segmentRange(s)))) {
      add(options.crash ? "outside-crash" : "outside-ram", s, `${s.name}: ${formatRange(segmentRange(s))} is not inside ${where}`);
    }
  }
  for (let i = 0; i < segments.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = segments[i]!;
      const b = segments[j]!;
      if (rangesOverlap(segmentRange(a), segmentRange(b))) {
        add("overlap", a, `${a.name} ${formatRange(segmentRange(a))} overlaps ${b.name} ${formatRange(segmentRange(b))}`, b.name);
      }
    }
  }
  if (options.checkHalfRam ?? true) {
    const nrPages = (totalSize(ramRanges(map)) + totalSize(crashRanges(map))) / page;
    const pageCount = (m: bigint) => (m + page - 1n) / page;
    let total = 0n;
    for (const s of segments) {
      const pc = pageCount(s.memsz > 0n ? s.memsz : 0n);
      if (pc > nrPages / 2n) add("exceeds-half-ram", s, `${s.name}: ${pc} pages exceed half of RAM (${nrPages / 2n} pages)`);
      total += pc;
    }
    if (total > nrPages / 2n && !out.some((v) => v.code === "exceeds-half-ram") && segments.length > 0) {
      add("exceeds-half-ram", segments[0]!, `the segments' ${total} pages exceed half of RAM (${nrPages / 2n} pages)`);
    }
  }
  return out;
}
