// Crash-kernel (kdump) plans: every segment inside the crash region, the ELF
// core header (kimage's ELF parser and readelf), the /chosen properties
// (kimage's FDT parser and dtc), and the helpers for the RISC-V and x86_64
// planners (command lines, the kdump e820, crash_exclude_mem_range).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseElf } from "../../src/formats/elf/index.js";
import { isKimageError } from "../../src/core/errors.js";
import { findNode, getProp, parseFdt, readCells } from "../../src/fdt/index.js";
import { planArm64, type Arm64CrashInput } from "../../src/plan/arch/arm64.js";
import {
  crashElfRam,
  crashExcludeMemRange,
  elfcorehdrParam,
  MAX_ELFCOREHDR_STR_LEN,
  resolveCrashRegions,
  riscvKdumpCmdline,
  x86CmdlineFits,
  x86CrashE820,
  x86HotplugElfcorehdrMemsz,
  x86KdumpCmdline,
  X86_KDUMP_LOW_MEMORY,
} from "../../src/plan/core/crash.js";
import { CRASH_NOTE_BYTES, DEFAULT_PAGE_OFFSET, vmcoreinfoNoteSize } from "../../src/plan/protocol/elfcore.js";
import { checkSegments, memoryMap, rangeContains, type MemoryMap, type Range } from "../../src/plan/core/memory.js";
import { fakeArm64Image, firstKernelDtb } from "../support/plan-builders.js";
import { haveTool, run } from "../support/real.js";

const M = 1n << 20n;
const G = 1n << 30n;
const RAM: Range = { start: 0x40000000n, size: G };
const CRASH: Range = { start: 0x60000000n, size: 256n * M };

/** A synthetic arm64 Image: header (text_offset 0, image_size 24 MiB, 4K LE flags) and 1 MiB of code. */
const arm64Image = (): Uint8Array => fakeArm64Image(24n * M);

/** A first-kernel device tree: 2 address / 2 size cells, /memory 1 GiB, /chosen with bootargs. */
const firstDtb = (): Uint8Array => firstKernelDtb({ ram: RAM, compatible: "linux,dummy-virt", bootargs: "first kernel" });

const crashInput: Arm64CrashInput = {
  cpuNotes: [
    { addr: 0x48000000n, size: CRASH_NOTE_BYTES.arm64 },
    { addr: 0x48010000n, size: CRASH_NOTE_BYTES.arm64 },
  ],
  vmcoreinfo: { addr: 0x48020000n, size: vmcoreinfoNoteSize() },
  kernelText: { vaddr: 0xffff800080000000n, paddr: 0x40200000n, size: 0x2000000n },
};

const withCrash: MemoryMap = memoryMap([{ ...RAM, type: "ram" }, { ...CRASH, type: "crash" }]);
const ramOnly: MemoryMap = memoryMap([{ ...RAM, type: "ram" }]);

async function crashPlan(extra: Partial<Parameters<typeof planArm64>[0]> = {}) {
  return planArm64({ kernel: arm64Image(), initrd: new Uint8Array(300_000).fill(0x5a), cmdline: "console=ttyAMA0 kdump", dtb: firstDtb(), memory: withCrash, crash: crashInput, ...extra });
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isKimageError(e) ? e.code : String(e);
  }
  return "no error";
}

describe("arm64 crash plan", () => {
  it("places kernel, elfcorehdr, initrd, dtb inside the crash region, in the kernel's order", async () => {
    const plan = await crashPlan();
    expect(plan.kind).toBe("crash");
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "elfcorehdr", "initrd", "dtb"]);
    expect(checkSegments(plan.segments, withCrash, { crash: true })).toEqual([]);
    for (const s of plan.segments) expect(rangeContains(CRASH, { start: s.mem, size: s.memsz }), s.name).toBe(true);
    const [kernel, elf, initrd, dtb] = plan.segments;
    // kernel bottom-up from the region's start (2 MiB-aligned)
    expect(kernel?.mem).toBe(CRASH.start);
    // elfcorehdr: "buf_align = SZ_64K", top-down, above the kernel: the last 64 KiB-aligned page of the region
    expect(elf?.mem).toBe(CRASH.start + CRASH.size - 0x10000n);
    expect(elf?.bytes.length).toBe(4096);
    expect((elf?.mem ?? 1n) % 0x10000n).toBe(0n);
    // initrd bottom-up right after the kernel; dtb 2 MiB-aligned top-down below the header
    expect(initrd?.mem).toBe(CRASH.start + 24n * M);
    expect(dtb?.mem).toBe(CRASH.start + CRASH.size - 2n * M);
    expect(plan.entry.registers.x0).toBe(dtb?.mem);
    expect(plan.bootParams.elfcorehdr).toEqual({ mem: elf?.mem, size: 4096n });
    expect(plan.bootParams.usableMemoryRange).toEqual([CRASH]);
    expect(plan.notes.join("\n")).toMatch(/crash kernel: every segment inside \[0x60000000, 0x70000000\)/);
  });

  it("an explicit crash region over a RAM-only map gives the same plan", async () => {
    const a = await crashPlan();
    const b = await crashPlan({ memory: ramOnly, crash: { ...crashInput, region: CRASH } });
    expect(b.segments.map((s) => [s.name, s.mem, s.memsz])).toEqual(a.segments.map((s) => [s.name, s.mem, s.memsz]));
    expect(b.segments[1]?.bytes).toEqual(a.segments[1]?.bytes);
  });

  it("refuses a crash plan without a crash region", async () => {
    await expect(crashPlan({ memory: ramOnly })).rejects.toMatchObject({ code: "crash-no-region" });
  });

  it("seeded placement stays inside the crash region", async () => {
    for (const seed of [1, 2, 3]) {
      const plan = await crashPlan({ seed });
      expect(checkSegments(plan.segments, withCrash, { crash: true }).filter((v) => v.code === "outside-crash")).toEqual([]);
    }
  });

  it("a normal plan is unchanged: kind normal, no elfcorehdr, no crash properties", async () => {
    const plan = await planArm64({ kernel: arm64Image(), dtb: firstDtb(), memory: ramOnly });
    expect(plan.kind).toBe("normal");
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "dtb"]);
    const chosen = findNode(parseFdt(plan.segments[1]!.bytes), "/chosen");
    expect(chosen && getProp(chosen, "linux,elfcorehdr")).toBeUndefined();
    expect(chosen && getProp(chosen, "linux,usable-memory-range")).toBeUndefined();
  });

  it("the core header describes the first kernel's RAM minus the crash region (kimage's ELF parser)", async () => {
    const plan = await crashPlan();
    const e = parseElf(plan.segments[1]!.bytes, { fileSize: Number.MAX_SAFE_INTEGER });
    expect([e.header.e_type, e.header.e_machine, e.phnum]).toEqual([4, 183, 2 + 1 + 1 + 2]);
    const ph = e.programHeaders;
    expect(ph.slice(0, 3).map((p) => [p.p_type, p.p_paddr, p.p_memsz])).toEqual([
      [4, 0x48000000n, 424n],
      [4, 0x48010000n, 424n],
      [4, 0x48020000n, 4132n],
    ]);
    expect([ph[3]?.p_type, ph[3]?.p_vaddr, ph[3]?.p_paddr]).toEqual([1, 0xffff800080000000n, 0x40200000n]);
    expect(ph.slice(4).map((p) => [p.p_paddr, p.p_memsz, p.p_vaddr])).toEqual([
      [0x40000000n, 0x20000000n, DEFAULT_PAGE_OFFSET.arm64 + 0x40000000n],
      [0x70000000n, 0x10000000n, DEFAULT_PAGE_OFFSET.arm64 + 0x70000000n],
    ]);
  });

  it.runIf(haveTool("readelf"))("readelf reads the same core header", async () => {
    const plan = await crashPlan();
    const dir = mkdtempSync(join(tmpdir(), "kimage-crash-"));
    writeFileSync(join(dir, "elfcorehdr"), plan.segments[1]!.bytes);
    const out = run("readelf", ["-h", "-l", "-W", join(dir, "elfcorehdr")]);
    expect(out).toMatch(/Type:\s+CORE \(Core file\)/);
    expect(out).toMatch(/Machine:\s+AArch64/);
    expect(out).toMatch(/Number of program headers:\s+6/);
    const rows = out.split("\n").map((l) => l.trim().split(/\s+/)).filter((t) => t[0] === "NOTE" || t[0] === "LOAD");
    expect(rows.map((t) => [t[0], BigInt(t[3]!), BigInt(t[5]!)])).toEqual([
      ["NOTE", 0x48000000n, 424n],
      ["NOTE", 0x48010000n, 424n],
      ["NOTE", 0x48020000n, 4132n],
      ["LOAD", 0x40200000n, 0x2000000n],
      ["LOAD", 0x40000000n, 0x20000000n],
      ["LOAD", 0x70000000n, 0x10000000n],
    ]);
  });

  it("/chosen has linux,elfcorehdr, linux,usable-memory-range and a /memreserve/ for the header (kimage's FDT parser)", async () => {
    const plan = await crashPlan();
    const elf = plan.segments[1]!;
    const fdt = parseFdt(plan.segments[3]!.bytes);
    const chosen = findNode(fdt, "/chosen");
    if (!chosen) throw new Error("no /chosen");
    const cells = (name: string) => {
      const v = getProp(chosen, name)?.value ?? new Uint8Array(0);
      return Array.from({ length: v.length / 16 }, (_, i) => [readCells(v, i * 16, 2), readCells(v, i * 16 + 8, 2)]);
    };
    expect(cells("linux,elfcorehdr")).toEqual([[elf.mem, 4096n]]);
    expect(cells("linux,usable-memory-range")).toEqual([[CRASH.start, CRASH.size]]);
    expect(fdt.reservations).toContainEqual({ address: elf.mem, size: 4096n });
    expect(new TextDecoder().decode(getProp(chosen, "bootargs")?.value).replace(/\0$/, "")).toBe("console=ttyAMA0 kdump");
  });

  it.runIf(haveTool("dtc"))("dtc -I dtb -O dts shows the same /chosen and /memreserve/", async () => {
    const plan = await crashPlan();
    const elf = plan.segments[1]!;
    const dir = mkdtempSync(join(tmpdir(), "kimage-crash-"));
    writeFileSync(join(dir, "kdump.dtb"), plan.segments[3]!.bytes);
    const dts = run("dtc", ["-q", "-I", "dtb", "-O", "dts", join(dir, "kdump.dtb")]);
    const h = (x: bigint) => `0x${x.toString(16)}`;
    // dtc prints /memreserve/ entries as zero-padded 64-bit hex
    expect(dts).toMatch(new RegExp(`/memreserve/\\s+0x0*${elf.mem.toString(16)} 0x0*1000;`));
    expect(dts).toMatch(new RegExp(`linux,elfcorehdr = <0x0+ ${h(elf.mem)} 0x0+ 0x1000>;`));
    expect(dts).toMatch(/linux,usable-memory-range = <0x0+ 0x60000000 0x0+ 0x10000000>;/);
    expect(dts).toContain('bootargs = "console=ttyAMA0 kdump";');
  });

  it("two crash regions (crashk_res high, crashk_low_res): usable range lists the high one first; the header excludes both", async () => {
    const low: Range = { start: 0x50000000n, size: 64n * M };
    const high: Range = { start: 0x100000000n, size: 512n * M };
    const map = memoryMap([{ ...RAM, type: "ram" }, { start: 0xc0000000n, size: 2n * G, type: "ram" }, { ...low, type: "crash" }, { ...high, type: "crash" }]);
    expect(resolveCrashRegions(map).regions).toEqual([high, low]);
    const plan = await crashPlan({ memory: map });
    expect(plan.bootParams.usableMemoryRange).toEqual([high, low]);
    expect(checkSegments(plan.segments, map, { crash: true })).toEqual([]);
    const ph = parseElf(plan.segments[1]!.bytes, { fileSize: Number.MAX_SAFE_INTEGER }).programHeaders.filter((p) => p.p_type === 1 && p.p_vaddr !== 0xffff800080000000n);
    expect(ph.map((p) => [p.p_paddr, p.p_memsz])).toEqual([
      [0x40000000n, 0x10000000n],
      [0x54000000n, 0x2c000000n],
      [0xc0000000n, 0x40000000n],
      [0x120000000n, 0x20000000n],
    ]);
  });
});

describe("crash_exclude_mem_range", () => {
  const r = (s: bigint, e: bigint): Range => ({ start: s, size: e - s });
  it("splits, trims either end, and removes a covered range", () => {
    const ranges = [r(0n, 0x1000n), r(0x2000n, 0x9000n), r(0xa000n, 0xb000n)];
    expect(crashExcludeMemRange(ranges, r(0x4000n, 0x5000n))).toEqual([r(0n, 0x1000n), r(0x2000n, 0x4000n), r(0x5000n, 0x9000n), r(0xa000n, 0xb000n)]);
    expect(crashExcludeMemRange(ranges, r(0x2000n, 0x3000n))).toEqual([r(0n, 0x1000n), r(0x3000n, 0x9000n), r(0xa000n, 0xb000n)]);
    expect(crashExcludeMemRange(ranges, r(0x8000n, 0xa800n))).toEqual([r(0n, 0x1000n), r(0x2000n, 0x8000n), r(0xa800n, 0xb000n)]);
    expect(crashExcludeMemRange(ranges, r(0n, 0x1000n))).toEqual([r(0x2000n, 0x9000n), r(0xa000n, 0xb000n)]);
  });
  it("fails like -ENOMEM when a split needs more than max_nr_ranges", () => {
    expect(code(() => crashExcludeMemRange([r(0n, 0x10000n)], r(0x4000n, 0x5000n), 1))).toBe("limit");
    expect(crashExcludeMemRange([r(0n, 0x10000n)], r(0x4000n, 0x5000n), 2)).toHaveLength(2);
  });
  it("per architecture: x86_64 also drops the low 1 MiB, riscv64 only crashk_res", () => {
    const ram = [r(0x1000n, 0x9f000n), r(0x100000n, 0x80000000n)];
    const crash = r(0x20000000n, 0x30000000n);
    const low = r(0x10000000n, 0x14000000n);
    expect(crashElfRam({ arch: "x86_64", ram, crash, crashLow: low })).toEqual([r(0x100000n, 0x10000000n), r(0x14000000n, 0x20000000n), r(0x30000000n, 0x80000000n)]);
    expect(crashElfRam({ arch: "riscv64", ram, crash, crashLow: low })).toEqual([r(0x1000n, 0x9f000n), r(0x100000n, 0x20000000n), r(0x30000000n, 0x80000000n)]);
    expect(crashElfRam({ arch: "arm64", ram, crash, crashLow: low })).toEqual([r(0x1000n, 0x9f000n), r(0x100000n, 0x10000000n), r(0x14000000n, 0x20000000n), r(0x30000000n, 0x80000000n)]);
  });
});

describe("kdump command lines (riscv64, x86_64)", () => {
  it("elfcorehdr=0x%lx with one trailing space, prepended", () => {
    expect(elfcorehdrParam(0xbfff0000n)).toBe("elfcorehdr=0xbfff0000 ");
    expect(riscvKdumpCmdline("console=ttyS0", 0x17fe00000n)).toBe("elfcorehdr=0x17fe00000 console=ttyS0");
    expect(x86KdumpCmdline("console=ttyS0", 0x7f000000n, { cmdlineSize: 2047 })).toBe("elfcorehdr=0x7f000000 console=ttyS0");
    expect(x86KdumpCmdline("a", 0x1000n, { cmdlineSize: 2047, dmCryptKeys: 0x2000n })).toBe("elfcorehdr=0x1000 dmcryptkeys=0x2000 a");
    // the longest address fits MAX_ELFCOREHDR_STR_LEN
    expect(elfcorehdrParam(0xffffffffffffffffn).length).toBeLessThanOrEqual(MAX_ELFCOREHDR_STR_LEN);
  });
  it("length limits as the kernel counts them (cmdline_len includes the NUL)", () => {
    // riscv: strlen("elfcorehdr=0x1000 ") = 18; 18 + (1005 + 1) = 1024 fits COMMAND_LINE_SIZE, one more does not
    expect(riscvKdumpCmdline("x".repeat(1005), 0x1000n)).toHaveLength(18 + 1005);
    expect(code(() => riscvKdumpCmdline("x".repeat(1006), 0x1000n))).toBe("plan-refused");
    // x86: cmdline_len + 30 > cmdline_size is refused
    expect(x86CmdlineFits("x".repeat(2016), 2047)).toEqual({ ok: true });
    expect(x86CmdlineFits("x".repeat(2017), 2047)).toMatchObject({ ok: false, message: expect.stringMatching(/^Appending elfcorehdr=<addr> to command line exceeds maximum allowed length/) });
    expect(x86CmdlineFits("x".repeat(2047), 2047)).toMatchObject({ ok: false, message: expect.stringMatching(/^Kernel command line too long/) });
    expect(code(() => x86KdumpCmdline("x".repeat(2017), 0x1000n, { cmdlineSize: 2047 }))).toBe("plan-refused");
  });
});

describe("x86_64 kdump e820 (crash_setup_memmap_entries)", () => {
  // A PC-like first kernel: low RAM with a hole, ACPI, NVS, reserved, a crash region at 512 MiB.
  const map = memoryMap([
    { start: 0n, size: 0x9f000n, type: "ram" },
    { start: 0x9f000n, size: 0x1000n, type: "reserved" },
    { start: 0xf0000n, size: 0x10000n, type: "reserved" },
    { start: 0x100000n, size: 0x7fe00000n, type: "ram" },
    { start: 0x20000000n, size: 0x10000000n, type: "crash" },
    { start: 0x7ff00000n, size: 0x80000n, type: "acpi" },
    { start: 0x7ff80000n, size: 0x80000n, type: "nvs" },
    { start: 0xfeffc000n, size: 0x4000n, type: "reserved" },
  ]);
  it("lists the low 1M RAM, ACPI, NVS, reserved, then crashk_res minus the elfcorehdr, in the kernel's order", () => {
    const { entries, dropped } = x86CrashE820({ map, crash: { start: 0x20000000n, size: 0x10000000n }, elfcorehdr: { start: 0x20000000n, size: 0x1000n } });
    expect(dropped).toEqual([]);
    expect(entries.map((e) => [e.addr, e.size, e.type])).toEqual([
      [0n, 0x9f000n, 1],
      [0x7ff00000n, 0x80000n, 3],
      [0x7ff80000n, 0x80000n, 4],
      [0x9f000n, 0x1000n, 2],
      [0xf0000n, 0x10000n, 2],
      [0xfeffc000n, 0x4000n, 2],
      [0x20001000n, 0xffff000n, 1],
    ]);
    // no System RAM above 1 MiB outside the crash region reaches the kdump kernel
    expect(entries.filter((e) => e.type === 1 && e.addr >= 0x100000n && !rangeContains({ start: 0x20000000n, size: 0x10000000n }, { start: e.addr, size: e.size }))).toEqual([]);
  });
  it("adds crashk_low_res, splits around a header in the middle, and skips pieces under a page", () => {
    const { entries } = x86CrashE820({
      map,
      crash: { start: 0x20000000n, size: 0x10000000n },
      crashLow: { start: 0x1000000n, size: 0x1000000n },
      elfcorehdr: { start: 0x20000800n, size: 0x1000n },
    });
    expect(entries.filter((e) => e.type === 1).map((e) => [e.addr, e.size])).toEqual([
      [0n, 0x9f000n],
      [0x1000000n, 0x1000000n],
      // [0x20000000, 0x20000800) is 2 KiB: "If entry is less than a page, skip it"
      [0x20001800n, 0xfffe800n],
    ]);
  });
  it("states the low-memory rule: no backup region", () => {
    expect(X86_KDUMP_LOW_MEMORY.backupRegion).toBeNull();
    expect(X86_KDUMP_LOW_MEMORY.lowMemory).toEqual({ start: 0n, size: 0x100000n });
    expect(X86_KDUMP_LOW_MEMORY.note).toMatch(/no backup region/);
  });
  it("CONFIG_CRASH_HOTPLUG sizes the header segment for later rewrites", () => {
    expect(x86HotplugElfcorehdrMemsz({ ramRanges: 5, nrCpusDefault: 64, memoryHotplug: false })).toBe(BigInt(5 + 2 + 64) * 56n + 64n);
    expect(x86HotplugElfcorehdrMemsz({ ramRanges: 5, nrCpusDefault: 64, memoryHotplug: true, maxMemoryRanges: 8192 })).toBe(BigInt(2 + 64 + 8192) * 56n + 64n);
    expect(x86HotplugElfcorehdrMemsz({ ramRanges: 0, nrCpusDefault: 8192, memoryHotplug: true, maxMemoryRanges: 65535 })).toBeUndefined();
  });
});

describe("arm64 crash plan with crashk_res and crashk_low_res", () => {
  it("places every segment in crashk_res only (the kernel walks crashk_res alone)", async () => {
    const { planArm64 } = await import("../../src/plan/arch/arm64.js");
    const { memoryMap } = await import("../../src/plan/core/memory.js");
    const { requireReal: rr, readBytes: rb } = await import("../support/real.js");
    const { dumpVirtDtb: dd, haveQemu: hq } = await import("../support/qemu.js");
    const k = rr("arm64 kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k"));
    if (k.length === 0 || !hq("aarch64")) return;
    const high = { start: 0x70000000n, size: 0x8000000n };
    const low = { start: 0x48000000n, size: 0x8000000n };
    for (const seed of [undefined, 1, 2, 3]) {
      const plan = await planArm64({
        kernel: rb(k[0]?.abs ?? ""),
        dtb: dd("aarch64", 1024),
        initrd: new Uint8Array(100),
        memory: memoryMap([{ start: 0x40000000n, size: 0x40000000n, type: "ram" }]),
        crash: { region: [high, low], cpuNotes: [], vmcoreinfo: { addr: 0x41000000n, size: 4096n } },
        ...(seed !== undefined ? { seed } : {}),
      });
      for (const s of plan.segments) {
        expect(s.mem >= high.start && s.mem + s.memsz <= high.start + high.size, `${s.name} seed ${seed}`).toBe(true);
      }
      expect(plan.bootParams.usableMemoryRange).toEqual([high, low]);
    }
  });
});
