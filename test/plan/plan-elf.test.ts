// The generic ELF plan (kernel/kexec_elf.c kexec_elf_load; riscv's
// elf_find_pbase relocation): synthetic ELFs from the test builder, named
// refusals, and the real Debian ppc64el vmlinux against `readelf -l`.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isKimageError } from "../../src/core/errors.js";
import { planElf, type ElfPlanInput } from "../../src/plan/arch/elf.js";
import { checkSegments, memoryMap } from "../../src/plan/core/memory.js";
import { buildElf, type BuildSegment } from "../support/elf-builder.js";
import { rejectionCode } from "../support/plan-builders.js";
import { haveTool, readBytes, requireReal, run } from "../support/real.js";

const EM_PPC64 = 21;
const EM_RISCV = 243;
const MiB = 0x100000n;
const ram = (start: bigint, size: bigint) => memoryMap([{ start, size, type: "ram" }]);
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

/** A ppc64-like kernel: virtual 0xc000…, physical p_paddr. */
function ppcElf(segments: BuildSegment[], entry = 0xc000000000000000n, machine = EM_PPC64) {
  return buildElf({ class: 64, le: true, machine, entry, segments }).bytes;
}

const code = rejectionCode;

describe("planElf: each PT_LOAD at p_paddr", () => {
  const two: BuildSegment[] = [
    { vaddr: 0xc000000000000000n, paddr: 0x0n, data: fill(0x1800, 0x11), memsz: 0x5000n, align: 0x10000n },
    { vaddr: 0xc000000000100000n, paddr: 0x100000n, data: fill(0x100, 0x22), memsz: 0x100n, align: 0x1000n },
  ];

  it("segments at p_paddr, bytes p_filesz from p_offset, memsz p_memsz page-rounded, entry through p_vaddr", async () => {
    const kernel = ppcElf(two, 0xc000000000000100n);
    const plan = await planElf({ kernel, memory: ram(0n, 256n * MiB), arch: "ppc64", cmdline: "root=/dev/sda" });
    expect(plan.arch).toBe("ppc64");
    expect(plan.segments.map((s) => [s.name, s.mem, s.memsz, s.bytes.length])).toEqual([
      ["PT_LOAD[0]", 0n, 0x5000n, 0x1800],
      ["PT_LOAD[1]", 0x100000n, 0x1000n, 0x100],
    ]);
    // The bytes are views of the file at p_offset.
    expect(plan.segments[0]?.bytes.every((b) => b === 0x11)).toBe(true);
    expect(plan.segments[1]?.bytes[0]).toBe(0x22);
    expect(plan.entry).toEqual({ pc: 0x100n, registers: {} });
    expect(plan.cmdline).toBe("root=/dev/sda");
    expect(plan.bootParams.lowestLoadAddr).toBe(0n);
  });

  it("the initrd: ppc64 bottom-up from the last p_paddr, page-aligned, below the RMA when given", async () => {
    const kernel = ppcElf(two);
    const initrd = fill(5000, 0x33);
    const p = await planElf({ kernel, initrd, memory: ram(0n, 256n * MiB), arch: "ppc64" });
    expect(p.segments.map((s) => s.name)).toEqual(["PT_LOAD[0]", "PT_LOAD[1]", "initrd"]);
    expect(p.segments[2]?.mem).toBe(0x101000n);
    const low = await planElf({ kernel, initrd, memory: ram(0n, 512n * MiB), arch: "ppc64", exclude: [{ start: 0x101000n, size: 0x10000000n }], rmaSize: 0x20000000n });
    expect(low.segments[2]?.mem).toBe(0x10101000n);
    expect(await code(planElf({ kernel, initrd, memory: ram(0n, 512n * MiB), arch: "ppc64", exclude: [{ start: 0x101000n, size: 0x10000000n }], rmaSize: 0x10000000n }))).toBe("plan-no-hole");
  });

  it("p_filesz > p_memsz loads only p_memsz bytes", async () => {
    const kernel = ppcElf([{ vaddr: 0xc000000000000000n, paddr: 0n, data: fill(0x3000, 1), memsz: 0x2000n }]);
    const plan = await planElf({ kernel, memory: ram(0n, 16n * MiB) });
    expect(plan.segments[0]?.bytes.length).toBe(0x2000);
    expect(plan.segments[0]?.memsz).toBe(0x2000n);
  });

  it("ELF32 big-endian, a physical e_entry, generic", async () => {
    const kernel = buildElf({ class: 32, le: false, machine: 20, entry: 0x400010n, segments: [{ vaddr: 0x400000n, data: fill(64, 9), memsz: 0x10000n }] }).bytes;
    const plan = await planElf({ kernel, memory: ram(0n, 64n * MiB) });
    expect(plan.arch).toBe("generic");
    expect(plan.segments[0]?.mem).toBe(0x400000n);
    expect(plan.entry.pc).toBe(0x400010n);
  });

  it("PT_LOADs with p_memsz 0 are skipped with a note", async () => {
    const kernel = ppcElf([...two, { vaddr: 0xc000000000200000n, paddr: 0x200000n, data: new Uint8Array(0), memsz: 0n }]);
    const plan = await planElf({ kernel, memory: ram(0n, 16n * MiB) });
    expect(plan.segments.length).toBe(2);
    expect(plan.notes.join("\n")).toMatch(/PT_LOAD\[2\] has p_memsz 0/);
  });

  it("checkSegments agrees with every plan it returns", async () => {
    const map = ram(0n, 256n * MiB);
    const plan = await planElf({ kernel: ppcElf(two), initrd: fill(10, 1), memory: map });
    expect(checkSegments(plan.segments, map)).toEqual([]);
  });
});

describe("planElf: named refusals", () => {
  const one = (paddr: bigint, memsz = 0x2000n, align = 0x1000n): BuildSegment => ({ vaddr: 0xc000000000000000n + paddr, paddr, data: fill(0x100, 1), memsz, align });
  const plan = (kernel: Uint8Array, over: Partial<ElfPlanInput> = {}) => planElf({ kernel, memory: ram(0n, 16n * MiB), ...over });

  it("overlapping PT_LOADs", async () => {
    expect(await code(plan(ppcElf([one(0n, 0x3000n), one(0x2000n)])))).toBe("plan-elf-overlap");
  });
  it("outside RAM (partly, or in a hole between RAM ranges)", async () => {
    expect(await code(plan(ppcElf([one(0xfff000n)])))).toBe("plan-elf-outside-ram");
    const holes = memoryMap([
      { start: 0n, size: MiB, type: "ram" },
      { start: MiB, size: 0x1000n, type: "reserved" },
      { start: MiB + 0x1000n, size: MiB, type: "ram" },
    ]);
    expect(await code(plan(ppcElf([one(MiB - 0x1000n)]), { memory: holes }))).toBe("plan-elf-outside-ram");
  });
  it("on an excluded range", async () => {
    expect(await code(plan(ppcElf([one(0x10000n)]), { exclude: [{ start: 0x11000n, size: 1n }] }))).toBe("plan-elf-excluded");
  });
  it("p_paddr not a multiple of max(p_align, PAGE_SIZE)", async () => {
    expect(await code(plan(ppcElf([one(0x1000n, 0x1000n, 0x10000n)])))).toBe("plan-elf-misaligned");
    expect(await code(plan(ppcElf([{ vaddr: 0xc000000000000800n, paddr: 0x800n, data: fill(16, 1) }])))).toBe("plan-elf-misaligned");
  });
  it("an entry outside every PT_LOAD", async () => {
    expect(await code(plan(ppcElf([one(0n)], 0xc000000000100000n)))).toBe("plan-elf-entry");
  });
  it("kexec's ELF checks and elf_check_arch", async () => {
    // ppc64 wants EM_PPC64.
    expect(await code(plan(ppcElf([one(0n)], 0xc000000000000000n, EM_RISCV), { arch: "ppc64" }))).toBe("plan-elf-rejected");
    // "Requires an ELF interpreter."
    expect(await code(plan(ppcElf([one(0n), { type: 3, vaddr: 0n, data: fill(8, 0x2f) }])))).toBe("plan-elf-rejected");
    // "Not an ELF executable." (ET_REL)
    expect(await code(plan(buildElf({ class: 64, le: true, type: 1, segments: [one(0n)] }).bytes))).toBe("plan-elf-rejected");
    const e = await plan(buildElf({ class: 64, le: true, type: 1, segments: [one(0n)] }).bytes).catch((x: unknown) => x);
    expect(isKimageError(e) && e.message).toMatch(/Not an ELF executable\./);
  });
  it("no PT_LOAD", async () => {
    expect(await code(plan(ppcElf([{ type: 4, vaddr: 0n, data: fill(16, 0) }])))).toBe("plan-elf-no-load");
  });
  it("not an ELF at all", async () => {
    expect(await code(plan(new Uint8Array(4096)))).toBe("unknown-format");
  });
});

describe("planElf arch riscv64: elf_find_pbase relocation", () => {
  // A RISC-V vmlinux links at 0xffffffff80000000 with p_paddr 0; RAM starts at 0x80000000.
  const kernel = buildElf({
    class: 64,
    le: true,
    machine: EM_RISCV,
    entry: 0xffffffff80000000n,
    segments: [
      { vaddr: 0xffffffff80000000n, paddr: 0n, data: fill(0x2000, 7), memsz: 0x3000n, align: 0x1000n },
      { vaddr: 0xffffffff80400000n, paddr: 0x400000n, data: fill(0x100, 8), memsz: 0x1000n, align: 0x1000n },
    ],
  }).bytes;
  const map = ram(0x80000000n, 64n * MiB);

  it("moves every PT_LOAD by new_pbase - lowest p_paddr; image->start = e_entry - lowest_vaddr + new_pbase", async () => {
    const p = await planElf({ kernel, memory: map, arch: "riscv64", exclude: [{ start: 0x80000000n, size: 0x200000n }], initrd: fill(100, 1) });
    // The PMD-aligned hole of ALIGN(file size, PAGE_SIZE) above the firmware: 0x80200000.
    expect(p.segments.map((s) => [s.name, s.mem])).toEqual([
      ["PT_LOAD[0]", 0x80200000n],
      ["PT_LOAD[1]", 0x80600000n],
      ["initrd", 0x84000000n - 0x1000n],
    ]);
    expect(p.entry.pc).toBe(0x80200000n);
    expect(checkSegments(p.segments, map)).toEqual([]);
  });

  it("a RISC-V file is rejected as ppc64, and a ppc64 one as riscv64", async () => {
    expect(await code(planElf({ kernel, memory: map, arch: "ppc64" }))).toBe("plan-elf-rejected");
    expect(await code(planElf({ kernel: ppcElf([{ vaddr: 0xc000000000000000n, paddr: 0n, data: fill(16, 1) }]), memory: map, arch: "riscv64" }))).toBe("plan-elf-rejected");
  });
});

const ppc = requireReal("ppc64el kernel", (f) => f.arch === "ppc64el" && f.kind === "kernel");
const cfg = requireReal("ppc64el config", (f) => f.arch === "ppc64el" && f.kind === "config");

describe.skipIf(ppc.length === 0 || !haveTool("readelf"))("planElf on the real Debian ppc64el vmlinux, against readelf -l", () => {
  for (const f of ppc) {
    it(`${f.suite}: one PT_LOAD at p_paddr with readelf's offset, sizes and entry`, async () => {
      const out = run("readelf", ["-lhW", f.abs]);
      const load = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+\S+\s+0x([0-9a-f]+)\s*$/m.exec(out);
      const entry = /Entry point address:\s+0x([0-9a-f]+)/.exec(out);
      expect(out.match(/^\s*LOAD\s/gm)?.length).toBe(1);
      if (!load || !entry) throw new Error(`cannot read readelf output:\n${out}`);
      const [offset, vaddr, paddr, filesz, memsz, align] = load.slice(1).map((x) => BigInt(`0x${x}`)) as [bigint, bigint, bigint, bigint, bigint, bigint];
      // The kernel's page size from its own config.
      const config = cfg.find((c) => c.suite === f.suite && c.package === f.package);
      const page = config && /^CONFIG_PPC_64K_PAGES=y$/m.test(readFileSync(config.abs, "utf8")) ? 0x10000n : 0x1000n;
      const bytes = readBytes(f.abs);
      const map = ram(0n, 2048n * MiB);
      const plan = await planElf({ kernel: bytes, memory: map, arch: "ppc64", pageSize: page, initrd: fill(4096, 1) });
      const [k, initrd] = plan.segments;
      if (!k || !initrd) throw new Error("segments missing");
      expect(k.mem).toBe(paddr);
      expect(BigInt(k.bytes.length)).toBe(filesz);
      expect(BigInt(k.bytes.byteOffset - bytes.byteOffset)).toBe(offset);
      expect(k.memsz).toBe(((memsz + page - 1n) / page) * page);
      expect(k.align).toBe(align > page ? align : page);
      // e_entry 0xc000000000000000 = p_vaddr: the load address, which powerpc's purgatory jumps to.
      expect(plan.entry.pc).toBe(BigInt(`0x${entry[1]}`) - vaddr + paddr);
      expect(plan.entry.pc).toBe(0n);
      // The initrd bottom-up right after the kernel (kbuf.buf_min = the last p_paddr, 0).
      expect(initrd.mem).toBe(k.mem + k.memsz);
      expect(checkSegments(plan.segments, map, { pageSize: page })).toEqual([]);
    });
  }
});
