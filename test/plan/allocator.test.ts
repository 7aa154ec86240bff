// kexec_locate_mem_hole as a pure function: hand-computed placements, the
// named failure, crash confinement, and a literal transcription of the
// kernel's page-stepping loop compared with the arithmetic version on
// thousands of generated cases.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isKimageError } from "../../src/core/errors.js";
import { addBuffer, locateMemHole, type HoleRequest, type LocateOptions } from "../../src/plan/core/allocator.js";
import { checkSegments, crashRanges, memoryMap, ramRanges, rangeEnd, type MemoryMap, type Range, type Segment } from "../../src/plan/core/memory.js";
import { createRng } from "../../src/plan/core/random.js";

const K = 1024n;
const M = 1n << 20n;
const G = 1n << 30n;
const PAGE = 4096n;
const U64 = (1n << 64n) - 1n;

function noHoleMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isKimageError(e, "plan-no-hole")) return e.message;
    throw e;
  }
  throw new Error("expected plan-no-hole");
}

describe("hand-computed placements (kernel rules written out)", () => {
  const ram1G: MemoryMap = memoryMap([{ start: G, size: G, type: "ram" }]); // [0x40000000, 0x80000000)

  it("top-down, page alignment forced, memsz rounded", () => {
    // memsz = ALIGN(0x1234, 0x1000) = 0x2000; buf_align = max(1, 0x1000) = 0x1000
    // temp_end = min(0x7fffffff, ULONG_MAX) = 0x7fffffff
    // temp_start = 0x7fffffff - 0x2000 + 1 = 0x7fffe000; ALIGN_DOWN(.., 0x1000) = 0x7fffe000
    const h = locateMemHole(ram1G, { memsz: 0x1234n, bufsz: 0x1234n, topDown: true });
    expect(h).toEqual({ mem: 0x7fffe000n, memsz: 0x2000n, align: PAGE, bufsz: 0x1234n });
  });

  it("bottom-up", () => {
    // temp_start = ALIGN(max(0x40000000, 0), 0x1000) = 0x40000000; temp_end = 0x40001fff <= end
    expect(locateMemHole(ram1G, { memsz: 0x1234n }).mem).toBe(0x40000000n);
    // buf_min 0x40000001: ALIGN(0x40000001, 0x1000) = 0x40001000
    expect(locateMemHole(ram1G, { memsz: 0x1000n, bufMin: 0x40000001n }).mem).toBe(0x40001000n);
  });

  it("alignment larger than the page size", () => {
    // temp_start = 0x7fffffff - 0x1000 + 1 = 0x7ffff000; ALIGN_DOWN(.., 2 MiB) = 0x7fe00000
    expect(locateMemHole(ram1G, { memsz: 0x1000n, bufAlign: 2n * M, topDown: true }).mem).toBe(0x7fe00000n);
    // bottom-up with buf_min 0x40000001: ALIGN(0x40000001, 2 MiB) = 0x40200000
    expect(locateMemHole(ram1G, { memsz: 0x1000n, bufAlign: 2n * M, bufMin: 0x40000001n }).mem).toBe(0x40200000n);
  });

  it("steps past an existing segment the way the loop does", () => {
    // segment [0x7fe00000, 0x80000000); request memsz 0x300000, align 2 MiB, top-down:
    // temp_start = 0x7fffffff - 0x300000 + 1 = 0x7fd00000 -> ALIGN_DOWN 2M = 0x7fc00000,
    //   window [0x7fc00000, 0x7fefffff] overlaps the segment -> 0x7fc00000 - 0x1000 = 0x7fbff000
    // -> ALIGN_DOWN 2M = 0x7fa00000, window [0x7fa00000, 0x7fcfffff] is clear -> 0x7fa00000
    const placed = [{ mem: 0x7fe00000n, memsz: 2n * M }];
    expect(locateMemHole(ram1G, { memsz: 3n * M, bufAlign: 2n * M, topDown: true }, { placed }).mem).toBe(0x7fa00000n);
    // bottom-up with a segment at [0x40000000, 0x40003000): 0x40000000 overlaps -> +0x1000 ... -> 0x40003000
    expect(locateMemHole(ram1G, { memsz: PAGE }, { placed: [{ mem: G, memsz: 3n * PAGE }] }).mem).toBe(0x40003000n);
  });

  it("buf_max is the highest last byte", () => {
    // temp_end = min(0x7fffffff, 0x5fffffff) = 0x5fffffff; temp_start = 0x5ff00000
    expect(locateMemHole(ram1G, { memsz: M, bufMax: 0x5fffffffn, topDown: true }).mem).toBe(0x5ff00000n);
    // bottom-up: temp_end = 0x400fffff > buf_max 0x400ffffe -> no hole in the only range
    expect(() => locateMemHole(ram1G, { memsz: M, bufMax: 0x400ffffen })).toThrowError(expect.objectContaining({ code: "plan-no-hole" }));
  });

  it("a hole exactly big enough, and one page too small (named error with the largest hole)", () => {
    // RAM [0x40000000, 0x40400000) minus reserved [0x40100000, 0x40200000):
    // ranges [0x40000000, 0x40100000) and [0x40200000, 0x40400000) (0x200000 bytes).
    const map = memoryMap([
      { start: G, size: 4n * M, type: "ram" },
      { start: G + M, size: M, type: "reserved" },
    ]);
    // walk_system_ram_res_rev: the upper range first; sz 0x200000 >= memsz;
    // temp_start = 0x403fffff - 0x200000 + 1 = 0x40200000 -> fits exactly.
    expect(locateMemHole(map, { memsz: 2n * M, topDown: true }).mem).toBe(0x40200000n);
    expect(locateMemHole(map, { memsz: 2n * M }).mem).toBe(0x40200000n);
    // memsz 0x200001 -> ALIGN 0x201000 > both ranges -> -EADDRNOTAVAIL
    const msg = noHoleMessage(() => locateMemHole(map, { name: "initrd", memsz: 2n * M + 1n, bufAlign: 0x10000n, topDown: true }));
    expect(msg).toContain("initrd");
    expect(msg).toContain("memsz 0x201000");
    expect(msg).toContain("align 0x10000");
    expect(msg).toContain("min 0x0");
    expect(msg).toContain("max 0xffffffffffffffff");
    expect(msg).toContain("[0x40200000, 0x40400000) (0x200000 bytes)");
  });

  it("a map with reserved holes: top-down skips to the next lower RAM range", () => {
    // RAM [1G, 2G), reserved [2G-16M, 2G-8M), acpi [2G-8M, 2G): top RAM range ends at 2G-16M.
    const map = memoryMap([
      { start: G, size: G, type: "ram" },
      { start: 2n * G - 16n * M, size: 8n * M, type: "reserved" },
      { start: 2n * G - 8n * M, size: 8n * M, type: "acpi" },
    ]);
    // temp_start = (2G-16M-1) - 32M + 1 = 2G - 48M = 0x7d000000
    expect(locateMemHole(map, { memsz: 32n * M, topDown: true }).mem).toBe(0x7d000000n);
  });

  it("crash images are confined to crashk_res", () => {
    const map = memoryMap([
      { start: G, size: G, type: "ram" },
      { start: 0x50000000n, size: 64n * M, type: "crash" },
    ]);
    // crash: only [0x50000000, 0x54000000); top-down: temp_start = 0x53ffffff - 1M + 1 = 0x53f00000
    expect(locateMemHole(map, { memsz: M, topDown: true }, { crash: true }).mem).toBe(0x53f00000n);
    expect(locateMemHole(map, { memsz: M }, { crash: true }).mem).toBe(0x50000000n);
    // a normal image never lands in the crash region: top of RAM is 0x7ff00000
    expect(locateMemHole(map, { memsz: M, topDown: true }).mem).toBe(0x7ff00000n);
    expect(() => locateMemHole(map, { memsz: 65n * M }, { crash: true })).toThrowError(expect.objectContaining({ code: "plan-no-hole" }));
  });

  it("where the kernel's unsigned arithmetic wraps, the request fails (and says why)", () => {
    const low = memoryMap([{ start: 0n, size: 16n * M, type: "ram" }]);
    // min(end, buf_max) + 1 = 0x1000 < memsz 0x2000: temp_start wraps past 0.
    expect(noHoleMessage(() => locateMemHole(low, { memsz: 0x2000n, bufMax: 0xfffn, topDown: true }))).toContain("wraps");
    // With align 2 MiB the wrapped temp_start (2^64 - 2 MiB) does not even reach
    // 2^64 + memsz: the kernel would accept a segment far outside RAM.
    expect(noHoleMessage(() => locateMemHole(low, { memsz: 0x2000n, bufMax: 0x1000n, bufAlign: 2n * M, topDown: true }))).toContain("wraps");
    // Every candidate down to 0 conflicts: temp_start - PAGE_SIZE wraps.
    expect(noHoleMessage(() => locateMemHole(low, { memsz: 0x2000n, topDown: true }, { placed: [{ mem: 0n, memsz: 16n * M }] }))).toContain("wraps");
  });

  it("bad requests are bad arguments", () => {
    for (const req of [{ memsz: 0n }, { memsz: 1n, bufAlign: 3n }, { memsz: 1n, bufsz: 2n }] as HoleRequest[]) {
      expect(() => locateMemHole(ram1G, req)).toThrowError(expect.objectContaining({ code: "bad-argument" }));
    }
    expect(() => locateMemHole(ram1G, { memsz: 1n }, { pageSize: 3000n })).toThrowError(expect.objectContaining({ code: "bad-argument" }));
  });

  it("a page size other than 4096 (arm64 64K pages)", () => {
    // memsz ALIGN(0x1234, 0x10000) = 0x10000; temp_start = 0x7fffffff - 0x10000 + 1 = 0x7fff0000
    const h = locateMemHole(ram1G, { memsz: 0x1234n, topDown: true }, { pageSize: 0x10000n });
    expect([h.mem, h.memsz, h.align]).toEqual([0x7fff0000n, 0x10000n, 0x10000n]);
  });
});

// ---------------------------------------------------------------------------
// The kernel's loop, transcribed literally (u64 arithmetic, page stepping).

const wrap = (x: bigint) => ((x % (1n << 64n)) + (1n << 64n)) % (1n << 64n);
const ALIGN_DOWN = (x: bigint, a: bigint) => wrap(x) & ~(a - 1n) & U64;
const ALIGN = (x: bigint, a: bigint) => wrap(x + a - 1n) & ~(a - 1n) & U64;

interface KBuf {
  memsz: bigint;
  buf_align: bigint;
  buf_min: bigint;
  buf_max: bigint;
  top_down: boolean;
  mem?: bigint;
}

function kernelLocate(map: MemoryMap, req: HoleRequest, opts: LocateOptions): bigint | "fail" {
  const P = opts.pageSize ?? PAGE;
  // kexec_add_buffer
  const kbuf: KBuf = {
    memsz: ALIGN(req.memsz, P),
    buf_align: (req.bufAlign ?? 1n) > P ? (req.bufAlign ?? 1n) : P,
    buf_min: req.bufMin ?? 0n,
    buf_max: req.bufMax ?? U64,
    top_down: req.topDown ?? false,
  };
  const isDest = (start: bigint, end: bigint) =>
    (opts.placed ?? []).some((s) => {
      const mstart = s.mem;
      const mend = wrap(mstart + s.memsz - 1n);
      return end >= mstart && start <= mend;
    });
  const excluded = (start: bigint, end: bigint) => (opts.exclude ?? []).some((r) => end >= r.start && start <= rangeEnd(r) - 1n);
  let steps = 0;
  const topDown = (start: bigint, end: bigint): number => {
    let temp_end = end < kbuf.buf_max ? end : kbuf.buf_max;
    let temp_start = wrap(temp_end - kbuf.memsz + 1n);
    do {
      if (++steps > 1_000_000) throw new Error("runaway");
      temp_start = ALIGN_DOWN(temp_start, kbuf.buf_align);
      if (temp_start < start || temp_start < kbuf.buf_min) return 0;
      temp_end = wrap(temp_start + kbuf.memsz - 1n);
      if (isDest(temp_start, temp_end)) {
        temp_start = wrap(temp_start - P);
        continue;
      }
      if (excluded(temp_start, temp_end)) {
        temp_start = wrap(temp_start - P);
        continue;
      }
      break;
    } while (true); // eslint-disable-line no-constant-condition -- the kernel's do { } while (1)
    kbuf.mem = temp_start;
    return 1;
  };
  const bottomUp = (start: bigint, end: bigint): number => {
    let temp_start = start > kbuf.buf_min ? start : kbuf.buf_min;
    let temp_end: bigint;
    do {
      if (++steps > 1_000_000) throw new Error("runaway");
      temp_start = ALIGN(temp_start, kbuf.buf_align);
      temp_end = wrap(temp_start + kbuf.memsz - 1n);
      if (temp_end > end || temp_end > kbuf.buf_max) return 0;
      if (isDest(temp_start, temp_end)) {
        temp_start = wrap(temp_start + P);
        continue;
      }
      if (excluded(temp_start, temp_end)) {
        temp_start = wrap(temp_start + P);
        continue;
      }
      break;
    } while (true); // eslint-disable-line no-constant-condition -- the kernel's do { } while (1)
    kbuf.mem = temp_start;
    return 1;
  };
  const callback = (r: Range): number => {
    const start = r.start;
    const end = rangeEnd(r) - 1n;
    const sz = end - start + 1n;
    if (sz < kbuf.memsz) return 0;
    if (end < kbuf.buf_min || start > kbuf.buf_max) return 0;
    return kbuf.top_down ? topDown(start, end) : bottomUp(start, end);
  };
  const walk = opts.crash ? crashRanges(map) : kbuf.top_down ? ramRanges(map).reverse() : ramRanges(map);
  for (const r of walk) {
    if (callback(r) === 1) {
      const mem = kbuf.mem!;
      // sanity_check_segment_list: mend = mstart + memsz wraps to <= mstart -> -EADDRNOTAVAIL
      if (mem + kbuf.memsz >= 1n << 64n) return "fail";
      // A wrapped temp_start can also land high in the address space without
      // reaching 2^64 (align > end + 2): the kernel would accept a segment
      // outside the resource it walked, i.e. outside RAM; kimage refuses it.
      if (mem < r.start || mem + kbuf.memsz > rangeEnd(r)) return "fail";
      return mem;
    }
  }
  return "fail";
}

function ours(map: MemoryMap, req: HoleRequest, opts: LocateOptions): bigint | "fail" {
  try {
    return locateMemHole(map, req, opts).mem;
  } catch (e) {
    if (isKimageError(e, "plan-no-hole")) return "fail";
    throw e;
  }
}

const SPAN = 8n * M;
const pageAddr = (max: bigint) => fc.bigInt({ min: 0n, max: max / PAGE }).map((p) => p * PAGE);
const anyAddr = (max: bigint) => fc.oneof(pageAddr(max), fc.bigInt({ min: 0n, max }));
const typeArb = fc.constantFrom("ram", "ram", "ram", "reserved", "crash" as const);
const mapArb = fc
  .array(fc.record({ start: pageAddr(SPAN), size: fc.bigInt({ min: 1n, max: 3n * M / PAGE }).map((p) => p * PAGE), type: typeArb }), { minLength: 1, maxLength: 6 })
  .map((rs) => memoryMap(rs));
const requestArb: fc.Arbitrary<HoleRequest> = fc.record(
  {
    memsz: fc.bigInt({ min: 1n, max: 2n * M }),
    bufAlign: fc.integer({ min: 0, max: 21 }).map((k) => 1n << BigInt(k)),
    bufMin: fc.oneof({ arbitrary: fc.constant(0n), weight: 2 }, { arbitrary: anyAddr(SPAN), weight: 1 }),
    bufMax: fc.oneof({ arbitrary: fc.constant(U64), weight: 2 }, { arbitrary: anyAddr(SPAN + M), weight: 1 }),
    topDown: fc.boolean(),
  },
  { requiredKeys: ["memsz", "topDown"] },
);
const optsArb: fc.Arbitrary<LocateOptions> = fc.record({
  placed: fc.array(fc.record({ mem: pageAddr(SPAN), memsz: fc.bigInt({ min: 1n, max: M / PAGE }).map((p) => p * PAGE) }), { maxLength: 6 }),
  exclude: fc.array(fc.record({ start: anyAddr(SPAN), size: fc.bigInt({ min: 1n, max: M }) }), { maxLength: 2 }),
  crash: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
});

describe("the arithmetic search equals the kernel's page-stepping loop", () => {
  it("on thousands of generated small maps (fast-check)", () => {
    let found = 0;
    let failed = 0;
    let stepped = 0;
    fc.assert(
      fc.property(mapArb, requestArb, optsArb, (map, req, opts) => {
        const k = kernelLocate(map, req, opts);
        const o = ours(map, req, opts);
        expect(o).toBe(k);
        if ((opts.placed ?? []).length > 0 && k !== "fail") stepped++;
        if (k === "fail") failed++;
        else found++;
      }),
      { numRuns: Number(process.env.KIMAGE_FC_RUNS ?? 4000) },
    );
    // Both outcomes were exercised in earnest.
    expect(found).toBeGreaterThan(1000);
    expect(failed).toBeGreaterThan(100);
    expect(stepped).toBeGreaterThan(500);
  });

  it("with 64 KiB pages too", () => {
    fc.assert(
      fc.property(mapArb, requestArb, optsArb, (map, req, opts) => {
        const o = { ...opts, pageSize: 0x10000n };
        expect(ours(map, req, o)).toBe(kernelLocate(map, req, o));
      }),
      { numRuns: 500 },
    );
  });
});

describe("allocation sequences (fast-check)", () => {
  const bufArb = fc.record({
    len: fc.integer({ min: 0, max: 300_000 }),
    extra: fc.bigInt({ min: 0n, max: 200n * K }),
    bufAlign: fc.integer({ min: 0, max: 21 }).map((k) => 1n << BigInt(k)),
    topDown: fc.boolean(),
    random: fc.option(fc.integer(), { nil: undefined }),
  });

  it("placed segments are disjoint, aligned and inside RAM (or the crash region)", () => {
    fc.assert(
      fc.property(mapArb, fc.array(bufArb, { minLength: 1, maxLength: 10 }), fc.boolean(), (map, bufs, crash) => {
        const segs: Segment[] = [];
        bufs.forEach((b, i) => {
          const bytes = new Uint8Array(b.len);
          try {
            const opts: LocateOptions = { crash };
            if (b.random !== undefined) opts.random = createRng(b.random);
            segs.push(addBuffer(map, segs, { name: `s${i}`, bytes, memsz: BigInt(b.len) + b.extra + 1n, bufAlign: b.bufAlign, topDown: b.topDown }, opts));
          } catch (e) {
            if (!isKimageError(e, "plan-no-hole")) throw e;
          }
        });
        expect(checkSegments(segs, map, { crash, checkHalfRam: false })).toEqual([]);
        for (const s of segs) expect(s.mem % s.align!).toBe(0n);
      }),
      { numRuns: 1500 },
    );
  });

  it("random placement is deterministic per seed and spreads over the valid positions", () => {
    const map = memoryMap([
      { start: G, size: 64n * M, type: "ram" },
      { start: G + 16n * M, size: 16n * M, type: "reserved" },
    ]);
    const req: HoleRequest = { memsz: M, bufAlign: M, topDown: true };
    const at = (seed: number) => locateMemHole(map, req, { random: createRng(seed) }).mem;
    expect(at(42)).toBe(at(42));
    const seen = new Set<bigint>();
    for (let s = 0; s < 400; s++) {
      const mem = at(s);
      expect(mem % M).toBe(0n);
      expect(mem >= G + 16n * M && mem < G + 32n * M).toBe(false);
      seen.add(mem);
    }
    // 16 + 32 = 48 valid 1 MiB-aligned positions; 400 draws see nearly all of them.
    expect(seen.size).toBeGreaterThan(40);
    expect(seen.size).toBeLessThanOrEqual(48);
    expect([...seen].some((m) => m < G + 16n * M) && [...seen].some((m) => m >= G + 32n * M)).toBe(true);
  });
});
