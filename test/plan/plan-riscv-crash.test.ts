// riscv64 crash-kernel (kdump) plans: every segment inside crashk_res, the
// ELF core header as arch/riscv/kernel/machine_kexec_file.c places and fills
// it (kimage's ELF parser and readelf), the "elfcorehdr=0x… " prefix of
// setup_kdump_cmdline, and the /chosen properties of
// of_kexec_alloc_and_setup_fdt (kimage's FDT parser and dtc).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseElf } from "../../src/formats/elf/index.js";
import { findNode, getProp, getString, parseFdt, readCells } from "../../src/fdt/index.js";
import { riscvKdumpCmdline } from "../../src/plan/core/crash.js";
import { buildElfCoreHeaders, CRASH_NOTE_BYTES, DEFAULT_PAGE_OFFSET, vmcoreinfoNoteSize } from "../../src/plan/protocol/elfcore.js";
import { checkSegments, memoryMap, rangeContains, type MemoryMap, type Range } from "../../src/plan/core/memory.js";
import { planRiscv, type RiscvCrashInput, type RiscvPlan, type RiscvPlanInput } from "../../src/plan/arch/riscv.js";
import type { Plan } from "../../src/plan/table.js";
import { fakeRiscvImage, firstKernelDtb, segmentNamed } from "../support/plan-builders.js";
import { haveTool, run } from "../support/real.js";

const M = 1n << 20n;
const G = 1n << 30n;
const RAM: Range = { start: 0x80000000n, size: G };
const CRASH: Range = { start: 0xa0000000n, size: 256n * M };
const FIRMWARE: Range = { start: RAM.start, size: 2n * M };
const CMDLINE = "console=ttyS0 kdump";

/** A RISC-V Image: header (text_offset 2 MiB, image_size 21 MiB) and 8 KiB. */
const image = (): Uint8Array => fakeRiscvImage({ code: true });

/** A first-kernel device tree: 2/2 cells, /memory 1 GiB at 0x80000000, /chosen bootargs. */
const firstDtb = (): Uint8Array => firstKernelDtb({ ram: RAM, compatible: "riscv-virtio", bootargs: "first kernel" });

const KTEXT = { vaddr: 0xffffffff80000000n, paddr: 0x80200000n, size: 0x1500000n };
const crashInput: RiscvCrashInput = {
  cpuNotes: [
    { addr: 0x88000000n, size: CRASH_NOTE_BYTES.riscv64 },
    { addr: 0x88010000n, size: CRASH_NOTE_BYTES.riscv64 },
  ],
  vmcoreinfo: { addr: 0x88020000n, size: vmcoreinfoNoteSize() },
  kernelText: KTEXT,
};

const withCrash: MemoryMap = memoryMap([{ ...RAM, type: "ram" }, { ...CRASH, type: "crash" }]);
const ramOnly: MemoryMap = memoryMap([{ ...RAM, type: "ram" }]);
const initrd = new Uint8Array(300_000).fill(0x5a);

function crashPlan(extra: Partial<RiscvPlanInput> = {}): Promise<RiscvPlan> {
  return planRiscv({ kernel: image(), initrd, cmdline: CMDLINE, dtb: firstDtb(), memory: withCrash, exclude: [FIRMWARE], crash: crashInput, ...extra });
}

const seg = segmentNamed;

/** (address, size) pairs of a 2/2-cell /chosen property. */
function pairs(v: Uint8Array | undefined): bigint[][] {
  const b = v ?? new Uint8Array(0);
  return Array.from({ length: b.length / 16 }, (_, i) => [readCells(b, i * 16, 2), readCells(b, i * 16 + 8, 2)]);
}

const outsideCrash = (plan: Plan, map: MemoryMap) => checkSegments(plan.segments, map, { crash: true }).filter((v) => v.code === "outside-crash");

describe("planRiscv crash: placement", () => {
  it("kernel, elfcorehdr, initrd, dtb inside crashk_res, in load_extra_segments' order", async () => {
    const plan = await crashPlan();
    expect(plan.kind).toBe("crash");
    expect(plan.arch).toBe("riscv64");
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "elfcorehdr", "initrd", "dtb"]);
    expect(outsideCrash(plan, withCrash)).toEqual([]);
    expect(checkSegments(plan.segments, withCrash, { crash: true })).toEqual([]);
    for (const s of plan.segments) expect(rangeContains(CRASH, { start: s.mem, size: s.memsz }), s.name).toBe(true);
    const end = CRASH.start + CRASH.size;
    // kernel: bottom-up, text_offset (2 MiB)-aligned: the region's start; image->start = kbuf.mem
    expect(seg(plan, "kernel").mem).toBe(CRASH.start);
    // elfcorehdr: "kbuf.buf_align = ELF_CORE_HEADER_ALIGN; kbuf.top_down = true;": the region's last page
    const elf = seg(plan, "elfcorehdr");
    expect(elf.bytes.length).toBe(4096);
    expect(elf.mem).toBe(end - 0x1000n);
    // initrd (300000 bytes -> 0x4a000 page-rounded) top-down below it, dtb (one page) below that
    expect(seg(plan, "initrd").mem).toBe(end - 0x1000n - 0x4a000n);
    expect(seg(plan, "dtb").mem).toBe(end - 0x1000n - 0x4a000n - 0x1000n);
    expect(plan.entry).toEqual({ pc: CRASH.start, registers: { a0: 0n, a1: seg(plan, "dtb").mem } });
    expect(plan.bootParams.elfcorehdr).toEqual({ mem: elf.mem, size: 4096n });
    expect(plan.bootParams.usableMemoryRange).toEqual([CRASH]);
    const notes = plan.notes.join("\n");
    expect(notes).toMatch(/crash kernel: every segment inside crashk_res \[0xa0000000, 0xb0000000\)/);
    expect(notes).toMatch(/elfcorehdr at 0xaffff000: .*4 KiB/);
    expect(notes).toMatch(/elfcorehdr=0xaffff000 " prepended/);
  });

  it("the command line is \"elfcorehdr=0x<addr> \" followed by the caller's, in /chosen bootargs too", async () => {
    const plan = await crashPlan();
    const elf = seg(plan, "elfcorehdr");
    expect(plan.cmdline).toBe(`elfcorehdr=0x${elf.mem.toString(16)} ${CMDLINE}`);
    expect(plan.cmdline).toBe("elfcorehdr=0xaffff000 console=ttyS0 kdump");
    expect(plan.cmdline).toBe(riscvKdumpCmdline(CMDLINE, elf.mem));
    const chosen = findNode(parseFdt(seg(plan, "dtb").bytes), "/chosen");
    expect(chosen && getString(chosen, "bootargs")).toBe(plan.cmdline);
  });

  it("no command line: the kernel's is the prefix alone (trailing space kept)", async () => {
    const plan = await crashPlan({ cmdline: undefined });
    expect(plan.cmdline).toBe(`elfcorehdr=0x${seg(plan, "elfcorehdr").mem.toString(16)} `);
  });

  it("refuses a command line that no longer fits COMMAND_LINE_SIZE with the prefix", async () => {
    // strlen("elfcorehdr=0xaffff000 ") = 22; 22 + (1001 + 1) = 1024 fits, one more byte does not
    await expect(crashPlan({ cmdline: "x".repeat(1001) })).resolves.toMatchObject({ kind: "crash" });
    await expect(crashPlan({ cmdline: "x".repeat(1002) })).rejects.toMatchObject({ code: "plan-refused", message: expect.stringMatching(/Appending elfcorehdr=<addr> exceeds cmdline size/) });
  });

  it("an explicit region over a RAM-only map gives the same plan; no region at all is refused", async () => {
    const a = await crashPlan();
    const b = await crashPlan({ memory: ramOnly, crash: { ...crashInput, region: CRASH } });
    expect(b.segments.map((s) => [s.name, s.mem, s.memsz])).toEqual(a.segments.map((s) => [s.name, s.mem, s.memsz]));
    expect(b.segments[1]?.bytes).toEqual(a.segments[1]?.bytes);
    expect(b.cmdline).toBe(a.cmdline);
    await expect(crashPlan({ memory: ramOnly })).rejects.toMatchObject({ code: "crash-no-region" });
  });

  it("the memory map defaults to the device tree's when the region is given", async () => {
    const { memory: _m, ...rest } = { kernel: image(), initrd, cmdline: CMDLINE, dtb: firstDtb(), memory: undefined, exclude: [FIRMWARE], crash: { ...crashInput, region: CRASH } };
    void _m;
    const plan = await planRiscv(rest);
    expect(outsideCrash(plan, withCrash)).toEqual([]);
    expect(seg(plan, "kernel").mem).toBe(CRASH.start);
  });

  it("seeded placement stays inside crashk_res and differs per seed", async () => {
    const runs: bigint[][] = [];
    for (const seed of [1, 2, 3]) {
      const plan = await crashPlan({ seed });
      expect(outsideCrash(plan, withCrash), `seed ${seed}`).toEqual([]);
      expect(plan.cmdline.startsWith(`elfcorehdr=0x${seg(plan, "elfcorehdr").mem.toString(16)} `)).toBe(true);
      expect(seg(plan, "kernel").mem % 0x200000n).toBe(0n);
      runs.push(plan.segments.map((s) => s.mem));
    }
    expect(new Set(runs.map((r) => r.join())).size).toBe(3);
  });

  it("a region too small for the kernel fails with plan-no-hole", async () => {
    await expect(crashPlan({ crash: { ...crashInput, region: { start: CRASH.start, size: 16n * M } }, memory: ramOnly })).rejects.toMatchObject({ code: "plan-no-hole" });
  });

  it("crashk_res + crashk_low_res: segments in crashk_res only, both usable ranges, the header excludes crashk_res only", async () => {
    const low: Range = { start: 0x90000000n, size: 64n * M };
    const high: Range = { start: 0x100000000n, size: 512n * M };
    const map = memoryMap([{ ...RAM, type: "ram" }, { start: 0x100000000n, size: 2n * G, type: "ram" }, { ...low, type: "crash" }, { ...high, type: "crash" }]);
    const plan = await crashPlan({ memory: map });
    for (const s of plan.segments) expect(rangeContains(high, { start: s.mem, size: s.memsz }), s.name).toBe(true);
    expect(plan.bootParams.usableMemoryRange).toEqual([high, low]);
    const chosen = findNode(parseFdt(seg(plan, "dtb").bytes), "/chosen");
    expect(pairs(chosen && getProp(chosen, "linux,usable-memory-range")?.value)).toEqual([
      [high.start, high.size],
      [low.start, low.size],
    ]);
    // prepare_elf_headers: "crash_exclude_mem_range(cmem, crashk_res.start, crashk_res.end)" and nothing else
    const loads = parseElf(seg(plan, "elfcorehdr").bytes, { fileSize: Number.MAX_SAFE_INTEGER }).programHeaders.filter((p) => p.p_type === 1 && p.p_vaddr !== KTEXT.vaddr);
    // crashk_low_res [0x90000000, 0x94000000) stays inside the first PT_LOAD
    expect(loads.map((p) => [p.p_paddr, p.p_memsz])).toEqual([
      [0x80000000n, G],
      [0x120000000n, 0x60000000n],
    ]);
    expect(plan.notes.join("\n")).toMatch(/crashk_low_res \[0x90000000, 0x94000000\) is only passed on/);
  });

  it("more than two regions are refused", async () => {
    const r = (s: bigint): Range => ({ start: s, size: 16n * M });
    await expect(crashPlan({ crash: { ...crashInput, region: [r(0xa0000000n), r(0xa8000000n), r(0xb0000000n)] } })).rejects.toMatchObject({ code: "bad-argument" });
  });

  it("a prebuilt header is placed verbatim", async () => {
    const prebuilt = buildElfCoreHeaders({ arch: "riscv64", cpuNotes: crashInput.cpuNotes, vmcoreinfo: crashInput.vmcoreinfo, ram: [{ start: 0x80000000n, size: 0x1000n }] });
    const plan = await crashPlan({ crash: { ...crashInput, elfcorehdr: prebuilt } });
    expect(seg(plan, "elfcorehdr").bytes).toEqual(prebuilt);
  });

  it("a normal plan is unchanged: kind normal, no elfcorehdr, no crash properties, the command line as given", async () => {
    const plan = await planRiscv({ kernel: image(), initrd, cmdline: CMDLINE, dtb: firstDtb(), memory: ramOnly, exclude: [FIRMWARE] });
    expect(plan.kind).toBe("normal");
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
    expect(plan.cmdline).toBe(CMDLINE);
    expect(plan.bootParams.elfcorehdr).toBeUndefined();
    const chosen = findNode(parseFdt(seg(plan, "dtb").bytes), "/chosen");
    expect(chosen && getProp(chosen, "linux,elfcorehdr")).toBeUndefined();
    expect(chosen && getProp(chosen, "linux,usable-memory-range")).toBeUndefined();
    expect(chosen && getString(chosen, "bootargs")).toBe(CMDLINE);
  });
});

describe("planRiscv crash: the ELF core header", () => {
  it("kimage's ELF parser: ET_CORE, EM_RISCV, notes, kernel text, System RAM minus crashk_res", async () => {
    const plan = await crashPlan();
    const e = parseElf(seg(plan, "elfcorehdr").bytes, { fileSize: Number.MAX_SAFE_INTEGER });
    expect([e.header.e_type, e.header.e_machine, e.phnum]).toEqual([4, 243, 2 + 1 + 1 + 2]);
    const ph = e.programHeaders;
    expect(ph.slice(0, 3).map((p) => [p.p_type, p.p_paddr, p.p_memsz])).toEqual([
      [4, 0x88000000n, 408n],
      [4, 0x88010000n, 408n],
      [4, 0x88020000n, 4132n],
    ]);
    expect([ph[3]?.p_type, ph[3]?.p_vaddr, ph[3]?.p_paddr, ph[3]?.p_memsz]).toEqual([1, KTEXT.vaddr, KTEXT.paddr, KTEXT.size]);
    // p_vaddr = __va(paddr) = paddr - phys_ram_base (0x80000000) + PAGE_OFFSET
    const va = (pa: bigint) => pa - RAM.start + DEFAULT_PAGE_OFFSET.riscv64;
    expect(ph.slice(4).map((p) => [p.p_type, p.p_paddr, p.p_memsz, p.p_vaddr])).toEqual([
      [1, 0x80000000n, 0x20000000n, va(0x80000000n)],
      [1, 0xb0000000n, 0x10000000n, va(0xb0000000n)],
    ]);
  });

  it("pageOffset and physOffset are the caller's when given", async () => {
    const plan = await crashPlan({ crash: { ...crashInput, pageOffset: 0xff60000000000000n, physOffset: 0n } });
    const ph = parseElf(seg(plan, "elfcorehdr").bytes, { fileSize: Number.MAX_SAFE_INTEGER }).programHeaders;
    expect(ph[4]?.p_vaddr).toBe(0xff60000000000000n + 0x80000000n);
  });

  it.runIf(haveTool("readelf"))("readelf -h -l reads the same header (Machine: RISC-V)", async () => {
    const plan = await crashPlan();
    const dir = mkdtempSync(join(tmpdir(), "kimage-rvcrash-"));
    writeFileSync(join(dir, "elfcorehdr"), seg(plan, "elfcorehdr").bytes);
    const out = run("readelf", ["-h", "-l", "-W", join(dir, "elfcorehdr")]);
    expect(out).toMatch(/Class:\s+ELF64/);
    expect(out).toMatch(/Type:\s+CORE \(Core file\)/);
    expect(out).toMatch(/Machine:\s+RISC-V/);
    expect(out).toMatch(/Number of program headers:\s+6/);
    const rows = out
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((t) => t[0] === "NOTE" || t[0] === "LOAD");
    expect(rows.map((t) => [t[0], BigInt(t[3]!), BigInt(t[5]!)])).toEqual([
      ["NOTE", 0x88000000n, 408n],
      ["NOTE", 0x88010000n, 408n],
      ["NOTE", 0x88020000n, 4132n],
      ["LOAD", KTEXT.paddr, KTEXT.size],
      ["LOAD", 0x80000000n, 0x20000000n],
      ["LOAD", 0xb0000000n, 0x10000000n],
    ]);
  });
});

describe("planRiscv crash: /chosen", () => {
  it("linux,elfcorehdr, linux,usable-memory-range, a /memreserve/ for the header (kimage's FDT parser)", async () => {
    const plan = await crashPlan();
    const elf = seg(plan, "elfcorehdr");
    const fdt = parseFdt(seg(plan, "dtb").bytes);
    const chosen = findNode(fdt, "/chosen");
    if (!chosen) throw new Error("no /chosen");
    expect(pairs(getProp(chosen, "linux,elfcorehdr")?.value)).toEqual([[elf.mem, 4096n]]);
    expect(pairs(getProp(chosen, "linux,usable-memory-range")?.value)).toEqual([[CRASH.start, CRASH.size]]);
    const i = seg(plan, "initrd");
    expect(fdt.reservations).toEqual([
      { address: i.mem, size: BigInt(initrd.length) },
      { address: elf.mem, size: 4096n },
    ]);
    expect(getProp(chosen, "linux,booted-from-kexec")).toBeDefined();
  });

  it.runIf(haveTool("dtc"))("dtc -I dtb -O dts shows the same /chosen and /memreserve/", async () => {
    const plan = await crashPlan();
    const elf = seg(plan, "elfcorehdr");
    const dir = mkdtempSync(join(tmpdir(), "kimage-rvcrash-"));
    writeFileSync(join(dir, "kdump.dtb"), seg(plan, "dtb").bytes);
    const dts = run("dtc", ["-q", "-I", "dtb", "-O", "dts", join(dir, "kdump.dtb")]);
    expect(dts).toMatch(new RegExp(`/memreserve/\\s+0x0*${elf.mem.toString(16)} 0x0*1000;`));
    expect(dts).toMatch(new RegExp(`linux,elfcorehdr = <0x0+ 0x${elf.mem.toString(16)} 0x0+ 0x1000>;`));
    expect(dts).toMatch(/linux,usable-memory-range = <0x0+ 0xa0000000 0x0+ 0x10000000>;/);
    expect(dts).toContain(`bootargs = "elfcorehdr=0x${elf.mem.toString(16)} console=ttyS0 kdump";`);
  });
});
