// The memory model (ranges, normalization, segment checks) and the parsers
// that build memory maps from /proc/iomem, e820, a devicetree and the CLI.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFdt, ensureNode, parseFdt, serializeFdt, setProp, setReg, setString, setU32 } from "../../src/fdt/index.js";
import {
  alignRange,
  checkSegments,
  crashRanges,
  memoryMap,
  ramRanges,
  range,
  rangeContains,
  rangeEnd,
  rangeIntersect,
  rangesOverlap,
  subtractRanges,
  type MemoryMap,
  type Segment,
} from "../../src/plan/core/memory.js";
import {
  memoryEntriesFromIomem,
  memoryMapFromCli,
  memoryMapFromE820,
  memoryMapFromFdt,
  memoryMapFromIomem,
  parseIomem,
  parseSize,
} from "../../src/plan/core/memory-parse.js";
import { haveTool } from "../support/real.js";

const M = 1n << 20n;
const G = 1n << 30n;

function errCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return "no error";
}

/** An x86-64 /proc/iomem as a 4 GiB QEMU q35 guest with crashkernel=256M shows it (as root). */
const IOMEM_X86 = `00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000a0000-000bffff : PCI Bus 0000:00
000c0000-000c99ff : Video ROM
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-7ffdbfff : System RAM
  0b000000-0bffffff : Crash kernel
  2a000000-2b002686 : Kernel code
  2b200000-2b9fffff : Kernel rodata
  2ba00000-2bd4a5bf : Kernel data
  2c1b3000-2c5fffff : Kernel bss
7ffdc000-7fffffff : Reserved
80000000-afffffff : PCI Bus 0000:00
b0000000-bfffffff : PCI MMCONFIG 0000 [bus 00-ff]
  b0000000-bfffffff : Reserved
c0000000-febfffff : PCI Bus 0000:00
fec00000-fec003ff : IOAPIC 0
fed00000-fed003ff : HPET 0
  fed00000-fed003ff : PNP0103:00
fee00000-fee00fff : Local APIC
feffc000-feffffff : Reserved
fffc0000-ffffffff : Reserved
100000000-17fffffff : System RAM
180000000-97fffffff : PCI Bus 0000:00
`;

/** An arm64 /proc/iomem (QEMU virt, 2 GiB) with memblock "reserved" children and ACPI. */
const IOMEM_ARM64 = `09000000-09000fff : pl011@9000000
  09000000-09000fff : 9000000.pl011 pl011@9000000
40000000-bfffffff : System RAM
  40210000-41c9ffff : Kernel code
  41ca0000-4233ffff : reserved
  42340000-428fffff : Kernel data
  48000000-480fffff : reserved
  7c000000-7fffffff : Crash kernel
  bf5f0000-bf5fffff : ACPI Tables
  bfe00000-bfffffff : reserved
4010000000-401fffffff : PCI ECAM
8000000000-ffffffffff : PCI Bus 0000:00
`;

describe("ranges", () => {
  it("helpers", () => {
    const r = range(0x1000n, 0x3000n);
    expect(rangeEnd(r)).toBe(0x4000n);
    expect(rangeContains(r, 0x3fffn)).toBe(true);
    expect(rangeContains(r, 0x4000n)).toBe(false);
    expect(rangeContains(r, range(0x2000n, 0x2000n))).toBe(true);
    expect(rangesOverlap(r, range(0x4000n, 1n))).toBe(false);
    expect(rangesOverlap(r, range(0x3fffn, 1n))).toBe(true);
    expect(rangeIntersect(r, range(0x3000n, 0x5000n))).toEqual({ start: 0x3000n, size: 0x1000n });
    expect(rangeIntersect(r, range(0x5000n, 1n))).toBeUndefined();
    expect(alignRange(range(0x1234n, 0x10000n), 0x1000n)).toEqual({ start: 0x2000n, size: 0xf000n });
    expect(alignRange(range(0x1001n, 0x1000n), 0x1000n)).toBeUndefined();
    expect(errCode(() => range(1n << 63n, 1n << 63n))).toBe("no error");
    expect(errCode(() => range(1n << 63n, (1n << 63n) + 1n))).toBe("memory-bad-range");
    expect(subtractRanges([range(0n, 100n)], [range(10n, 10n), range(50n, 60n)])).toEqual([range(0n, 10n), range(20n, 30n)]);
  });

  it("normalization: sorted, disjoint, merged; restrictive types win", () => {
    const map = memoryMap([
      { start: 2n * G, size: G, type: "ram" },
      { start: G, size: G, type: "ram" }, // adjacent: merges
      { start: G + 16n * M, size: M, type: "reserved" }, // splits
      { start: 2n * G + G - M, size: 2n * M, type: "acpi" }, // straddles the end
      { start: 0n, size: 0n, type: "reserved" }, // empty: dropped
    ]);
    expect(map.regions).toEqual([
      { start: G, size: 16n * M, type: "ram" },
      { start: G + 16n * M, size: M, type: "reserved" },
      { start: G + 17n * M, size: 2n * G - 18n * M, type: "ram" },
      { start: 3n * G - M, size: 2n * M, type: "acpi" },
    ]);
  });

  it("normalization invariants hold for any input (fast-check)", () => {
    const typeArb = fc.constantFrom("ram", "reserved", "acpi", "nvs", "unusable", "pmem", "crash", "soft-reserved" as const);
    fc.assert(
      fc.property(fc.array(fc.record({ start: fc.bigInt({ min: 0n, max: 1000n }), size: fc.bigInt({ min: 0n, max: 300n }), type: typeArb }), { maxLength: 12 }), (input) => {
        const map = memoryMap(input);
        for (let i = 0; i < map.regions.length; i++) {
          const r = map.regions[i]!;
          expect(r.size > 0n).toBe(true);
          const prev = map.regions[i - 1];
          if (prev) {
            expect(rangeEnd(prev) <= r.start).toBe(true);
            if (rangeEnd(prev) === r.start) expect(prev.type).not.toBe(r.type);
          }
        }
        // Every input byte is covered, and a ram byte in the output is covered by ram only.
        for (let x = 0n; x < 1300n; x += 7n) {
          const covering = input.filter((r) => x >= r.start && x < r.start + r.size);
          const out = map.regions.find((r) => rangeContains(r, x));
          expect(out !== undefined).toBe(covering.length > 0);
          if (out?.type === "ram") expect(covering.every((c) => c.type === "ram")).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("segment checks", () => {
  const map: MemoryMap = memoryMap([
    { start: G, size: G, type: "ram" },
    { start: G + 256n * M, size: 64n * M, type: "crash" },
  ]);
  const seg = (name: string, mem: bigint, memsz: bigint, len = 0, align?: bigint): Segment => ({ name, bytes: new Uint8Array(len), mem, memsz, ...(align ? { align } : {}) });

  it("a good list has no violations", () => {
    expect(checkSegments([seg("kernel", G, 16n * M, 100), seg("dtb", G + 16n * M, 4096n, 4096)], map)).toEqual([]);
  });

  it("names each violation", () => {
    const v = checkSegments(
      [
        seg("a", G + 1n, 4096n),
        seg("b", G + 4096n, 4095n),
        seg("c", G + 8192n, 4096n, 5000),
        seg("d", G + 8192n, 4096n),
        seg("e", 0n, 4096n),
        seg("f", G + 256n * M, 4096n),
        seg("g", G + M, 4096n, 0, 2n * M),
      ],
      map,
    );
    const codes = v.map((x) => `${x.code}:${x.segment}${x.other ? "/" + x.other : ""}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        "misaligned-mem:a",
        "misaligned-memsz:a",
        "misaligned-memsz:b",
        "bytes-exceed-memsz:c",
        "overlap:d/c",
        "outside-ram:e",
        "outside-ram:f",
        "misaligned-to-request:g",
      ]),
    );
  });

  it("crash images must stay in the crash region; half of RAM at most; 16 segments at most", () => {
    expect(checkSegments([seg("k", G + 256n * M, 4096n)], map, { crash: true })).toEqual([]);
    expect(checkSegments([seg("k", G, 4096n)], map, { crash: true }).map((x) => x.code)).toEqual(["outside-crash"]);
    expect(checkSegments([seg("big", G, 600n * M)], map).map((x) => x.code)).toContain("exceeds-half-ram");
    const many = Array.from({ length: 17 }, (_, i) => seg(`s${i}`, G + BigInt(i) * 4096n, 4096n));
    expect(checkSegments(many, map).map((x) => x.code)).toContain("too-many-segments");
  });
});

describe("/proc/iomem", () => {
  it("x86: top-level types, nested Crash kernel carves System RAM, kernel code stays RAM, devices ignored", () => {
    const map = memoryMapFromIomem(IOMEM_X86);
    expect(ramRanges(map)).toEqual([
      { start: 0x1000n, size: 0x9fc00n - 0x1000n },
      { start: 0x100000n, size: 0x0b000000n - 0x100000n },
      { start: 0x0c000000n, size: 0x7ffdc000n - 0x0c000000n },
      { start: 0x100000000n, size: 0x80000000n },
    ]);
    expect(crashRanges(map)).toEqual([{ start: 0x0b000000n, size: 0x01000000n }]);
    const reserved = map.regions.filter((r) => r.type === "reserved").map((r) => r.start);
    expect(reserved).toEqual(expect.arrayContaining([0n, 0x9fc00n, 0xf0000n, 0x7ffdc000n, 0xb0000000n, 0xfffc0000n]));
    // The tree keeps nesting and inclusive ends.
    const tree = parseIomem(IOMEM_X86);
    const ram = tree.find((r) => r.start === 0x100000n)!;
    expect(ram.end).toBe(0x7ffdbfffn);
    expect(ram.children.map((c) => c.name)).toEqual(["Crash kernel", "Kernel code", "Kernel rodata", "Kernel data", "Kernel bss"]);
  });

  it("arm64: nested memblock 'reserved', ACPI Tables and Crash kernel", () => {
    const map = memoryMapFromIomem(IOMEM_ARM64);
    expect(crashRanges(map)).toEqual([{ start: 0x7c000000n, size: 0x04000000n }]);
    expect(map.regions.find((r) => r.start === 0xbf5f0000n)?.type).toBe("acpi");
    expect(ramRanges(map)[0]).toEqual({ start: 0x40000000n, size: 0x41ca0000n - 0x40000000n });
    expect(ramRanges(map).some((r) => rangeContains(r, 0x48000000n))).toBe(false);
    expect(memoryEntriesFromIomem(IOMEM_ARM64).some((e) => e.source?.includes("pl011"))).toBe(false);
  });

  it("other names: ACPI NVS, Unusable, Persistent Memory, Soft Reserved, System RAM (kmem)", () => {
    const map = memoryMapFromIomem(`00000000-0fffffff : System RAM
10000000-10ffffff : ACPI Non-volatile Storage
11000000-11ffffff : Unusable memory
12000000-12ffffff : Persistent Memory
13000000-13ffffff : Persistent Memory (legacy)
14000000-14ffffff : Soft Reserved
  14000000-14ffffff : dax0.0
    14000000-14ffffff : System RAM (kmem)
`);
    expect(map.regions.map((r) => r.type)).toEqual(["ram", "nvs", "unusable", "pmem", "reserved"]);
  });

  it("bad input: typed errors", () => {
    expect(errCode(() => parseIomem("00000000-0000ffff System RAM"))).toBe("memory-bad-syntax");
    expect(errCode(() => parseIomem(" 00000000-0000ffff : System RAM"))).toBe("memory-bad-syntax");
    expect(errCode(() => parseIomem("00000000-0000ffff : System RAM\n    00001000-00001fff : x"))).toBe("memory-bad-syntax");
    expect(errCode(() => parseIomem("00001000-00001fff : a\n  00000000-00002fff : b"))).toBe("memory-bad-syntax");
    expect(errCode(() => parseIomem("00002000-00001fff : a"))).toBe("memory-bad-range");
    expect(errCode(() => parseIomem("00000000-0000ffff : System RAM\n".repeat(20), { maxLines: 10 }))).toBe("limit");
    expect(errCode(() => parseIomem("0".repeat(2000)))).toBe("limit");
    expect(errCode(() => memoryMapFromIomem("00000000-00000000 : System RAM\n  00000000-00000000 : Kernel code\n00000000-00000000 : Reserved\n"))).toBe(
      "memory-iomem-unprivileged",
    );
    expect(memoryMapFromIomem("").regions).toEqual([]);
  });

  it.runIf(existsSync("/proc/iomem"))("this machine's /proc/iomem parses (zeros when not root)", () => {
    const text = readFileSync("/proc/iomem", "utf8");
    const code = errCode(() => memoryMapFromIomem(text));
    expect(["no error", "memory-iomem-unprivileged"]).toContain(code);
  });
});

describe("e820", () => {
  it("types 1..5, 7, 12, unknown -> reserved, zero sizes dropped", () => {
    const map = memoryMapFromE820([
      { addr: 0, size: 0x9fc00, type: 1 },
      { addr: 0x9fc00, size: 0x400, type: 2 },
      { addr: 0x100000, size: 0x7fee0000, type: 1 },
      { addr: 0x7ffe0000, size: 0x10000, type: 3 },
      { addr: 0x7fff0000, size: 0x10000, type: 4 },
      { addr: 0x80000000n, size: 0x1000, type: 5 },
      { addr: 0x90000000, size: 0x1000, type: 7 },
      { addr: 0xa0000000, size: 0x1000, type: 12 },
      { addr: 0xb0000000, size: 0x1000, type: 99 },
      { addr: 0xc0000000, size: 0, type: 1 },
    ]);
    expect(map.regions.map((r) => [r.start, r.type])).toEqual([
      [0n, "ram"],
      [0x9fc00n, "reserved"],
      [0x100000n, "ram"],
      [0x7ffe0000n, "acpi"],
      [0x7fff0000n, "nvs"],
      [0x80000000n, "unusable"],
      [0x90000000n, "pmem"],
      [0xa0000000n, "pmem"],
      [0xb0000000n, "reserved"],
    ]);
  });

  it("bad input", () => {
    expect(errCode(() => memoryMapFromE820([{ addr: 1.5, size: 1, type: 1 }]))).toBe("memory-bad-syntax");
    expect(errCode(() => memoryMapFromE820([{ addr: 0xffffffffffffffffn, size: 2, type: 1 }]))).toBe("memory-bad-range");
    expect(errCode(() => memoryMapFromE820([{ addr: 0, size: 1, type: -1 }]))).toBe("memory-bad-syntax");
    expect(errCode(() => memoryMapFromE820(Array.from({ length: 5 }, () => ({ addr: 0, size: 1, type: 1 })), 4))).toBe("limit");
  });
});

describe("devicetree", () => {
  it("memory nodes (multiple reg entries, linux,usable-memory, status), /reserved-memory, /memreserve/", () => {
    const fdt = createFdt();
    setU32(fdt.root, "#address-cells", 2);
    setU32(fdt.root, "#size-cells", 2);
    const m1 = ensureNode(fdt, "/memory@40000000");
    setString(m1, "device_type", "memory");
    setReg(fdt.root, m1, [
      { address: 0x40000000n, size: G },
      { address: 0x100000000n, size: 2n * G },
    ]);
    const m2 = ensureNode(fdt, "/memory@200000000");
    setString(m2, "device_type", "memory");
    setReg(fdt.root, m2, [{ address: 0x200000000n, size: G }]);
    setReg(fdt.root, m2, [{ address: 0x200000000n, size: M }], "linux,usable-memory");
    const m3 = ensureNode(fdt, "/memory@300000000");
    setString(m3, "device_type", "memory");
    setString(m3, "status", "disabled");
    setReg(fdt.root, m3, [{ address: 0x300000000n, size: G }]);
    const notMem = ensureNode(fdt, "/sram@50000000");
    setReg(fdt.root, notMem, [{ address: 0x50000000n, size: M }]);
    const rm = ensureNode(fdt, "/reserved-memory");
    setU32(rm, "#address-cells", 1);
    setU32(rm, "#size-cells", 1);
    setProp(rm, "ranges", new Uint8Array(0));
    const fw = ensureNode(fdt, "/reserved-memory/firmware@48000000");
    setReg(rm, fw, [{ address: 0x48000000n, size: 2n * M }]);
    setProp(fw, "no-map", new Uint8Array(0));
    const cma = ensureNode(fdt, "/reserved-memory/linux,cma");
    setProp(cma, "size", new Uint8Array([0, 0, 0, 0, 0x10, 0, 0, 0]));
    fdt.reservations.push({ address: 0x40000000n, size: 0x10000n });

    const map = memoryMapFromFdt(parseFdt(serializeFdt(fdt)));
    expect(map.regions).toEqual([
      { start: 0x40000000n, size: 0x10000n, type: "reserved" },
      { start: 0x40010000n, size: 0x48000000n - 0x40010000n, type: "ram" },
      { start: 0x48000000n, size: 2n * M, type: "reserved" },
      { start: 0x48000000n + 2n * M, size: 0x80000000n - 0x48000000n - 2n * M, type: "ram" },
      { start: 0x100000000n, size: 2n * G, type: "ram" },
      { start: 0x200000000n, size: M, type: "ram" },
    ]);
  });

  it("a reg whose length is not a multiple of the cells is a typed error", () => {
    const fdt = createFdt();
    setU32(fdt.root, "#address-cells", 2);
    setU32(fdt.root, "#size-cells", 2);
    const m = ensureNode(fdt, "/memory@0");
    setString(m, "device_type", "memory");
    setProp(m, "reg", new Uint8Array(12));
    expect(errCode(() => memoryMapFromFdt(fdt))).toBe("fdt-bad-property");
  });

  it.runIf(haveTool("qemu-system-aarch64"))("QEMU's arm64 virt DTB: 1 GiB at 0x40000000", () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-mem-"));
    const p = join(dir, "virt.dtb");
    spawnSync("qemu-system-aarch64", ["-M", "virt", "-cpu", "max", "-m", "1024", "-machine", `virt,dumpdtb=${p}`, "-nographic"], { timeout: 30_000 });
    const map = memoryMapFromFdt(parseFdt(new Uint8Array(readFileSync(p))));
    expect(map.regions).toEqual([{ start: 0x40000000n, size: G, type: "ram" }]);
  });
});

describe("CLI form", () => {
  it("sizes and entries", () => {
    expect(parseSize("1G")).toBe(G);
    expect(parseSize("0x40000000")).toBe(G);
    expect(parseSize("512k")).toBe(512n * 1024n);
    expect(parseSize("2MiB")).toBe(2n * M);
    expect(parseSize("1T")).toBe(1n << 40n);
    const map = memoryMapFromCli("0x40000000:1G,0x100000000:2G, 0x7f000000:16M@reserved");
    expect(map.regions).toEqual([
      { start: 0x40000000n, size: 0x3f000000n, type: "ram" },
      { start: 0x7f000000n, size: 16n * M, type: "reserved" },
      { start: 0x100000000n, size: 2n * G, type: "ram" },
    ]);
    expect(crashRanges(memoryMapFromCli("0x40000000:1G,0x50000000:64M@crash"))).toEqual([{ start: 0x50000000n, size: 64n * M }]);
  });

  it("bad input", () => {
    for (const bad of ["", "0x40000000", "0x40000000:", "0x40000000:1X", "zz:1G", "0x40000000:1G@bogus", "1:2:3", "0x40000000:0"]) {
      expect(["memory-bad-syntax", "memory-bad-range"], bad).toContain(errCode(() => memoryMapFromCli(bad)));
    }
    expect(errCode(() => memoryMapFromCli("0xffffffffffffffff:2"))).toBe("memory-bad-range");
    expect(errCode(() => memoryMapFromCli("0x10000000000000000:1"))).toBe("memory-bad-syntax");
    expect(errCode(() => memoryMapFromCli(Array.from({ length: 300 }, (_, i) => `${i * 4096}:4K`).join(",")))).toBe("limit");
  });
});
